"""The CPU device's native executor (irforge/runtime/devices/cpu/native): oneDNN primitives called directly.

Checked against REF: zoo models it runs whole, fused convolution chains, views, outputs; and what it promises
besides the numbers: the choice between native and torch (with the reason when it declines), no torch import on
the way to the first result, fresh output arrays, runners in parallel threads, a memory plan that reuses buffers.
The per-op differential cases are in test_lowering_differential.py (test_native_lowering_matches_ref)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import irforge
from irforge.errors import OptionError
from irforge.runtime.devices.cpu import CPUExecutable
from tests.runtime.cpu.helpers import cpu_config, graph, op, randn
from tests.util import assert_close, in_threads, run_ref

pytestmark = pytest.mark.native


def _native(model: irforge.Model, inputs: list[np.ndarray], config: dict[str, str] | None = None
            ) -> tuple[CPUExecutable, list[np.ndarray]]:
    ex = CPUExecutable(model, cpu_config(config))
    runner = ex.create_runner(profile=True)
    return ex, runner.run(inputs)


def _plan(ex: CPUExecutable):  # noqa: ANN202 - the one plan of a static model
    (plan,) = ex.plans.values()
    return plan


def _conv_block(x: irforge.ir.graph.Output, cin: int, cout: int, seed: int) -> irforge.ir.graph.Output:
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((cout, cin, 3, 3)) * 0.2).astype(np.float32)
    b = rng.standard_normal((1, cout, 1, 1)).astype(np.float32)
    y = op("Convolution", x, w, strides=[1, 1], dilations=[1, 1], pads_begin=[1, 1], pads_end=[1, 1],
           auto_pad="explicit")
    return op("Relu", op("Add", y, b))


@pytest.mark.parametrize("name", ["resnet", "mobilenetv3", "bert"])
def test_zoo_models_run_natively_and_match_ref(zoo_ir, name: str) -> None:
    from tests.models import zoo

    conv = zoo_ir(name, 17)
    feeds = zoo.MODELS[name].input_sets()[0]
    inputs = list(feeds.values())
    model = conv.model
    if not all(p.shape.is_static for p in model.inputs):
        model.reshape({p.get_any_name(): list(a.shape) for p, a in zip(model.inputs, inputs)})
    ex, got = _native(model, inputs)
    assert getattr(_plan(ex), "native", False), ex.native_declined
    for g, w in zip(got, run_ref(model, inputs)):
        assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_a_residual_block_is_one_call_per_convolution() -> None:
    """conv -> bias -> relu -> conv -> bias -> + x -> relu: two calls, the second with bias, add and relu fused."""
    x = randn(1, 8, 10, 10)
    rng = np.random.default_rng(3)
    w2 = (rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32)

    def build(p):  # noqa: ANN001, ANN202
        y = _conv_block(p, 8, 8, 1)
        y = op("Convolution", y, w2, strides=[1, 1], dilations=[1, 1], pads_begin=[1, 1], pads_end=[1, 1],
               auto_pad="explicit")
        y = op("Add", y, rng.standard_normal((1, 8, 1, 1)).astype(np.float32))
        return op("Relu", op("Add", y, p))

    model = graph(build, x)
    ex, got = _native(model, [x])
    calls = [c.exec_type.split(":")[0] for c in _plan(ex).calls]
    assert [c for c in calls if c.startswith("conv")] == ["conv+bias+relu", "conv+bias+add+relu"], calls
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)


def test_a_residual_produced_later_in_topological_order_is_still_fused() -> None:
    """ResNet's downsample branch comes after the block's last convolution in the exporters' order: each
    convolution keeps its own bias (no separate Add call)."""
    x = randn(1, 4, 8, 8)

    def build(p):  # noqa: ANN001, ANN202
        main = _conv_block(p, 4, 6, 5)
        w = (np.random.default_rng(6).standard_normal((6, 4, 1, 1)) * 0.3).astype(np.float32)
        short = op("Add", op("Convolution", p, w, strides=[1, 1], dilations=[1, 1], pads_begin=[0, 0],
                             pads_end=[0, 0], auto_pad="explicit"), np.ones((1, 6, 1, 1), np.float32))
        return op("Relu", op("Add", main, short))

    model = graph(build, x)
    ex, got = _native(model, [x])
    types = [c.type for c in _plan(ex).calls]
    assert "Add" not in types, _plan(ex).describe()
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)


def test_views_and_outputs() -> None:
    """A Split feeding convolutions (strided views reordered for them), a Reshape of a channels-last value, and
    outputs that are views, the same value twice, or the model input."""
    x = randn(1, 8, 6, 6)

    def build(p):  # noqa: ANN001, ANN202
        a, b = make_split(p)
        ya = _conv_block(a, 4, 4, 7)
        yb = _conv_block(b, 4, 4, 8)
        cat = op("Concat", ya, yb, axis=1)
        flat = op("Reshape", cat, np.array([1, -1], np.int64), special_zero=False)
        return [flat, cat, cat, a, p]

    def make_split(p):  # noqa: ANN001, ANN202
        from irforge.ir.graph import constant, make

        n = make("VariadicSplit", [p, constant(np.array(1, np.int64)), constant(np.array([4, 4], np.int64))])
        return n.output(0), n.output(1)

    model = graph(build, x)
    ex, got = _native(model, [x])
    assert getattr(_plan(ex), "native", False), ex.native_declined
    want = run_ref(model, [x])
    for g, w in zip(got, want):
        assert g.flags.c_contiguous and g.shape == w.shape
        assert_close(g, w, rtol=1e-4, atol=1e-4)
    assert got[1] is not got[2] and not np.shares_memory(got[1], got[2])


def test_outputs_are_fresh_arrays_and_inputs_are_not_written() -> None:
    x = randn(1, 3, 8, 8)
    model = graph(lambda p: _conv_block(p, 3, 5, 9), x)
    ex = CPUExecutable(model, cpu_config())
    runner = ex.create_runner()
    keep = x.copy()
    first = runner.run([x])[0]
    second = runner.run([x * 2])[0]
    assert not np.shares_memory(first, second)
    assert not np.allclose(first, second)
    assert np.array_equal(x, keep)


def test_runners_in_parallel_threads() -> None:
    x = randn(1, 4, 16, 16)
    model = graph(lambda p: _conv_block(_conv_block(p, 4, 8, 10), 8, 8, 11), x)
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    inputs = [randn(1, 4, 16, 16) for _ in range(4)]
    want = [run_ref(model, [a])[0] for a in inputs]

    def work(k: int) -> None:
        runner = ex.create_runner()
        for _ in range(20):
            assert np.allclose(runner.run([inputs[k]])[0], want[k], rtol=1e-4, atol=1e-4), f"runner {k}"

    in_threads(work, 4)


def test_the_memory_plan_reuses_buffers() -> None:
    """Eight convolutions in a chain need two activation blocks (input and output of each), not eight."""
    x = randn(1, 8, 16, 16)

    def build(p):  # noqa: ANN001, ANN202
        y = p
        for i in range(8):
            y = _conv_block(y, 8, 8, 20 + i)
        return y

    model = graph(build, x)
    ex, got = _native(model, [x])
    plan = _plan(ex)
    one = 8 * 16 * 16 * 4
    assert len(plan.blocks) == 2 and sum(plan.blocks) == 2 * one, plan.blocks
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)


def test_what_it_does_not_run_goes_to_the_torch_executor_with_the_reason() -> None:
    x = randn(1, 3, 300, 300)  # Erf has no native lowering, and this one is too large for a NumPy step
    model = graph(lambda p: op("Erf", _conv_block(p, 3, 4, 12)), x)
    ex, got = _native(model, [x])
    assert not getattr(_plan(ex), "native", False)
    assert ex.native_declined is not None and "(Erf)" in ex.native_declined
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)


def test_small_ops_without_a_native_lowering_run_their_reference_kernel() -> None:
    """Mask and position arithmetic (here Erf, and an integer Multiply of a shape-sized value) stays native."""
    x = randn(1, 3, 8, 8)

    def build(p):  # noqa: ANN001, ANN202
        y = op("Erf", _conv_block(p, 3, 4, 16))
        n = op("Multiply", op("Convert", op("ReduceSum", y, np.array([1], np.int64), keep_dims=False),
                              destination_type="i32"), np.array(3, np.int32))
        return [y, op("Convert", n, destination_type="f32")]

    model = graph(build, x)
    ex, got = _native(model, [x])
    assert getattr(_plan(ex), "native", False), ex.native_declined
    assert {"Erf", "Multiply"} <= {c.type for c in _plan(ex).calls if c.exec_type.endswith(":numpy")}
    for g, w in zip(got, run_ref(model, [x])):
        assert_close(g, w, rtol=1e-4, atol=1e-4)
    ex, _ = _native(graph(lambda p: _conv_block(p, 3, 4, 12), x), [x], {"INFERENCE_PRECISION_HINT": "bf16"})
    assert "INFERENCE_PRECISION_HINT bf16" in (ex.native_declined or "")


def test_forcing_the_native_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    x = randn(1, 3, 8, 8)
    monkeypatch.setenv("IRFORGE_CPU_EXECUTOR", "native")
    big = randn(1, 3, 300, 300)
    with pytest.raises(OptionError, match=r"native executor cannot run this model: node '.*' \(Erf\)"):
        CPUExecutable(graph(lambda p: op("Erf", p), big), cpu_config())
    monkeypatch.setenv("IRFORGE_CPU_EXECUTOR", "fastest")
    with pytest.raises(OptionError, match="IRFORGE_CPU_EXECUTOR: expected one of auto, native, torch, got 'fastest'"):
        CPUExecutable(graph(lambda p: op("Relu", p), x), cpu_config())


_NO_TORCH = """
import sys
import numpy as np
import irforge
core = irforge.Core()
model = core.read_model(sys.argv[1])
compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
out = compiled.create_infer_request().infer([np.ones((1, 3, 8, 8), np.float32)])
assert "torch" not in sys.modules, "torch was imported"
print(float(np.asarray(list(out.values())[0]).sum()))
"""


def test_reading_compiling_and_running_an_ir_imports_no_torch(tmp_path: Path) -> None:
    x = np.ones((1, 3, 8, 8), np.float32)
    model = graph(lambda p: op("MaxPool", _conv_block(p, 3, 4, 13), kernel=[2, 2], strides=[2, 2],
                                pads_begin=[0, 0], pads_end=[0, 0], auto_pad="explicit", rounding_type="floor"), x)
    xml = tmp_path / "m.xml"
    irforge.save_model(model, xml, compress_to_fp16=False)
    done = subprocess.run([sys.executable, "-c", _NO_TORCH, str(xml)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert abs(float(done.stdout.strip()) - float(run_ref(model, [x])[0].sum())) < 1e-3


@pytest.mark.parametrize("coords,nearest", [("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                                            ("pytorch_half_pixel", "round_prefer_ceil")])
def test_integer_factor_nearest_upsampling(coords: str, nearest: str) -> None:
    x = randn(1, 4, 5, 6)

    def build(p):  # noqa: ANN001, ANN202
        return op("Interpolate", _conv_block(p, 4, 4, 14), np.array([2.0, 3.0], np.float32),
                  np.array([2, 3], np.int64), mode="nearest", shape_calculation_mode="scales",
                  coordinate_transformation_mode=coords, nearest_mode=nearest, antialias=False,
                  pads_begin=[0], pads_end=[0], cube_coeff=-0.75)

    model = graph(build, x)
    ex, got = _native(model, [x])
    assert getattr(_plan(ex), "native", False), ex.native_declined
    assert "Interpolate" in [c.type for c in _plan(ex).calls]
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)


def test_without_the_library_the_torch_executor_runs_and_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from irforge.runtime.devices.cpu import executable
    from irforge.runtime.devices.cpu.native import dnnl

    monkeypatch.setenv("IRFORGE_DNNL_LIBRARY", "/nonexistent/libdnnl.so.3")
    monkeypatch.setattr(executable, "_WARNED", set())
    dnnl.library.cache_clear()
    try:
        x = randn(1, 3, 8, 8)
        model = graph(lambda p: _conv_block(p, 3, 4, 15), x)
        with pytest.warns(RuntimeWarning, match="native executor unavailable.*oneDNN library not found") as caught:
            ex, got = _native(model, [x])
            _native(model, [x])
        assert len(caught) == 1
        assert not getattr(_plan(ex), "native", False)
        assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)
    finally:
        monkeypatch.delenv("IRFORGE_DNNL_LIBRARY")
        dnnl.library.cache_clear()


def test_one_copy_of_each_weight_after_compiling_an_ir(tmp_path: Path) -> None:
    """Compiling an IR leaves its .bin out of the resident set and holds each weight once, packed: the plan's
    constants add up to the weights (plus biases), and running does not map them back."""
    from tests.runtime.cpu.test_weight_copies import _resident_kib

    x = randn(1, 64, 8, 8)

    def build(p):  # noqa: ANN001, ANN202
        y = p
        for i in range(6):
            y = _conv_block(y, 64, 64, 30 + i)
        flat = op("Reshape", y, np.array([1, -1], np.int64), special_zero=False)
        return op("MatMul", flat, randn(64 * 8 * 8, 256, scale=0.01), transpose_a=False, transpose_b=False)

    model = graph(build, x)
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    bin_bytes = (tmp_path / "m.bin").stat().st_size
    compiled = irforge.Core().compile_model(irforge.read_model(tmp_path / "m.xml"), "CPU", cpu_config())
    (plan,) = compiled.executable.plans.values()
    assert getattr(plan, "native", False), compiled.executable.native_declined
    assert _resident_kib(tmp_path / "m.bin") < 0.1 * bin_bytes / 1024
    held = sum(b.array.nbytes for b in plan.buffers if b.kind == "const" and b.array is not None)
    assert bin_bytes * 0.95 <= held <= bin_bytes * 1.1, (held, bin_bytes)
    got, want = compiled([x])[0], run_ref(model, [x])[0]
    assert_close(got, want, rtol=1e-3, atol=1e-4 * float(np.abs(want).max()))  # values grow to ~1e3 here
    assert _resident_kib(tmp_path / "m.bin") < 0.1 * bin_bytes / 1024


@pytest.mark.parametrize("first", ["dense", "view"])
def test_a_runtime_operand_broadcast_against_a_strided_one(first: str) -> None:
    """WavLM's attention gate: [12, 49, 49] * [12, 49, 1], both computed at run time. The broadcast operand keeps
    its own layout (it was once stored with the other's strides: a 115 KB write into a 2 KB buffer). Every call's
    arguments are checked against their buffers when the plan is built (Builder.call)."""
    x = randn(1, 12, 49, 98 if first == "view" else 49)
    y = randn(12, 49, 2)

    def build(p, q):  # noqa: ANN001, ANN202
        a = op("Relu", p)
        if first == "view":  # a strided view: half of the last axis
            a = op("Slice", a, np.array([0], np.int64), np.array([49], np.int64), np.array([1], np.int64),
                   np.array([3], np.int64))
        a = op("Reshape", op("Sigmoid", a), np.array([12, 49, 49], np.int64), special_zero=False)
        g = op("Slice", op("Tanh", q), np.array([1], np.int64), np.array([2], np.int64), np.array([1], np.int64),
               np.array([2], np.int64))
        return op("Multiply", a, g)

    model = graph(build, x, y)
    ex, got = _native(model, [x, y])
    assert getattr(_plan(ex), "native", False), ex.native_declined
    assert_close(got[0], run_ref(model, [x, y])[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduce", ["ReduceMean", "ReduceSum", "ReduceL1", "ReduceL2"])
@pytest.mark.parametrize("keep", [True, False])
def test_spatial_reductions_of_a_convolution_are_global_pooling(reduce: str, keep: bool) -> None:
    """Over the spatial axes of a channels-last value (ConvNeXt-V2's GRN takes the L2 norm there): oneDNN's
    average pooling, with the scale, square root or absolute value around it."""
    x = randn(1, 3, 9, 7)
    model = graph(lambda p: op(reduce, _conv_block(p, 3, 16, 17), np.array([2, 3], np.int64), keep_dims=keep), x)
    ex, got = _native(model, [x])
    plan = _plan(ex)
    assert getattr(plan, "native", False), ex.native_declined
    assert any(c.exec_type.startswith("global_pool") for c in plan.calls), plan.describe()
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-5, atol=1e-5)


def test_split_parts_in_arithmetic_and_activations() -> None:
    """YOLOv8's box decoding (nudenet's head): the halves of a Split subtracted from and added to anchors, a
    Sigmoid of another part. oneDNN 3.2's binary computed wrong values for a dense part whose batch stride was the
    parent's (error 1.15 relative to ONNX Runtime); dense values now describe their layout exactly (Value.md)."""
    x = randn(1, 22, 2100)
    anchors = np.random.default_rng(5).random((1, 2, 2100)).astype(np.float32) * 40

    def build(p):  # noqa: ANN001, ANN202
        from irforge.ir.graph import constant, make

        parts = make("VariadicSplit", [p, constant(np.array(1, np.int64)), constant(np.array([4, 18], np.int64))])
        box = make("VariadicSplit", [parts.output(0), constant(np.array(1, np.int64)),
                                     constant(np.array([2, 2], np.int64))])
        lt, rb = box.output(0), box.output(1)
        xy = op("Add", op("Subtract", anchors, lt), op("Add", anchors, rb))
        return [op("Concat", xy, op("Sigmoid", parts.output(1)), axis=1)]

    model = graph(build, x)
    ex, got = _native(model, [x])
    assert getattr(_plan(ex), "native", False), ex.native_declined
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduce", ["ReduceMean", "ReduceSum", "ReduceL1", "ReduceL2"])
@pytest.mark.parametrize("axes,keep", [([1, 2], True), ([1, 2], False), ([1], True), ([2], False)])
def test_middle_axis_reductions_of_a_row_major_value(reduce: str, axes: list[int], keep: bool) -> None:
    """ConvNeXt-V2's GRN in the exporters' [B, H, W, C] form: reducing middle axes with the last kept runs as the
    same global pooling, the value read as a channels-last [P, Q, M]."""
    x = randn(2, 5, 6, 16)
    model = graph(lambda p: op(reduce, op("Relu", p), np.array(axes, np.int64), keep_dims=keep), x)
    ex, got = _native(model, [x])
    plan = _plan(ex)
    assert getattr(plan, "native", False), ex.native_declined
    assert any(c.exec_type.startswith("global_pool") for c in plan.calls), plan.describe()
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-5, atol=1e-5)


@pytest.mark.native
def test_primitives_made_in_the_background_thread() -> None:
    """A plan's primitives are created on a worker thread while the build goes on (native/dnnl.py): each is usable
    once its handle is read, the worker runs the setup first (the OpenMP thread count), and a creation that
    fails is raised at the end of the block and where the primitive is used, naming it."""
    from irforge.runtime.devices.cpu.native import dnnl
    from irforge.runtime.devices.cpu.native.dnnl import DnnlError, MemoryDesc

    md = MemoryDesc.strided((4, 8), dnnl.F32, (8, 1))
    seen: list[str] = []
    with dnnl.created_in_background(lambda: seen.append("setup")):
        prims = [dnnl.reorder(md, md) for _ in range(3)]
    assert seen == ["setup"] and all(p.handle for p in prims)

    original = dnnl.Primitive._create

    def failing(self: dnnl.Primitive, pd: int, what: str) -> None:
        original(self, pd, what)
        raise DnnlError(f"{what}: made to fail")

    dnnl.Primitive._create = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(DnnlError, match="reorder: made to fail"):
            with dnnl.created_in_background(lambda: None):
                prim = dnnl.reorder(md, md)
        with pytest.raises(DnnlError, match="made to fail"):
            prim.handle
    finally:
        dnnl.Primitive._create = original  # type: ignore[method-assign]


@pytest.mark.parametrize("order", ["scale-shift", "shift-scale", "scale", "shift"])
def test_layer_norm_affine_is_one_call(order: str) -> None:
    """MVN over the last axis, then LayerNorm's per-channel gamma (Multiply) and beta (Add) in any order: one
    layer normalization call with scale and shift (the chain is matched before the Multiply/Add are lowered on
    their own)."""
    x = randn(2, 5, 16)
    gamma, beta = randn(16), randn(16)

    def build(p):  # noqa: ANN001, ANN202
        y = op("MVN", p, np.array([-1], np.int64), normalize_variance=True, eps=1e-5, eps_mode="inside_sqrt")
        for step in order.split("-"):
            y = op("Multiply", y, gamma) if step == "scale" else op("Add", y, beta)
        return y

    model = graph(build, x)
    ex, got = _native(model, [x])
    calls = [c.exec_type.split(":")[0] for c in _plan(ex).calls]
    assert calls == ["layer_norm+affine"], calls
    assert_close(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)
