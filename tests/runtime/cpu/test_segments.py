"""Traced segments (oneDNN Graph through TorchScript): which path a segment takes, and that the trace functions
keep whole blocks inside oneDNN Graph partitions with channels-last boundaries, against REF."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from irforge.ir.graph import Model, Output
from irforge.runtime.devices.cpu import CPUExecutable
from irforge.runtime.devices.cpu import segments as seg
from irforge.runtime.devices.cpu.plan import Plan
from tests.runtime.cpu.helpers import check, cpu_config, graph, op, randn
from tests.util import run_ref
from tests.runtime.cpu.test_ops_compute import conv_attrs

TOL = dict(rtol=1e-4, atol=1e-4)


def conv(x: Output, cin: int, cout: int, k: int = 1, groups: int = 1) -> Output:
    if groups == 1:
        return op("Convolution", x, randn(cout, cin, k, k, scale=0.3), **conv_attrs(2, 1, 1, (k // 2, k // 2)))
    return op("GroupConvolution", x, randn(groups, cout // groups, cin // groups, k, k, scale=0.3),
              **conv_attrs(2, 1, 1, (k // 2, k // 2)))


def bias(x: Output, c: int) -> Output:
    return op("Add", x, randn(1, c, 1, 1))


def squeeze_excite(p: Output) -> Output:
    """MobileNetV3's block: expand + HSwish, depthwise + HSwish, SE gate (mean, fc+relu, fc+HSigmoid, multiply),
    project."""
    e = op("HSwish", bias(conv(p, 4, 16), 16))
    d = op("HSwish", bias(conv(e, 16, 16, 3, groups=16), 16))
    pooled = op("ReduceMean", d, np.array([2, 3], np.int64), keep_dims=True)
    gate = op("HSigmoid", bias(conv(op("Relu", bias(conv(pooled, 16, 8), 8)), 8, 16), 16))
    return bias(conv(op("Multiply", d, gate), 16, 6), 6)


def compiled_plan(model: Model, x: np.ndarray) -> Plan:
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    ex.create_runner().run([x])
    (plan,) = ex.plans.values()
    return plan


def fused_graph(plan: Plan, x: np.ndarray) -> Any:
    """The optimized TorchScript graph of the plan's single compiled piece."""
    (segment,) = plan.segments
    assert segment.state == "compiled"
    (piece,) = segment.pieces  # type: ignore[misc]
    assert piece.eager is None
    with torch.no_grad():
        return piece.module.graph_for(torch.from_numpy(x).contiguous(memory_format=torch.channels_last))


def outside_kinds(g: Any) -> set[str]:
    """Op kinds the graph runs outside oneDNN Graph fusion groups (in the fused branch)."""
    kinds: set[str] = set()

    def walk(block: Any) -> None:
        for n in block.nodes():
            if n.kind() == "prim::If":
                walk(next(iter(n.blocks())))  # the fused branch (the other one is the fallback)
                continue
            kinds.add(n.kind())
    walk(g)
    return {k for k in kinds if k.startswith("aten::")}


@pytest.fixture(autouse=True)
def _graph_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRFORGE_CPU_GRAPH", raising=False)


def test_squeeze_excite_block_is_all_onednn_graph() -> None:
    x = randn(1, 4, 12, 10)
    model = graph(squeeze_excite, x)
    check(model, [x], "onednn_conv+bias+hardsigmoid", **TOL)
    g = fused_graph(compiled_plan(model, x), x)
    # the pool (avg_pool2d), the HardSigmoid gate (folded clamp) and the multiply run inside partitions
    assert outside_kinds(g) <= {"aten::contiguous"}, outside_kinds(g)


def test_partition_outputs_read_by_aten_ops_stay_channels_last() -> None:
    x = randn(1, 3, 9, 8)

    def build(p: Output) -> Output:
        c = op("Relu", bias(conv(p, 3, 8, 3), 8))  # NCHW model input: the trace still yields NHWC
        return conv(op("Erf", c), 8, 4)  # Erf has no oneDNN Graph op: the value crosses a partition boundary
    model = graph(build, x)
    check(model, [x], "onednn_conv", **TOL)
    g = fused_graph(compiled_plan(model, x), x)
    assert "aten::erf" in outside_kinds(g)
    strides = []
    for n in g.findAllNodes("prim::oneDNNFusionGroup", recurse=True):
        for o in n.g("Subgraph").outputs():  # the partition's outputs as profiled (strided, for the aten op)
            t = o.type()
            if t.dim() == 4:
                strides.append(t.strides())
    assert strides and all(s[1] == 1 for s in strides), strides  # channels-last


@pytest.mark.parametrize("axes,keep", [([2, 3], True), ([2, 3], False), ([-1, -2], True), ([3, 2], False)])
def test_global_mean_is_an_average_pool_in_the_trace(axes: list[int], keep: bool) -> None:
    x = randn(2, 3, 7, 5)

    def build(p: Output) -> Output:
        return op("ReduceMean", op("Relu", bias(conv(p, 3, 8, 3), 8)), np.array(axes, np.int64), keep_dims=keep)
    model = graph(build, x)
    check(model, [x], "torch_reducemean", **TOL)
    assert "aten::mean" not in outside_kinds(fused_graph(compiled_plan(model, x), x))


def test_hardsigmoid_gate_folded_into_the_convolution_saturates_like_ref() -> None:
    x = randn(1, 6, 5, 5, scale=4.0)  # large pre-activations: both clamps of HardSigmoid are exercised
    model = graph(lambda p: op("HSigmoid", bias(conv(p, 6, 8, 3), 8)), x)
    check(model, [x], "onednn_conv+bias+hardsigmoid", **TOL)
    y = np.asarray(CPUExecutable(model, cpu_config()).create_runner().run([x])[0])
    assert (y == 0).any() and (y == 1).any() and ((y > 0) & (y < 1)).any()


def test_segments_compile_by_rule_on_every_build() -> None:
    x = randn(1, 4, 12, 10)
    model = graph(squeeze_excite, x)
    states = [[s.state for s in compiled_plan(model, x).segments] for _ in range(3)]
    assert states == [["compiled"]] * 3


class _Counted:
    """A frozen module that counts its runs and, when `busy_s` is set, burns that much thread CPU time per run."""

    def __init__(self, module: Any, busy_s: float) -> None:
        self.module, self.busy_s, self.runs = module, busy_s, 0

    def forward(self, *xs: Any) -> Any:
        self.runs += 1
        t0 = time.thread_time()
        while time.thread_time() - t0 < self.busy_s:
            pass
        return self.module(*xs)

    __call__ = forward


def _counted_trace(monkeypatch: pytest.MonkeyPatch, busy_s: float = 0.0) -> list[_Counted]:
    made: list[_Counted] = []
    real = seg._trace

    def trace(fn: Any, example: Any) -> _Counted:
        module = real(fn, example)
        made.append(_Counted(module, 0.0))
        made[-1].busy_s = busy_s  # the profiling and optimizing runs inside `real` were not slowed
        return made[-1]
    monkeypatch.setattr(seg, "_trace", trace)
    return made


def test_first_inference_runs_the_segment_a_fixed_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """No trial or timing runs: the first inference runs the trace functions once eagerly (the expected values),
    the frozen module is profiled and optimized inside the trace, checked once, then runs for the inference."""
    made = _counted_trace(monkeypatch)
    x = randn(1, 4, 12, 10)
    plan = compiled_plan(graph(squeeze_excite, x), x)
    assert [s.state for s in plan.segments] == ["compiled"]
    assert [m.runs for m in made] == [2]  # the check and the inference itself


def test_a_pathologically_slow_piece_runs_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled piece taking more than SLOWER_LIMIT times its eager run (oneDNN Graph has partitions 10-100x
    slower than ATen) is replaced by its steps run eagerly; the results stay REF's."""
    _counted_trace(monkeypatch, busy_s=0.5)
    x = randn(1, 4, 12, 10)
    model = graph(squeeze_excite, x)
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    runner = ex.create_runner()
    got = runner.run([x])[0]
    (plan,) = ex.plans.values()
    (segment,) = plan.segments
    assert segment.state == "eager"
    np.testing.assert_allclose(np.asarray(got), run_ref(model, [x])[0], **TOL)


def test_which_runs_become_segments() -> None:
    """Compiled: runs holding a convolution, or two matrix products (their epilogues fuse); eager: element-wise
    runs and a lone matrix product, where the interpreter's per-op cost exceeds the plan's."""
    x = randn(2, 8)
    w1, w2 = randn(8, 8), randn(8, 4)

    def light(p: Output) -> Output:
        return op("Sigmoid", op("Multiply", op("Exp", p), op("Tanh", p)))

    def one_matmul(p: Output) -> Output:
        return light(op("MatMul", light(p), w1))

    def two_matmuls(p: Output) -> Output:
        return op("MatMul", op("Relu", op("MatMul", p, w1)), w2)

    for build, n_segments in ((light, 0), (one_matmul, 0), (two_matmuls, 1)):
        model = graph(build, x)
        check(model, [x], "torch_" if build is light else "mkl_linear", rtol=1e-5, atol=1e-5)
        assert len(compiled_plan(model, x).segments) == n_segments, build.__name__
    img = randn(1, 3, 6, 6)
    assert len(compiled_plan(graph(lambda p: op("Relu", conv(p, 3, 4, 3)), img), img).segments) == 1


def test_a_compiled_segment_leaves_nothing_behind_when_its_model_goes() -> None:
    """TorchScript's process-wide compilation unit kept every traced graph, and with it the segment's weights, for
    the life of the process (one copy of the weights per compile). A segment's trace now lives in its own unit:
    compiling and dropping models leaves the global unit as it was and the weights' memory is freed."""
    import gc
    import weakref

    img = randn(1, 3, 8, 8)
    before = len(torch.jit._state._python_cu.get_functions())
    plan = compiled_plan(graph(lambda p: op("Relu", conv(p, 3, 4, 3)), img), img)
    assert [s.state for s in plan.segments] == ["compiled"]
    assert len(torch.jit._state._python_cu.get_functions()) == before
    (piece,) = plan.segments[0].pieces  # type: ignore[misc]
    constants = [t for n in piece.module.graph.nodes() if n.kind() == "prim::Constant"
                 for t in [n.output().toIValue()] if isinstance(t, torch.Tensor) and t.numel() > 1]
    assert constants, "the frozen graph holds the convolution's weight"
    refs = [weakref.ref(t) for t in constants]
    del plan, piece, constants
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_layer_norm_without_scale_and_shift_stays_inside_the_segment() -> None:
    """oneDNN Graph's fuser crashed on a traced layer_norm without weight and bias (the step was bisected out of
    every transformer layer whose LayerNorm affine had been folded into the next MatMul): the trace gives it ones
    and zeros."""
    x = randn(2, 8, 16)
    w1, w2 = randn(16, 16), randn(16, 16)

    def block(p: Output) -> Output:
        h = op("MatMul", p, w1)
        n = op("MVN", h, np.array([-1], np.int64), normalize_variance=True, eps=1e-5, eps_mode="inside_sqrt")
        return op("MatMul", n, w2)
    model = graph(block, x)
    check(model, [x], "torch_layernorm", **TOL)
    plan = compiled_plan(model, x)
    (segment,) = plan.segments
    assert segment.state == "compiled" and [p.eager for p in segment.pieces] == [None]  # type: ignore[union-attr]
