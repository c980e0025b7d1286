"""Every CPU lowering against REF, on graphs hypothesis generates (cases.py): one test per op type the CPU
lowering registry holds, so a new lowering is covered as soon as it is registered, and fails here until cases.py
has a generator for it.

Each case runs on REF and on the CPU device (f32 inference precision): a profiled run (every step eagerly) and
two plain runs (the first compiles the traced segments, the second runs what it chose). Outputs must have REF's
element type and shape, floats REF's values within the case's tolerance (NaN where REF has NaN), everything else
equal; the inputs must come back unchanged (nothing writes into the caller's arrays). Across the examples of an
op type, some must have taken the fast path: a generator that only ever produces cases the lowering declines
tests nothing.

Reproducible: derandomized, no example database. For a longer local hunt: IRFORGE_DIFF_EXAMPLES scales the example
counts (e.g. 10), IRFORGE_DIFF_RANDOM=1 draws other examples than CI's, IRFORGE_DIFF_VERBOSE=1 (with -s) prints each
case and how its steps ran, IRFORGE_DIFF_TRACE=1 (with -s) prints each case before it runs (to name a case that
crashes the process). Known REF deviations the comparison allows for are named where a generator draws them
(cases.py: Clamp on bf16, MaxPool's lowest value in bf16)."""
from __future__ import annotations

import os
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from irforge.errors import GraphError
from irforge.ir.graph import Model
from irforge.runtime.devices.cpu import CPUExecutable
from irforge.runtime.devices.cpu.native.build import NUMPY_OPS, native_types
from irforge.runtime.devices.cpu.registry import registered_types
from tests.runtime.cpu.cases import BF16, GENERATORS, INT8_ENV, Case, int8_pattern, through_view
from tests.runtime.cpu.helpers import cpu_config, graph
from tests.util import run_ref

SCALE = float(os.environ.get("IRFORGE_DIFF_EXAMPLES", "1"))
VERBOSE = os.environ.get("IRFORGE_DIFF_VERBOSE") == "1"  # print every case (with -s)
DERANDOMIZE = os.environ.get("IRFORGE_DIFF_RANDOM") != "1"  # 1: fresh examples on every run (a hunt, not CI)
EXAMPLES = 25  # per op type
MORE = {  # op types with many forms get more
    "Convolution": 60, "GroupConvolution": 40, "ConvolutionBackpropData": 50, "GroupConvolutionBackpropData": 40,
    "MatMul": 80, "ScaledDotProductAttention": 80, "StridedSlice": 50, "Slice": 50, "Gather": 50, "Pad": 40,
    "MaxPool": 60, "AvgPool": 60, "Interpolate": 60, "Reshape": 40, "Convert": 60, "Add": 40, "Multiply": 40,
    "Select": 30, "FakeQuantize": 40, "MVN": 40, "Broadcast": 40, "INT8": 60,
}
BF16_LOWEST = float(ml_dtypes.finfo(ml_dtypes.bfloat16).min)
MIN_FAST = 0.2  # share of an op type's examples that must run its lowering (not REF's kernel)

def _comparable(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind in "fV" else a


def _compare(got: np.ndarray, want: np.ndarray, case: Case, what: str) -> None:
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, REF {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, REF {want.shape}"
    if want.dtype.kind not in "fV" or (case.rtol == 0 and case.atol == 0 and not case.allowed_off):
        g, w = _comparable(got), _comparable(want)
        same = (g == w) | (np.isnan(g) & np.isnan(w)) if g.dtype.kind == "f" else g == w
        if not np.all(same):
            bad = np.argwhere(~same)[:5].tolist()
            raise AssertionError(f"{what}: {int(np.sum(~same))} of {g.size} elements differ, e.g. at {bad}: "
                                 f"{[g[tuple(i)] for i in bad]} vs REF {[w[tuple(i)] for i in bad]}")
        return
    g, w = _comparable(got), _comparable(want)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    assert np.array_equal(nan_g, nan_w), f"{what}: NaN at {np.argwhere(nan_g != nan_w)[:5].tolist()} differs from REF"
    finite = np.isfinite(w)
    inf_ok = np.array_equal(g[~finite & ~nan_w], w[~finite & ~nan_w])
    assert inf_ok, f"{what}: infinities differ from REF"
    scale = max(1.0, float(np.max(np.abs(w[finite])))) if finite.any() else 1.0
    limit = case.atol * scale + case.rtol * np.abs(w)
    err = np.where(finite, np.abs(g - w), 0.0)
    off = err > limit
    n_off = int(np.sum(off))
    if n_off and (n_off > case.allowed_off or float(err.max()) > case.loose):
        k = np.unravel_index(int(np.argmax(err - limit)), err.shape) if err.ndim else ()
        raise AssertionError(f"{what}: {n_off} of {g.size} elements beyond rtol {case.rtol} / atol {case.atol} "
                             f"(x{scale:.3g}); worst at {list(k)}: {g[k]!r} vs REF {w[k]!r}")


def _bf16_lowest(a: np.ndarray) -> np.ndarray:
    """A bf16 array with -inf read as bf16's lowest finite value (REF's MaxPool writes f32's lowest, -inf in bf16)."""
    if a.dtype != BF16:
        return a
    f = a.astype(np.float32)
    return np.where(f == -np.inf, np.float32(BF16_LOWEST), f).astype(BF16)


def _run(case: Case, op_type: str, native: bool = False) -> bool:
    """Compare CPU with REF on the case; whether a step of `op_type` ran a CPU lowering (not REF's kernel), or
    with `native`, whether the plan ran on the native executor."""
    try:
        model: Model = graph(case.build, *case.inputs)
    except GraphError:
        if case.extra.get("may_reject"):
            reject()  # the generator drew a combination the op's spec refuses
        raise
    inputs = list(case.inputs)
    originals = [np.array(a, copy=True) for a in inputs]
    try:
        want = run_ref(model, inputs)
    except GraphError:
        if case.extra.get("may_reject"):
            reject()
        raise
    if case.extra.get("ref_dtype_bug"):  # a known REF kernel bug in the output type (see the generator)
        want = [w.astype(o.element_type.dtype) for w, o in zip(want, model.outputs)]
    if case.extra.get("ref_bf16_lowest"):  # a known REF deviation (see the generator)
        want = [_bf16_lowest(w) for w in want]
    if os.environ.get("IRFORGE_DIFF_TRACE"):  # a case that crashes the process is named before it runs
        print(case.label, [(a.dtype, a.shape, a.strides) for a in inputs], flush=True)
    executable = CPUExecutable(model, cpu_config())
    profiled = executable.create_runner(profile=True)
    got = profiled.run(inputs)
    counts = profiled.perf_counts()
    steps = " / ".join(f"{p.node_type}:{p.exec_type}" for p in counts)
    what = f"{case.label} [{steps}]"
    assert len(got) == len(want)
    if case.extra.get("ref_bf16_lowest"):  # (also where the CPU runs REF's kernel)
        got = [_bf16_lowest(g) for g in got]
    for i, (g, w) in enumerate(zip(got, want)):
        _compare(g, w, case, f"{what} output {i} (profiled)")
    plain = executable.create_runner()
    for run in range(2):
        outs = plain.run(inputs)
        if case.extra.get("ref_bf16_lowest"):
            outs = [_bf16_lowest(g) for g in outs]
        for i, (g, w) in enumerate(zip(outs, want)):
            _compare(g, w, case, f"{what} output {i} (plain run {run})")
    for a, b in zip(inputs, originals):
        assert np.array_equal(_comparable(a), _comparable(b), equal_nan=a.dtype.kind in "fV"), \
            f"{what}: an input array was written into"
    if VERBOSE:
        print(what)
    if native:
        if VERBOSE and executable.native_declined:
            print(f"{case.label}: not native: {executable.native_declined}")
        return all(getattr(p, "native", False) for p in executable.plans.values())
    if op_type == "INT8":
        return any("_I8" in p.exec_type for p in counts)
    return any(p.node_type == op_type and p.exec_type != "ref" for p in counts)


NATIVE_MIN = 0.2  # share of an op type's examples the native executor must run (the rest fall back to torch)
# the generator seldom draws what the native lowering takes (integer-factor nearest upsampling: test_native.py)
# NumPy steps run the IR op's own reference kernel, over f32/int cases only: their plumbing is what is checked
# SoftMax-1 is Softmax-8's kernel with a non-negative axis (its own type: test_nan.py's and the zoo's cases)
NATIVE_ALIASES = {"SoftMax": "Softmax"}
NATIVE_MIN_OF = {"Interpolate": 0.0, **{t: 0.0 for t in NUMPY_OPS}}


@pytest.mark.native
@pytest.mark.parametrize("op_type", native_types())
def test_native_lowering_matches_ref(op_type: str) -> None:
    """The native executor (native/ops.py) on the same generated cases: every op type it lowers, against REF,
    where it takes the case (f32 graphs; the rest fall back to the torch executor, checked by the test above)."""
    generator = GENERATORS.get(NATIVE_ALIASES.get(op_type, op_type))
    assert generator is not None, f"no case generator for {op_type} in tests/runtime/cpu/cases.py"
    stats = [0, 0]

    @settings(max_examples=_examples(op_type), deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(data=st.data())
    def check(data: Any) -> None:
        case = through_view(data.draw, generator(data.draw, op_type))
        if op_type not in NUMPY_OPS and any(np.asarray(a).dtype != np.float32 for a in case.inputs):
            reject()  # the native executor computes f32 graphs only (others go to the torch executor)
        stats[0] += 1
        stats[1] += _run(case, op_type, native=True)

    check()
    total, native = stats
    if VERBOSE:
        print(f"{op_type}: {native} of {total} examples ran natively")
    assert total and native >= NATIVE_MIN_OF.get(op_type, NATIVE_MIN) * total, \
        f"{op_type}: only {native} of {total} examples ran on the native executor"


def _examples(op_type: str) -> int:
    return max(1, int(MORE.get(op_type, EXAMPLES) * SCALE))


def test_every_lowered_op_type_has_a_case_generator() -> None:
    missing = sorted(set(registered_types()) - set(GENERATORS))
    assert not missing, f"CPU lowerings without a case generator in tests/runtime/cpu/cases.py: {missing}"


@pytest.mark.parametrize("op_type", registered_types())
def test_lowering_matches_ref(op_type: str) -> None:
    generator = GENERATORS.get(op_type)
    assert generator is not None, f"no case generator for {op_type} in tests/runtime/cpu/cases.py"
    stats = [0, 0]  # examples, examples on the fast path

    @settings(max_examples=_examples(op_type), deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(data=st.data())
    def check(data: Any) -> None:
        case = through_view(data.draw, generator(data.draw, op_type))
        fast = _run(case, op_type)
        stats[0] += 1
        stats[1] += fast

    check()
    total, fast = stats
    if VERBOSE:
        print(f"{op_type}: {fast} of {total} examples on the fast path")
    assert total and fast >= MIN_FAST * total, \
        f"{op_type}: only {fast} of {total} examples ran the CPU lowering (the generator misses its fast path)"


def test_int8_patterns_match_ref(monkeypatch: pytest.MonkeyPatch) -> None:
    """The INT8 pattern lowerings (registered with `lowers_first` for Convolution, MatMul, Add, MaxPool and data
    movement) on FakeQuantize chains into a layer with i8 weights."""
    for k, v in INT8_ENV.items():
        monkeypatch.setenv(k, v)
    stats = [0, 0]

    @settings(max_examples=_examples("INT8"), deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(data=st.data())
    def check(data: Any) -> None:
        case = int8_pattern(data.draw, "INT8")
        stats[0] += 1
        stats[1] += _run(case, "INT8")

    check()
    assert stats[1] >= MIN_FAST * stats[0], f"only {stats[1]} of {stats[0]} INT8 patterns ran INT8 kernels"


# ---------------------------------------------------------------- what the generators found (fixed), as fixed cases
def _f32(*shape: int) -> np.ndarray:
    return np.random.default_rng(5).uniform(-3, 3, shape).astype(np.float32)


def _regressions() -> dict[str, tuple[str | None, Case]]:
    """name -> (op type whose lowering must run, None: the lowering may decline; the case)."""
    from tests.runtime.cpu.cases import ints, node, op

    x4 = _f32(1, 2, 3, 4)
    reversed_x = np.ascontiguousarray(x4[::-1, ::-1])[::-1, ::-1]  # negative strides
    mask_dead_rows = np.array([[True, True, False], [False, False, False]])
    float_mask = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    big = np.array(2526497193922298463, np.int64)
    cases = {
        # a caller's array with negative strides: torch.from_numpy refused it
        "reversed_input": ("Relu", Case([reversed_x], lambda p: op("Relu", p))),
        # a 0-d bf16 input came back 1-d (np.ascontiguousarray makes 0-d arrays 1-d)
        "bf16_scalar": ("Abs", Case([np.array(-1.5, BF16)], lambda p: op("Abs", op("Multiply", p, np.array(
            1, BF16))))),
        # nearest Interpolate to an empty output: the plan-time probe crashed the compile
        "interpolate_empty": ("Multiply", Case([_f32(1, 1, 3)], lambda p: op("Interpolate", op(
            "Multiply", p, np.float32(1)), np.array([0.25], np.float32), ints(1), mode="nearest",
            shape_calculation_mode="scales"))),
        # LRN on strided memory: torch's kernel views its input
        "lrn_strided": ("LRN", Case([np.ascontiguousarray(_f32(1, 3, 2, 2, 4).T).T], lambda p: op(
            "LRN", p, ints(1), alpha=1e-4, beta=0.75, bias=1.0, size=3), rtol=1e-5, atol=1e-5)),
        # query rows whose keys are all masked: NaN (the spec's softmax over -inf only), torch gives 0
        "sdpa_dead_rows_bool": ("ScaledDotProductAttention", Case(
            [_f32(2, 4), _f32(3, 4), _f32(3, 2)], lambda q, k, v: op(
                "ScaledDotProductAttention", q, k, v, mask_dead_rows, causal=False), rtol=1e-5, atol=1e-5)),
        "sdpa_dead_rows_runtime_float": ("ScaledDotProductAttention", Case(
            [_f32(2, 4), _f32(3, 4), _f32(3, 2), float_mask], lambda q, k, v, m: op(
                "ScaledDotProductAttention", q, k, v, m, causal=False), rtol=1e-5, atol=1e-5)),
        "sdpa_scalar_false_mask": ("ScaledDotProductAttention", Case(
            [_f32(1, 1), _f32(1, 1), _f32(1, 1)], lambda q, k, v: op(
                "ScaledDotProductAttention", q, k, v, np.array(False), causal=False))),
        # one output: the step returned torch.split's 1-tuple as the value
        "split_into_one": ("Split", Case([_f32(3, 2)], lambda p: list(node("Split", op("Multiply", p, np.float32(1)),
                                                                         np.array(0), num_splits=1).outputs))),
        "variadic_split_one": ("VariadicSplit", Case([np.array([[1, 2]], np.int32)], lambda p: list(node(
            "VariadicSplit", p, np.array(1), ints(-1)).outputs))),
        # f16 squares overflowed (inf) where the result is finite
        "reduce_l2_f16": ("ReduceL2", Case([np.array([200.0, 180.0], np.float16)], lambda p: op(
            "ReduceL2", p, ints(0), keep_dims=False), rtol=2e-3, atol=2e-3)),
        # output padding 1 with stride 1, dilation 2: oneDNN's deconvolution refused it (it takes an output padding
        # below the stride only); now computed with less padding and cropped, or (here, the output reaching past
        # the full result) on the reference kernel
        "deconv_output_padding_dilation": (None, Case([_f32(1, 1, 3)], lambda p: op(
            "ConvolutionBackpropData", p, _f32(1, 1, 2), strides=[1], dilations=[2], pads_begin=[0], pads_end=[0],
            output_padding=[1], auto_pad="explicit"), rtol=1e-4, atol=1e-4)),
        # a large int64 pad value went through a double
        "pad_int64_value": ("Pad", Case([np.array([7], np.int64)], lambda p: op(
            "Pad", op("Multiply", p, np.array(1, np.int64)), ints(0), ints(1), big, pad_mode="constant"))),
        # ATen's avg_pool3d: no bf16 kernel (the lowering declines) / an input smaller than the kernel
        "avgpool3d_bf16": ("Multiply", Case([_f32(1, 1, 2, 2, 2).astype(BF16)], lambda p: op("AvgPool", op(
            "Multiply", p, np.array(1, BF16)), kernel=[2, 2, 2], strides=[1, 1, 1], pads_begin=[0, 0, 0],
            pads_end=[0, 0, 0], **{"exclude-pad": False}), rtol=1.6e-2, atol=1.6e-2)),
        "avgpool3d_input_below_kernel": ("AvgPool", Case([_f32(1, 1, 1, 1, 1)], lambda p: op(
            "AvgPool", p, kernel=[1, 1, 3], strides=[1, 1, 1], pads_begin=[0, 0, 1], pads_end=[0, 0, 1],
            **{"exclude-pad": True}), rtol=1e-5, atol=1e-5)),
        # bf16 MaxPool padded with f32's lowest: overflow error
        "maxpool_bf16_padded": ("MaxPool", Case([_f32(1, 1, 2, 1, 1).astype(BF16)], lambda p: op(
            "MaxPool", p, kernel=[1, 1, 1], strides=[2, 1, 1], pads_begin=[0, 0, 0], pads_end=[0, 0, 0],
            rounding_type="ceil"), extra={"ref_bf16_lowest": True})),
        # a dilated window over padding only: -inf (ATen's padding), REF the lowest finite value
        "maxpool_padding_only_window": ("MaxPool", Case([_f32(1, 1, 1, 1, 1)], lambda p: op(
            "MaxPool", p, kernel=[1, 1, 2], strides=[1, 1, 1], pads_begin=[0, 0, 0], pads_end=[0, 0, 0],
            dilations=[1, 1, 2], auto_pad="same_upper"))),
    }
    return {k: (t, Case(c.inputs, c.build, c.rtol, c.atol, k, c.allowed_off, c.loose, c.extra))
            for k, (t, c) in cases.items()}


@pytest.mark.parametrize("name", sorted(_regressions()))
def test_found_by_the_generators(name: str) -> None:
    op_type, case = _regressions()[name]
    fast = _run(case, op_type or "")
    assert op_type is None or fast, f"{name}: no {op_type} step ran its CPU lowering"
