"""The CPU device's NaN rule (irforge/runtime/devices/cpu/__init__.py, "NaN"), the same in f32 and bf16:

* NaN propagates as in REF: an output REF computes as NaN is NaN on the CPU device (element-wise ops, Sign,
  ReLU/Clamp run by ATen, reductions, Softmax, normalizations, convolutions and matrix products with or without
  sigmoid-like activations), also against ONNX Runtime for the ops where ONNX Runtime propagates;
* MaxPool skips NaN as REF and OpenVINO do (a NaN never wins its window; a window of NaN only gives the lowest
  finite value), whether ATen or oneDNN pools;
* the exception: a ReLU, Clamp or HSigmoid that oneDNN computes (a convolution's fused post-op, or any of them
  inside a compiled oneDNN Graph segment) gives its lower bound for NaN (0, Clamp's min), as OpenVINO's CPU plugin
  does for every ReLU/Clamp.
* the native executor (these tests otherwise pin the torch executor): the same rule, where every ReLU, Clamp and
  HSigmoid is computed by oneDNN (a bound for NaN: ReLU 0 and Clamp its min as OpenVINO gives, HSigmoid 1 where
  OpenVINO gives 0), and a Softmax row holding NaN is NaN only
  where the NaN was (0 elsewhere), as oneDNN's softmax and OpenVINO's CPU plugin give, where REF's row is all NaN
  (test_native_executor_nan: REF or, for those, OpenVINO is the oracle).
Segments compile at a plan's first inference: the runs below start with finite inputs, as a real model does."""
from __future__ import annotations

from collections.abc import Callable
import numpy as np
import pytest

from irforge.ir.graph import Output
from irforge.runtime.devices.cpu import CPUExecutable
from tests.runtime.cpu.helpers import cpu_config, graph, op, run_cpu
from tests.runtime.cpu.test_ops_compute import conv_attrs
from tests.util import run_ort, run_ref

RNG = np.random.default_rng(23)
PRECISIONS = ["f32", "bf16"]


def _randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _with_nan(x: np.ndarray, plane: bool = True) -> np.ndarray:
    """`x` with a few scattered NaNs and (`plane`) one whole channel of NaN, never every element."""
    y = x.copy()
    flat = y.reshape(-1)
    flat[RNG.choice(flat.size, 2 if not plane else max(2, flat.size // 40), replace=False)] = np.nan
    if plane and y.ndim == 4:
        y[0, -1] = np.nan
    return y


W = _randn(8, 6, 3, 3) * 0.3
B = _randn(1, 8, 1, 1) * 0.1
FC, FC_B = _randn(20, 16) * 0.3, _randn(16) * 0.1
PLANES = (1, 6, 7, 8)
MAXPOOL = dict(strides=[2, 2], pads_begin=[1, 1], pads_end=[1, 1], kernel=[3, 3], rounding_type="floor",
               auto_pad="explicit")
AVGPOOL = {"strides": [2, 2], "pads_begin": [0, 0], "pads_end": [0, 0], "kernel": [2, 2], "rounding_type": "floor",
           "auto_pad": "explicit", "exclude-pad": False}


def _conv(p: Output) -> Output:
    return op("Add", op("Convolution", p, W, **conv_attrs(2, 1, 1, (1, 1))), B)


def _axes(*a: int) -> np.ndarray:
    return np.array(a, np.int64)


PROPAGATING: dict[str, tuple[Callable[[Output], Output], tuple[int, ...]]] = {  # convolutions: scattered NaN only
    "Relu": (lambda p: op("Relu", p), PLANES),
    "Clamp": (lambda p: op("Clamp", p, min=-0.5, max=0.5), PLANES),
    "Sign": (lambda p: op("Sign", p), PLANES),
    "HSigmoid": (lambda p: op("HSigmoid", p), PLANES),
    "HSwish": (lambda p: op("HSwish", p), PLANES),
    "Sigmoid": (lambda p: op("Sigmoid", p), PLANES),
    "Maximum": (lambda p: op("Maximum", p, np.zeros((1, 6, 1, 1), np.float32)), PLANES),
    "Minimum": (lambda p: op("Minimum", p, np.zeros((1, 6, 1, 1), np.float32)), PLANES),
    "ReduceMax": (lambda p: op("ReduceMax", p, _axes(3), keep_dims=True), PLANES),
    "ReduceMin": (lambda p: op("ReduceMin", p, _axes(2), keep_dims=False), PLANES),
    "ReduceMean": (lambda p: op("ReduceMean", p, _axes(3), keep_dims=True), PLANES),
    "SoftMax": (lambda p: op("SoftMax", p, axis=3), PLANES),
    # per row, not per plane: the scattered NaNs reach every 7x8 plane for some draws, leaving no number to check
    "MVN": (lambda p: op("MVN", p, _axes(3), normalize_variance=True, eps=1e-5, eps_mode="inside_sqrt"), PLANES),
    "Convolution": (_conv, PLANES),
    "Convolution+Sigmoid": (lambda p: op("Sigmoid", _conv(p)), PLANES),
    "Convolution+HSwish": (lambda p: op("HSwish", _conv(p)), PLANES),
    "Convolution+PRelu": (lambda p: op("PRelu", _conv(p), np.array([0.1], np.float32)), PLANES),
    "Convolution+AvgPool": (lambda p: op("AvgPool", _conv(p), **AVGPOOL), PLANES),
    "MatMul+bias+Relu": (lambda p: op("Relu", op("Add", op("MatMul", p, FC), FC_B)), (6, 20)),
}


def _eager_and_compiled(build: Callable[[Output], Output], shape: tuple[int, ...], precision: str, plane: bool
                        ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, CPUExecutable]:
    """REF's output on the NaN input, and the CPU device's: profiled (every step on its own), and unprofiled (traced
    segments compiled on a first, finite inference)."""
    finite = _randn(*shape)
    x = _with_nan(finite, plane)
    model = graph(build, x)
    want = run_ref(model, [x])[0]
    config = {"INFERENCE_PRECISION_HINT": precision}
    profiled = run_cpu(model, [x], config)[0][0]
    ex = CPUExecutable(model, cpu_config(config))
    runner = ex.create_runner()
    runner.run([finite])
    compiled = runner.run([x])[0]
    return want, [profiled, compiled], x, ex


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", list(PROPAGATING))
def test_nan_propagates_as_on_ref(name: str, precision: str) -> None:
    build, shape = PROPAGATING[name]
    want, gots, _, _ = _eager_and_compiled(build, shape, precision, plane="Convolution" not in name)
    assert np.isnan(want).any() and not np.isnan(want).all(), "the case must hold NaN and numbers"
    for how, got in zip(("step by step", "compiled"), gots):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name} {precision} {how}: NaN mask")
        if precision == "f32":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, equal_nan=True, err_msg=f"{name} {how}")


def test_nan_propagates_as_in_onnxruntime() -> None:
    """The same ops from ONNX, where ONNX Runtime propagates NaN (it skips NaN in ReduceMax/Min and MaxPool, where
    REF and the CPU device differ from it: see the device's docstring)."""
    from onnx import TensorProto as T
    from onnx import helper as h

    import irforge

    outs = ["relu", "clip", "sign", "max", "softmax", "sigmoid", "sum"]
    nodes = [h.make_node("Relu", ["x"], ["relu"]), h.make_node("Clip", ["x", "lo", "hi"], ["clip"]),
             h.make_node("Sign", ["x"], ["sign"]), h.make_node("Max", ["x", "z"], ["max"]),
             h.make_node("Softmax", ["x"], ["softmax"], axis=-1), h.make_node("Sigmoid", ["x"], ["sigmoid"]),
             h.make_node("ReduceSum", ["x", "axes"], ["sum"], keepdims=0)]
    inits = [h.make_tensor("lo", T.FLOAT, [], [-0.5]), h.make_tensor("hi", T.FLOAT, [], [0.5]),
             h.make_tensor("axes", T.INT64, [1], [1])]
    g = h.make_graph(nodes, "nan", [h.make_tensor_value_info(n, T.FLOAT, [4, 6]) for n in ("x", "z")],
                     [h.make_tensor_value_info(o, T.FLOAT, None) for o in outs], inits)
    proto = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    x, z = _with_nan(_randn(4, 6)), _with_nan(_randn(4, 6))
    want = run_ort(proto, {"x": x, "z": z})
    compiled = irforge.Core().compile_model(irforge.convert_model(proto), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = [np.asarray(getattr(v, "data", v)) for v in compiled([x, z]).values_list()]
    for name, g_, w in zip(outs, got, want):
        assert np.isnan(w).any(), name
        np.testing.assert_allclose(g_, w, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=name)


def _depthwise_identity(p: Output) -> Output:
    """A 1x1 depthwise convolution with unit weights: a oneDNN step that keeps every value where it is."""
    return op("GroupConvolution", p, np.ones((6, 1, 1, 1, 1), np.float32), **conv_attrs(2))


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("inside", ["alone", "segment"])
def test_maxpool_skips_nan_as_ref_and_openvino_do(precision: str, inside: str) -> None:
    """A window with NaN gives the largest of its numbers, a window of NaN only the lowest finite value: ATen's
    pool (alone) and oneDNN's (inside a compiled segment between two convolutions) both, as on REF."""
    def build(p: Output) -> Output:
        if inside == "alone":
            return op("MaxPool", p, **MAXPOOL)
        return _depthwise_identity(op("MaxPool", _depthwise_identity(p), **MAXPOOL))
    finite = _randn(1, 6, 6, 6)
    x = finite.copy()
    x[0, 0, 0, 1] = x[0, 0, 3, 3] = np.nan  # windows with NaN and numbers
    x[0, 1, :2, :2] = np.nan  # output (0, 0) of channel 1 reads NaN (and padding) only
    model = graph(build, x)
    want = run_ref(model, [x])[0]
    assert not np.isnan(want).any()
    assert want[0, 0, 0, 0] == np.nanmax(x[0, 0, :2, :2]) and want[0, 1, 0, 0] == np.finfo(np.float32).min
    runner = CPUExecutable(model, cpu_config({"INFERENCE_PRECISION_HINT": precision})).create_runner()
    runner.run([finite])
    got = runner.run([x])[0]
    if precision == "f32":
        np.testing.assert_array_equal(got, want)
    else:  # bf16 rounds the convolutions' inputs (the lowest f32 value becomes -inf in bf16)
        assert not np.isnan(got).any()
        finite_want = np.isfinite(want) & (want > -1e30)
        np.testing.assert_allclose(got[finite_want], want[finite_want], rtol=1e-2, atol=1e-2)
    if inside == "alone" and precision == "f32":
        from tests.util import run_openvino

        np.testing.assert_array_equal(run_openvino(model, [x])[0], want)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("graph_on", ["1", "0"], ids=["segments", "eager"])
@pytest.mark.parametrize("act,post_op,in_segment", [("Relu", 0.0, 0.0), ("Clamp", 0.25, 0.25), ("HSigmoid", 1.0, 0.0)])
def test_relu_clamp_hsigmoid_fused_into_a_convolution_give_a_bound(
        monkeypatch: pytest.MonkeyPatch, precision: str, graph_on: str, act: str, post_op: float,
        in_segment: float) -> None:
    """The documented exception: oneDNN computes these activations with max/min instructions that return a bound
    for NaN (as OpenVINO's CPU plugin does for every ReLU/Clamp): ReLU 0 and Clamp its min, HSigmoid 1 as the
    convolution's eltwise post-op and 0 in a compiled segment (traced as clamp(y / 6 + 0.5, 0, 1)). REF gives NaN
    there; elsewhere the two agree."""
    monkeypatch.setenv("IRFORGE_CPU_GRAPH", graph_on)
    attrs = {"Clamp": dict(min=0.25, max=6.0)}.get(act, {})
    want, (profiled, plain), _, ex = _eager_and_compiled(lambda p: op(act, _conv(p), **attrs), PLANES, precision,
                                                         plane=False)
    nan = np.isnan(want)
    assert nan.any()
    plan = next(iter(ex.plans.values()))
    steps = [s.exec_type for s in plan.steps]
    assert len(steps) == 1 and steps[0].startswith("onednn_conv+bias+"), steps  # one step: the post-op is fused
    compiled = any(s.state == "compiled" for s in plan.segments)
    tol = 1e-4 if precision == "f32" else 3e-2
    for got, bound in ((profiled, post_op), (plain, in_segment if compiled else post_op)):
        assert not np.isnan(got).any()
        np.testing.assert_array_equal(got[nan], bound)
        np.testing.assert_allclose(got[~nan], want[~nan], rtol=tol, atol=tol)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_relu_inside_a_compiled_segment_gives_zero_and_propagates_elsewhere(precision: str) -> None:
    """A ReLU that is not fused into a convolution runs in ATen (NaN propagates) unless its step lies inside a
    compiled oneDNN Graph segment (NaN gives 0). f32 plans always trace convolutions, so there it compiles; a
    native bf16 convolution is not traced (its step then runs in ATen)."""
    def build(p: Output) -> Output:
        return op("Relu", op("Multiply", _conv(p), _conv(p)))
    want, (profiled, compiled), _, ex = _eager_and_compiled(build, PLANES, precision, plane=False)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(profiled), nan)  # step by step: ATen's ReLU propagates
    plan = next(iter(ex.plans.values()))
    relu_step = next(i for i, s in enumerate(plan.steps) if "relu" in s.exec_type)
    in_compiled = any(s.state == "compiled" and s.start <= relu_step < s.stop for s in plan.segments)
    if precision == "f32" or not ex.config.bf16_native:
        assert in_compiled, [(s.start, s.stop, s.state) for s in plan.segments]
    if in_compiled:
        assert not np.isnan(compiled).any()
        np.testing.assert_array_equal(compiled[nan], 0.0)
    else:
        np.testing.assert_array_equal(np.isnan(compiled), nan)


def test_a_relu_whose_first_compiled_run_meets_nan_stays_in_aten_and_propagates() -> None:
    """Segments compile on a plan's first inputs and each compiled piece must reproduce the eager steps (NaN
    positions included): when NaN reaches a ReLU in that first inference, the piece holding it disagrees and is
    bisected until the ReLU runs alone in ATen, for this inference and every later one."""
    x = _with_nan(_randn(*PLANES), plane=False)
    model = graph(lambda p: op("Relu", op("Multiply", _conv(p), _conv(p))), x)
    want = np.isnan(run_ref(model, [x])[0])
    assert want.any()
    runner = CPUExecutable(model, cpu_config()).create_runner()
    for _ in range(2):
        np.testing.assert_array_equal(np.isnan(runner.run([x])[0]), want)


NATIVE_AS_OPENVINO = {"Relu", "Clamp", "MatMul+bias+Relu", "SoftMax"}
NATIVE_BOUND = {"HSigmoid": 1.0}  # oneDNN's hardsigmoid gives its upper bound for NaN (OpenVINO's CPU plugin 0)


@pytest.mark.native
@pytest.mark.parametrize("name", list(PROPAGATING))
def test_native_executor_nan(name: str, tmp_path) -> None:  # noqa: ANN001
    """The native executor's NaN rule (module docstring): REF's NaN where its plan computes the op; OpenVINO's
    output (f32) for the ops oneDNN bounds or keeps per element; REF's where the torch executor takes the graph."""
    build, shape = PROPAGATING[name]
    x = _with_nan(_randn(*shape), "Convolution" not in name)
    model = graph(build, x)
    ex = CPUExecutable(model, cpu_config())
    got = ex.create_runner().run([x])[0]
    native = all(getattr(p, "native", False) for p in ex.plans.values())
    if native and name in NATIVE_AS_OPENVINO:
        import irforge
        import openvino as ov

        irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
        compiled = ov.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        want = np.asarray(compiled.create_infer_request().infer([x])[0])
        oracle = "OpenVINO"
    elif native and name in NATIVE_BOUND:
        want = run_ref(model, [x])[0]
        want = np.where(np.isnan(want), np.float32(NATIVE_BOUND[name]), want)
        oracle = f"REF with {NATIVE_BOUND[name]} for NaN"
    else:
        want, oracle = run_ref(model, [x])[0], "REF"
    assert np.isnan(x).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want),
                                  err_msg=f"{name} ({'native' if native else 'torch'}): NaN mask vs {oracle}")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, equal_nan=True, err_msg=f"{name} vs {oracle}")
