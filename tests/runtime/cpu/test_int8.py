"""INT8 on the CPU device (lowerings/quantized.py, quant_patterns.py): each pattern against REF on the same INT8 IR,
whole quantized models (irforge.quantize and NNCF), the saturation behaviour of the INT8 kernels, and the
`precise` mark under the bf16 hint.

Tolerances. The INT8 kernels compute exact integer sums and requantize once in float32 where REF computes the
float convolution and rounds in float64, so the two agree exactly except where REF's value lies within float32
rounding of a tie between two levels: such an element lands on the neighbouring level. Hence, per pattern:
* an output read from a FakeQuantize (on a grid): every element within one quantization step of that
  FakeQuantize, and at most 0.5% of the elements off by more than float rounding;
* a float output of an INT8 layer: within 1e-4 of its range except where an upstream code flipped (at most 0.5%
  of the elements, each within 2% of the range).
Whole models (a flipped code early in the network moves many outputs a little): max |CPU - REF| <= 2% of the
output range, and the mean |CPU - REF| at most a quarter of the mean |INT8 - FP32| (the CPU's deviation from REF is
small against the quantization error itself).
The tests run with IRFORGE_CPU_INT8=exact (the default): saturation-free kernels everywhere."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch

import irforge
from irforge.ir.graph import Model, Output, constant, make
from irforge.ir.types import Type
from irforge.runtime.device import PerfCount
from irforge.runtime.devices.cpu import CPUExecutable
from irforge.runtime.devices.cpu.int8_tensors import Grid, grid_fake_quantize
from irforge.runtime.devices.cpu.quant_patterns import has_vnni, pair_safe
from tests.runtime.cpu.helpers import cpu_config, graph, op, run_cpu, run_cpu_plain
from tests.util import run_ref

RNG = np.random.default_rng(23)
PATTERN_FRACTION = 5e-3  # elements allowed off by more than float rounding (REF ties, see the docstring)
MODEL_REL = 2e-2


@pytest.fixture(autouse=True)
def _exact_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact kernels, INT8 for layers of any size (the default leaves layers under 4M multiply-accumulates per
    thread in f32; the pattern graphs here are small) and the residual Add as a quantized Add (REF's bits; the
    default fuses it into the convolution with one rounding less: `test_fused_residual_sum_stays_near_ref`)."""
    monkeypatch.setenv("IRFORGE_CPU_INT8", "exact")
    monkeypatch.setenv("IRFORGE_CPU_INT8_MIN_MACS", "0")
    monkeypatch.setenv("IRFORGE_CPU_INT8_SUM", "separate")


# ---------------------------------------------------------------- graph helpers
def f32(v: float) -> np.ndarray:
    return np.array(v, np.float32)


def fq(x: Output, lo: float, hi: float) -> Output:
    return op("FakeQuantize", x, f32(lo), f32(hi), f32(lo), f32(hi), levels=256)


def fq_signed(x: Output, s: float) -> Output:
    """i8-like symmetric range, as irforge and NNCF write it: 256 levels of s/127 from -128 to 127 steps."""
    return fq(x, -s * 128.0 / 127.0, s)


def i8_weights(q: np.ndarray, scale: np.ndarray) -> Output:
    """i8 Const -> Convert(f32) -> Multiply(per-output-channel scale), the INT8 IR's weight form."""
    conv = make("Convert", [constant(q.astype(np.int8))], destination_type=Type.f32).output(0)
    return op("Multiply", conv, scale.astype(np.float32))


def rand_q(shape: Sequence[int], qmax: int) -> np.ndarray:
    q = RNG.integers(-qmax, qmax + 1, shape)
    q[:, 0] = qmax  # every channel reaches its scale's full range, as per-channel quantization makes it
    return q.astype(np.int8)


def conv_weights(o: int, c: int, k: int, qmax: int = 127, group: int | None = None) -> Output:
    """i8 weights [O, C, k, k] (grouped: [G, O/G, C/G, k, k]) with per-output-channel scales."""
    if group is None:
        q = rand_q((o, c, k, k), qmax)
        scale = RNG.uniform(0.5, 1.5, (o, 1, 1, 1)) * 0.02 / np.sqrt(c * k * k / 9)
    else:
        q = rand_q((group, o // group, c // group, k, k), qmax)
        scale = RNG.uniform(0.5, 1.5, (group, o // group, 1, 1, 1)) * 0.05
    return i8_weights(q, scale)


def bias(x: Output, c: int, rank: int = 4) -> Output:
    return op("Add", x, (RNG.standard_normal((1, c) + (1,) * (rank - 2)) * 0.1).astype(np.float32))


def conv(x: Output, w: Output, stride: int = 1, pad: int = 1, group: bool = False, **kw: Any) -> Output:
    nsp = len(x.shape) - 2
    attrs = dict(strides=[stride] * nsp, pads_begin=[pad] * nsp, pads_end=[pad] * nsp, dilations=[1] * nsp,
                 auto_pad="explicit")
    attrs.update(kw)
    return op("GroupConvolution" if group else "Convolution", x, w, **attrs)


def float_range(model_out: Callable[..., Output], *inputs: np.ndarray) -> float:
    """max |value| of a float sub-graph on the inputs (to choose a FakeQuantize range)."""
    return float(np.max(np.abs(run_ref(graph(model_out, *inputs), list(inputs))[0])))


# ---------------------------------------------------------------- checks
def kinds(counts: Sequence[PerfCount]) -> list[str]:
    return [p.exec_type for p in counts]


def assert_int8_close(got: np.ndarray, want: np.ndarray, step: float | None, what: str) -> None:
    """`step`: the quantization step of the FakeQuantize the output is read from (None: a float output)."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    scale = max(float(np.max(np.abs(w))), 1e-6)
    err = np.abs(g - w)
    off = float(np.mean(err > 1e-5 * scale + (0.0 if step is None else 1e-3 * step)))
    assert off <= PATTERN_FRACTION, f"{what}: {off:.2%} of the elements differ from REF (max err {err.max():.3g})"
    limit = step * (1 + 1e-3) if step is not None else 2e-2 * scale
    assert float(err.max()) <= limit, f"{what}: max |CPU - REF| {err.max():.4g} > {limit:.4g}"


def check_pattern(model: Model, inputs: Sequence[np.ndarray], step: float | None, expect: Sequence[str]
                  ) -> list[str]:
    """CPU (profiled and plain runs) against REF; every `expect` substring names some step's exec type."""
    want = run_ref(model, list(inputs))[0]
    got, counts = run_cpu(model, inputs)
    what = " / ".join(kinds(counts))
    assert got[0].dtype == want.dtype and got[0].shape == want.shape
    assert_int8_close(got[0], want, step, what)
    for outs in run_cpu_plain(model, inputs):
        np.testing.assert_array_equal(outs[0], got[0])
    for e in expect:
        assert any(e in k for k in kinds(counts)), f"no step runs '{e}': {what}"
    return kinds(counts)


# ---------------------------------------------------------------- patterns
@pytest.mark.parametrize("qmax", [127, 63], ids=["8bit", "7bit"])
def test_conv_relu_requantized_into_next_conv(qmax: int) -> None:
    """FQ(signed) -> Conv -> bias -> Relu -> FQ(u8) -> Conv -> FQ: both convolutions on codes, the first requantizing
    straight to the second's input grid (8-bit weights: two saturation-free kernels, 'I8x2')."""
    x = RNG.standard_normal((1, 16, 14, 14)).astype(np.float32)
    w1 = conv_weights(32, 16, 3, qmax)
    w2 = conv_weights(24, 32, 1, qmax)
    b1 = (RNG.standard_normal((1, 32, 1, 1)) * 0.1).astype(np.float32)

    def first(p: Output) -> Output:
        return op("Relu", op("Add", conv(fq_signed(p, 3.0), w1), b1))
    hi1 = float_range(first, x)

    def body(p: Output) -> Output:
        return conv(fq(first(p), 0.0, hi1), w2, pad=0)
    hi2 = float_range(body, x)
    model = graph(lambda p: fq_signed(body(p), hi2), x)
    split = "I8x2" if qmax == 127 and not has_vnni() else "qconv+bias+relu+fq_I8"
    got = check_pattern(model, [x], hi2 / 127, ["onednn_qconv+bias+relu+fq_I8", split])
    # the last FakeQuantize is a model output: the second convolution writes its codes and returns their values
    assert got[-1] == "onednn_qconv+fq_I8_f32out" and not any("fakequantize" in k for k in got), got


def test_conv_float_output_where_float_layers_begin() -> None:
    """INT8 convolution whose result feeds float ops: the kernel dequantizes (f32 out) with bias and activation."""
    x = RNG.standard_normal((2, 8, 10, 10)).astype(np.float32)
    w = conv_weights(16, 8, 3, 63)
    model = graph(lambda p: op("Sigmoid", op("Relu", bias(conv(fq_signed(p, 3.0), w, stride=2), 16))), x)
    got = check_pattern(model, [x], None, ["onednn_qconv+bias+relu_I8_f32out", "torch_quantize_I8"])
    assert "torch_sigmoid" in " ".join(got)


@pytest.mark.parametrize("act", ["HSwish", "Clamp", "Swish"])
def test_depthwise_with_activation(act: str) -> None:
    """Depthwise GroupConvolution with a fused activation (MobileNet's hardswish, ReLU6, YOLO's SiLU)."""
    x = RNG.standard_normal((1, 24, 12, 12)).astype(np.float32)
    w = conv_weights(24, 24, 3, 127, group=24)
    attrs = {"min": 0.0, "max": 6.0} if act == "Clamp" else {}

    def body(p: Output) -> Output:
        return op(act, bias(conv(fq_signed(p, 3.0), w, group=True), 24), **attrs)
    lo_hi = float_range(body, x)
    w2 = conv_weights(8, 24, 1, 63)
    model = graph(lambda p: conv(fq_signed(body(p), lo_hi), w2, pad=0), x)
    attr = {"HSwish": "hardswish", "Clamp": "hardtanh", "Swish": "swish"}[act]
    check_pattern(model, [x], None, [f"onednn_qgroupconv+bias+{attr}+fq_I8", "onednn_qconv_I8_f32out"])


def test_asymmetric_pads_stride_and_1d() -> None:
    """Asymmetric padding (padded with the zero point's code) and a 1-D convolution (a unit-height 2-D one)."""
    x = RNG.standard_normal((1, 8, 11, 9)).astype(np.float32)
    w = conv_weights(8, 8, 3, 63)
    model = graph(lambda p: conv(fq(p, -2.0, 3.0), w, stride=2, pads_begin=[0, 1], pads_end=[1, 2]), x)
    check_pattern(model, [x], None, ["onednn_qconv_I8_f32out"])
    x1 = RNG.standard_normal((2, 6, 20)).astype(np.float32)
    q = rand_q((10, 6, 5), 63)
    s = RNG.uniform(0.01, 0.03, (10, 1, 1))
    model1 = graph(lambda p: bias(conv(fq_signed(p, 3.0), i8_weights(q, s), pad=2), 10, rank=3), x1)
    check_pattern(model1, [x1], None, ["onednn_qconv+bias_I8_f32out"])


def test_residual_add_relu_maxpool() -> None:
    """ResNet's block: conv -> bias -> FQ, + FQ'd identity -> Relu -> FQ (quantized add on codes) -> MaxPool on
    codes -> conv."""
    x = RNG.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w1 = conv_weights(16, 16, 3)
    w2 = conv_weights(8, 16, 1)

    def branch(p: Output) -> Output:
        return bias(conv(fq(op("Relu", p), 0.0, 3.0), w1), 16)
    s_b = float_range(branch, x)

    def block(p: Output) -> Output:
        identity = fq(op("Relu", p), 0.0, 3.0)
        return op("Relu", op("Add", fq_signed(branch(p), s_b), identity))
    hi = float_range(block, x)

    def full(p: Output) -> Output:
        pooled = op("MaxPool", fq(block(p), 0.0, hi), strides=[2, 2], pads_begin=[1, 1], pads_end=[1, 1],
                    kernel=[3, 3], rounding_type="floor", auto_pad="explicit")
        return conv(pooled, w2, pad=0)
    model = graph(full, x)
    check_pattern(model, [x], None, ["torch_qadd+relu+fq_I8", "torch_qmaxpool_I8", "onednn_qconv_I8"])


def test_concat_split_and_multiply_on_codes() -> None:
    """Concat of two branches on one grid, a Split of codes (YOLO's C2f), and a squeeze-excitation Multiply."""
    x = RNG.standard_normal((1, 8, 10, 10)).astype(np.float32)
    wa = conv_weights(8, 8, 3, 63)
    wb = conv_weights(8, 8, 1, 63)
    wc = conv_weights(12, 16, 1, 63)

    def branches(p: Output) -> tuple[Output, Output]:
        q = fq_signed(p, 3.0)
        return op("Relu", conv(q, wa)), op("Relu", conv(q, wb, pad=0))
    hi = float_range(lambda p: op("Concat", *branches(p), axis=1), x)

    def full(p: Output) -> Output:
        a, b = branches(p)
        c = op("Concat", fq(a, 0.0, hi), fq(b, 0.0, hi), axis=1)  # one range for all inputs, as quantizers write
        s0, s1 = make("Split", [c, constant(np.array(1, np.int64))], num_splits=2).outputs
        joined = op("Concat", s1, s0, axis=1)
        mean = op("ReduceMean", op("Concat", p, p, axis=1), np.array([2, 3], np.int64), keep_dims=True)
        gate = fq(op("HSigmoid", mean), 0.0, 1.0)
        gated = fq(op("Multiply", joined, gate), 0.0, hi)
        return conv(gated, wc, pad=0)
    model = graph(full, x)
    check_pattern(model, [x], None, ["onednn_qconv+relu+fq_I8", "torch_concat_I8", "torch_split_I8",
                                     "torch_qmultiply+fq_I8", "onednn_qconv_I8_f32out"])


@pytest.mark.parametrize("qmax", [127, 63], ids=["8bit", "7bit"])
def test_linear_gelu_requantized(qmax: int) -> None:
    """BERT's feed-forward: FQ -> MatMul(i8) -> bias -> Gelu -> FQ -> MatMul(i8, transposed) -> bias, on 3-D."""
    x = RNG.standard_normal((2, 5, 32)).astype(np.float32)
    q1 = rand_q((48, 32), qmax).T.copy()  # [K, N]
    s1 = RNG.uniform(0.01, 0.02, (1, 48))
    q2 = rand_q((16, 48), qmax)  # [N, K], transpose_b
    s2 = RNG.uniform(0.01, 0.02, (16, 1))

    def ffn(p: Output) -> Output:
        h = op("MatMul", fq_signed(p, 3.0), i8_weights(q1, s1), transpose_a=False, transpose_b=False)
        return op("Gelu", op("Add", h, np.full(48, 0.05, np.float32)), approximation_mode="ERF")
    hi = float_range(ffn, x)
    step = (hi + 0.2) / 255
    lo = -round(0.2 / step) * step  # an asymmetric range with zero on a level (the mixed preset's)
    model = graph(lambda p: op("Add", op("MatMul", fq(ffn(p), lo, lo + 255 * step), i8_weights(q2, s2),
                                         transpose_a=False,
                                         transpose_b=True), np.full(16, 0.1, np.float32)), x)
    check_pattern(model, [x], None, ["onednn_qlinear+bias+gelu+fq_I8", "onednn_qlinear+bias_I8"])


def test_fq_shared_with_a_model_output_stays_float() -> None:
    """A FakeQuantize whose result is also a model output keeps floats; the INT8 convolution quantizes it on entry
    (exactly: the values lie on the grid)."""
    x = RNG.standard_normal((1, 4, 8, 8)).astype(np.float32)
    w = conv_weights(4, 4, 3, 63)

    def both(p: Output) -> list[Output]:
        q = fq_signed(p, 2.5)
        return [q, conv(q, w)]
    model = graph(both, x)
    want = run_ref(model, [x])
    got, counts = run_cpu(model, [x])
    assert_int8_close(got[0], want[0], 2.5 / 127, "fake quantize")
    assert_int8_close(got[1], want[1], None, "conv")
    assert "torch_fakequantize_f32" in kinds(counts) and "onednn_qconv_I8_f32out" in kinds(counts)


# ---------------------------------------------------------------- FakeQuantize alone
def test_fake_quantize_float_fast_path() -> None:
    """Standalone 256-level FakeQuantize (nothing INT8 reads it): per tensor, quantize + dequantize in two vectorized
    passes, traced into segments; equal to REF up to float rounding (one level at REF near-ties)."""
    x = (RNG.standard_normal((1, 8, 16, 16)) * 2).astype(np.float32)
    model = graph(lambda p: op("Relu", fq(p, -4.0 * 128 / 127, 4.0)), x)
    got, counts = run_cpu(model, [x])
    assert kinds(counts)[0] == "torch_fakequantize_f32"
    assert_int8_close(got[0], run_ref(model, [x])[0], 4.0 / 127, "fake quantize")
    for outs in run_cpu_plain(model, [x]):  # traced into a oneDNN Graph segment with the Relu
        np.testing.assert_array_equal(outs[0], got[0])
    # per-channel ranges with zero on a level (NNCF's before depthwise convolutions): five vectorized passes
    s = np.array([1.0, 2.0, 0.5, 4.0, 1.5, 3.0, 2.5, 1.0], np.float32).reshape(1, 8, 1, 1)
    lo, hi = np.where(np.arange(8).reshape(1, 8, 1, 1) % 2 == 0, -s * 128 / 127, 0.0).astype(np.float32), s
    per_channel = graph(lambda p: op("FakeQuantize", p, lo, hi, lo, hi, levels=256), x)
    got, counts = run_cpu(per_channel, [x])
    assert kinds(counts) == ["torch_fakequantize_per_channel_f32"]
    want = run_ref(per_channel, [x])[0]
    assert_int8_close(got[0], want, float(s.max()) / 127, "per-channel fake quantize")


def test_fake_quantize_general_is_bit_exact() -> None:
    """FakeQuantize the fast path cannot express (per-channel ranges, levels other than 256, output range differing
    from the input range): the reference formula computed as REF computes it (float64), ties and out-of-range
    values included."""
    ties = (np.arange(-300, 300) * 0.05).astype(np.float32).reshape(1, 2, 10, 30)  # every other value a tie
    model = graph(lambda p: op("FakeQuantize", p, f32(-12.8), f32(12.7), f32(-1.0), f32(1.0), levels=256), ties)
    got, counts = run_cpu(model, [ties])
    np.testing.assert_array_equal(got[0], run_ref(model, [ties])[0])
    assert kinds(counts) == ["torch_fakequantize_exact_f32"]
    x = (RNG.standard_normal((2, 3, 5, 5)) * 2).astype(np.float32)
    lo = np.array([-1.0, -2.0, 0.0], np.float32).reshape(1, 3, 1, 1)
    hi = np.array([1.0, 3.0, 0.5], np.float32).reshape(1, 3, 1, 1)
    for levels in (256, 255, 16):
        m = graph(lambda p: op("FakeQuantize", p, lo, hi, lo * 2, hi * 2, levels=levels), x)
        np.testing.assert_array_equal(run_cpu(m, [x])[0][0], run_ref(m, [x])[0])


def test_fake_quantize_traced_formula_matches_eager() -> None:
    """The per-tensor float FakeQuantize: its eager kernel and its trace function (what a oneDNN Graph segment
    computes) give the same bits, ties and out-of-range values included, on every element within one level of
    torch's quantize + dequantize (which rounds some exact ties the other way)."""
    grid = Grid(4.0 / 127, 128)
    eager, traced = grid_fake_quantize(grid)
    ties = torch.arange(-300, 300, dtype=torch.float32) * (grid.scale / 2)
    x = torch.cat([ties, torch.from_numpy(RNG.standard_normal(4000).astype(np.float32) * 3)]).reshape(1, 8, 23, 25)
    x = x.contiguous(memory_format=torch.channels_last)
    a, b = eager(x), traced(x)
    assert torch.equal(a, b) and a.is_contiguous(memory_format=torch.channels_last)
    qd = torch.quantize_per_tensor(x, grid.scale, grid.zero_point, torch.quint8).dequantize()
    assert float((a - qd).abs().max()) <= grid.scale * (1 + 1e-5)
    assert float((a - qd).abs().gt(1e-5).float().mean()) < 0.05


def test_fake_quantize_between_f32_layers_stays_in_one_segment(monkeypatch: pytest.MonkeyPatch) -> None:
    """f32 layers (under IRFORGE_CPU_INT8_MIN_MACS) with FakeQuantize between them: the FakeQuantize steps trace
    into the same compiled oneDNN Graph segment as the convolutions (post-ops of the partition before them), and
    the result stays within one level of REF."""
    monkeypatch.delenv("IRFORGE_CPU_INT8_MIN_MACS")
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w1 = (RNG.standard_normal((16, 8, 3, 3)) * 0.1).astype(np.float32)
    w2 = (RNG.standard_normal((8, 16, 1, 1)) * 0.1).astype(np.float32)
    model = graph(lambda p: fq_signed(conv(fq(op("Relu", conv(fq_signed(p, 3.0), w1)), 0.0, 2.0), w2, pad=0), 1.0), x)
    runner = CPUExecutable(model, cpu_config()).create_runner()
    got = [runner.run([x]) for _ in range(2)]
    plan = next(iter(runner.executable.plans.values()))
    assert [s.exec_type for s in plan.steps].count("torch_fakequantize_f32") == 3
    assert len(plan.segments) == 1 and plan.segments[0].state == "compiled"
    seg = plan.segments[0]
    assert (seg.start, seg.stop) == (0, len(plan.steps)) and seg.pieces and all(p.eager is None for p in seg.pieces)
    np.testing.assert_array_equal(got[0][0], got[1][0])
    assert_int8_close(got[0][0], run_ref(model, [x])[0], 1.0 / 127, "f32 layers + traced FakeQuantize")


def test_short_reductions_stay_f32_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above IRFORGE_CPU_INT8_MIN_MACS, a layer with fewer than MIN_DEPTH products per output (a depthwise
    convolution, a 3x3 convolution on 3 channels) still runs f32 unless the threshold is 0; a deep one runs INT8."""
    monkeypatch.setenv("IRFORGE_CPU_INT8_MIN_MACS", "1000")
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    shallow = graph(lambda p: conv(fq_signed(p, 3.0), conv_weights(16, 3, 3, 63)), x)
    _, counts = run_cpu(shallow, [x])
    assert not any("I8" in k for k in kinds(counts)), kinds(counts)
    xd = RNG.standard_normal((1, 16, 16, 16)).astype(np.float32)
    dw = graph(lambda p: conv(fq_signed(p, 3.0), conv_weights(16, 16, 3, 63, group=16), group=True), xd)
    _, counts = run_cpu(dw, [xd])
    assert not any("I8" in k for k in kinds(counts)), kinds(counts)
    deep = graph(lambda p: conv(fq_signed(p, 3.0), conv_weights(16, 16, 3, 63)), xd)
    check_pattern(deep, [xd], None, ["onednn_qconv_I8_f32out"])
    monkeypatch.setenv("IRFORGE_CPU_INT8_MIN_MACS", "0")
    check_pattern(shallow, [x], None, ["onednn_qconv_I8_f32out"])


def test_small_layers_stay_f32_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under IRFORGE_CPU_INT8_MIN_MACS (default 4M per thread) a layer runs f32 on the fake-quantized values, and
    codes do not flow where no INT8 layer reads them (the Add before it stays float)."""
    monkeypatch.delenv("IRFORGE_CPU_INT8_MIN_MACS")
    x = RNG.standard_normal((1, 8, 8, 8)).astype(np.float32)
    w = conv_weights(8, 8, 3, 63)
    model = graph(lambda p: conv(fq(op("Add", fq(p, 0.0, 1.0), fq(p, 0.0, 2.0)), 0.0, 3.0), w), x)
    got, counts = run_cpu(model, [x])
    assert not any("I8" in k for k in kinds(counts)), kinds(counts)
    assert kinds(counts).count("torch_fakequantize_f32") == 3
    assert_int8_close(got[0], run_ref(model, [x])[0], None, "f32 layer")


def test_int8_off_runs_float(monkeypatch: pytest.MonkeyPatch) -> None:
    """IRFORGE_CPU_INT8=off: no INT8 kernel; FakeQuantize as the exact float formula, layers in f32."""
    monkeypatch.setenv("IRFORGE_CPU_INT8", "off")
    x = RNG.standard_normal((1, 8, 8, 8)).astype(np.float32)
    w = conv_weights(8, 8, 3, 63)
    model = graph(lambda p: conv(fq_signed(p, 3.0), w), x)
    got, counts = run_cpu(model, [x])
    assert not any("I8" in k for k in kinds(counts)), kinds(counts)
    np.testing.assert_allclose(got[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- saturation
SHAPES = [  # (name, C, O, k, stride, groups, size)
    ("conv3x3", 64, 32, 3, 1, 1, 10),
    ("conv1x1", 96, 32, 1, 1, 1, 8),
    ("stem7x7", 3, 16, 7, 2, 1, 24),
    ("group4", 32, 32, 3, 1, 4, 8),
    ("depthwise", 32, 32, 3, 1, 32, 8),
]


def _adversarial_conv(name: str, c: int, o: int, k: int, stride: int, groups: int, size: int, qmax: int
                      ) -> tuple[Model, np.ndarray, np.ndarray]:
    """Codes spanning the whole u8 range (255 at most inputs) into a convolution with weights of +-qmax: the worst
    case for 16-bit pair sums. Returns the model, its input and the exact result (int64 sums, then scales)."""
    x_codes = np.where(RNG.random((1, c, size, size)) < 0.7, 255, RNG.integers(0, 256, (1, c, size, size)))
    x = (x_codes * 0.01).astype(np.float32)  # grid [0, 2.55]: the codes themselves
    q = RNG.integers(-qmax, qmax + 1, (o, c // groups, k, k))
    q[RNG.random(q.shape) < 0.5] = qmax  # many same-sign pairs at full range
    scale = np.full((o, 1, 1, 1), 0.001)
    if groups > 1:
        w = i8_weights(q.reshape(groups, o // groups, c // groups, k, k), scale.reshape(groups, o // groups, 1, 1, 1))
    else:
        w = i8_weights(q, scale)
    pad = k // 2
    model = graph(lambda p: conv(fq(p, 0.0, 2.55), w, stride=stride, pad=pad, group=groups > 1), x)
    exact = torch.nn.functional.conv2d(torch.from_numpy(x_codes.astype(np.float64)),
                                       torch.from_numpy(q.astype(np.float64)), None, stride, pad, 1, groups)
    return model, x, exact.numpy() * 0.01 * np.float32(0.001)


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("qmax", [127, 63], ids=["8bit", "7bit"])
def test_exact_mode_never_saturates(shape: tuple[Any, ...], qmax: int) -> None:
    """Worst-case inputs and weights: exact mode equals the exact integer result (saturation-free kernels: the
    weights' pairs are safe, or they run split in two)."""
    model, x, exact = _adversarial_conv(*shape, qmax=qmax)
    got, counts = run_cpu(model, [x])
    np.testing.assert_allclose(got[0], exact, rtol=1e-6, atol=1e-6 * np.abs(exact).max())
    q_safe = qmax == 63 or shape[5] == shape[1]
    assert any(("I8x2" in k) != (q_safe or has_vnni()) for k in kinds(counts) if "qconv" in k or "qgroupconv" in k)


@pytest.mark.skipif(has_vnni(), reason="needs a CPU without VNNI: with AVX512-VNNI, AVX-VNNI or AMX-INT8 the INT8 "
                    "products accumulate in 32 bits and nothing saturates")
def test_fast_mode_saturates_like_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    """IRFORGE_CPU_INT8=fast runs 8-bit weights in one kernel: on worst-case data the 16-bit pair sums saturate
    (the result differs from the exact one), which also proves that the INT8 kernel computed it; 7-bit weights
    stay exact."""
    monkeypatch.setenv("IRFORGE_CPU_INT8", "fast")
    model, x, exact = _adversarial_conv("conv3x3", 64, 32, 3, 1, 1, 10, qmax=127)
    got, counts = run_cpu(model, [x])
    assert "onednn_qconv_I8_f32out" in kinds(counts)
    assert float(np.max(np.abs(got[0] - exact))) > 0.05 * float(np.max(np.abs(exact)))
    model7, x7, exact7 = _adversarial_conv("conv3x3", 64, 32, 3, 1, 1, 10, qmax=63)
    np.testing.assert_allclose(run_cpu(model7, [x7])[0][0], exact7, rtol=1e-6, atol=1e-6 * np.abs(exact7).max())


def test_pair_safety_rule() -> None:
    """Pairs are adjacent input channels (2j, 2j+1) at one tap: safe when each pair's positive and negative sums
    are at most 128."""
    q = np.zeros((2, 4, 1, 1), np.int8)
    assert pair_safe(q)
    q[0, 0], q[0, 1] = 64, 64
    assert pair_safe(q)
    q[0, 1] = 65
    assert not pair_safe(q)
    q[0, 1] = -127  # opposite signs never saturate
    assert pair_safe(q)
    q[1, 1], q[1, 2] = 127, 127  # channels 1 and 2 are in different pairs
    assert pair_safe(q)
    assert pair_safe(np.full((4, 1, 3, 3), 127, np.int8))  # depthwise: no pairs


# ---------------------------------------------------------------- whole models
def _samples(model: Model, inputs: dict[str, np.ndarray], count: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(count):
        out.append({k: rng.standard_normal(v.shape).astype(np.float32) if v.dtype.kind == "f" else v
                    for k, v in inputs.items()})
    return out


def assert_model_close(int8: Model, fp32: Model, inputs: Sequence[np.ndarray], what: str, mean_rel: float = 0.75
                       ) -> list[str]:
    want = run_ref(int8, list(inputs))
    got, counts = run_cpu(int8, inputs)
    fp = irforge.Core().compile_model(fp32, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(list(inputs)).values_list()
    for i, (g, w, f) in enumerate(zip(got, want, fp)):
        if w.dtype.kind != "f":
            np.testing.assert_array_equal(g, w)
            continue
        scale = max(float(np.max(np.abs(w))), 1e-6)
        diff = np.abs(g.astype(np.float64) - w)
        quant = float(np.mean(np.abs(f.astype(np.float64) - w)))
        print(f"{what} output {i}: max |CPU-REF| {diff.max():.3g} (range {scale:.3g}), mean {diff.mean():.3g}, "
              f"mean |INT8-FP32| {quant:.3g}")
        assert diff.max() <= MODEL_REL * scale, \
            f"{what} output {i}: max |CPU - REF| {diff.max():.3g} > {MODEL_REL} * {scale:.3g}"
        # fused requantization rounds (acc * scale + bias) in another order than REF's FakeQuantize formula, so a
        # code within f32 rounding of a tie can flip by one step and propagate (7-bit-weight MobileNetV3: 0.02% of
        # one layer's codes, mean 0.6x the quantization noise at the logits); a wrong kernel is far above that
        assert diff.mean() <= mean_rel * quant + 1e-7 * scale, \
            f"{what} output {i}: mean |CPU - REF| {diff.mean():.3g} not small against mean |INT8 - FP32| {quant:.3g}"
    assert any("I8" in k for k in kinds(counts)), kinds(counts)
    return kinds(counts)


ZOO_INT8 = ["resnet", "mobilenetv3", "yolo", "bert", "unet"]


@pytest.mark.parametrize("name", ZOO_INT8)
def test_zoo_model_quantizes_and_runs(name: str, zoo_ir: Callable[[str, int], Any]) -> None:
    """irforge.quantize (4 random calibration samples) then CPU against REF on every input set."""
    from tests.models import zoo

    spec = zoo.MODELS[name]
    fp32 = zoo_ir(name, 17).model
    sets = spec.input_sets()
    int8 = irforge.quantize(fp32, _samples(fp32, sets[0], 4), subset_size=4, device="REF", progress=False)
    for inputs in sets:
        got = assert_model_close(int8, fp32, list(inputs.values()), f"{name} {[v.shape for v in inputs.values()]}")
        assert sum("onednn_q" in k for k in got) >= 3, got


@pytest.mark.parametrize("name", ["resnet", "mobilenetv3"])
def test_fused_residual_sum_stays_near_ref(name: str, zoo_ir: Callable[[str, int], Any],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The default IRFORGE_CPU_INT8_SUM=fused: every residual Add in the convolution's sum post-op, the result as far
    from REF as REF is from FP32 at most (the skipped rounding of each block's branch is one more quantization of
    the same size; measured 1.0x on resnet, 1.3x on mobilenetv3), never a wrong kernel's error."""
    from tests.models import zoo

    monkeypatch.setenv("IRFORGE_CPU_INT8_SUM", "fused")
    spec = zoo.MODELS[name]
    fp32 = zoo_ir(name, 17).model
    inputs = spec.input_sets()[0]
    int8 = irforge.quantize(fp32, _samples(fp32, inputs, 4), subset_size=4, device="REF", progress=False)
    got = assert_model_close(int8, fp32, list(inputs.values()), f"{name} fused sum", mean_rel=2.0)
    assert any("+sum" in k for k in got) and not any("qadd" in k for k in got), got


def test_digits_cnn_int8_on_cpu() -> None:
    """The trained digits CNN quantized on real data: CPU equals REF and keeps the INT8 model's accuracy."""
    from tests.quantization import digits

    data = digits.load()
    fp32 = irforge.convert_model(str(data.onnx_path))
    int8 = irforge.quantize(fp32, data.samples("train", 100), subset_size=100, device="REF", progress=False)
    xs = np.concatenate(data.samples("test", 64))
    assert_model_close(int8, fp32, [xs], "digits")
    cpu = irforge.Core().compile_model(int8, "CPU", cpu_config())([xs])[0]
    ref = irforge.Core().compile_model(int8, "REF")([xs])[0]
    assert np.mean(np.argmax(cpu, 1) == np.argmax(ref, 1)) >= 0.98


def test_nncf_int8_ir_runs_on_cpu(zoo_ir: Callable[[str, int], Any], tmp_path: Any) -> None:
    """NNCF's INT8 IR of the zoo ResNet (nncf.quantize on OpenVINO's model of the same ONNX, saved with
    openvino.save_model) read by irforge: the same patterns run INT8 on CPU and equal REF."""
    nncf = pytest.importorskip("nncf")
    ov = pytest.importorskip("openvino")
    from tests.models import zoo

    conv = zoo_ir("resnet", 17)
    sample = zoo.MODELS["resnet"].input_sets()[0]
    data = [s["input"] for s in _samples(conv.model, sample, 4)]
    q = nncf.quantize(ov.Core().read_model(str(conv.onnx_path)), nncf.Dataset(data), subset_size=4)
    path = tmp_path / "resnet_nncf.xml"
    ov.save_model(q, str(path), compress_to_fp16=False)
    int8 = irforge.read_model(str(path))
    inputs = [sample["input"]]
    got = assert_model_close(int8, conv.model, inputs, "resnet NNCF")
    assert sum("onednn_qconv" in k for k in got) >= 5 and "torch_qadd+relu+fq_I8" in " ".join(got), got


# ---------------------------------------------------------------- bf16 and `precise`
def test_precise_layers_stay_f32_under_bf16() -> None:
    """INFERENCE_PRECISION_HINT=bf16: a convolution marked `precise` (rt_info, as the accuracy-aware search marks
    reverted layers) runs f32 and gives the f32 result; the unmarked one runs bf16."""
    x = RNG.standard_normal((1, 8, 8, 8)).astype(np.float32)
    wa = RNG.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2
    wb = RNG.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2

    def build(p: Output) -> list[Output]:
        a = conv(p, constant(wa))
        a.node.rt_info["precise"] = {"version": "0"}
        return [a, conv(p, constant(wb))]
    model = graph(build, x)
    got, counts = run_cpu(model, [x], {"INFERENCE_PRECISION_HINT": "bf16"})
    by_name = {p.node_name: p.exec_type for p in counts}
    precise = [n for n in model.nodes() if "precise" in n.rt_info][0]
    assert by_name[precise.name].endswith("_f32"), by_name
    assert any(k.endswith("_bf16") for k in by_name.values()), by_name
    f32_out = run_cpu(model, [x], {"INFERENCE_PRECISION_HINT": "f32"})[0]
    np.testing.assert_allclose(got[0], f32_out[0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(got[1], f32_out[1], rtol=1e-6, atol=1e-6)
