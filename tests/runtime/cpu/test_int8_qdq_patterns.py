"""The INT8 patterns ONNX Runtime's QDQ and QOperator files need (quant_patterns.py, lowerings/quantized.py), each
against REF on a small IR graph, with the tolerances of test_int8.py:
* a FakeQuantize of carried codes: nothing at all when its grid is the input's (ORT's Q/DQ pair after MaxPool and
  Reshape), a requantization of the codes otherwise;
* ReduceMean (a global average pool) of carried codes, a float result;
* an activation (SiLU / HardSwish written as x * act(x)) between two carried grids;
* the residual Add after a convolution's FakeQuantize, fused into the convolution (one rounding less than REF);
and the ONNX frontend's QOperator translation (qlinear.py) against ONNX Runtime on a one-node model."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.ir.graph import Output
from tests.runtime.cpu.helpers import graph, op, run_cpu, run_cpu_plain
from tests.util import run_ref
from tests.runtime.cpu.test_int8 import (_exact_mode, check_pattern, conv, conv_weights,  # noqa: F401
                                          float_range, fq, fq_signed)

RNG = np.random.default_rng(41)


def test_same_grid_fakequantize_passes_codes_through() -> None:
    """FQ -> Conv -> FQ(a) -> MaxPool -> FQ(a) -> Conv: MaxPool on codes, its FakeQuantize no step of work."""
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w1, w2 = conv_weights(16, 8, 3, 63), conv_weights(8, 16, 1, 63)

    def first(p: Output) -> Output:
        return op("Relu", conv(fq_signed(p, 3.0), w1))
    hi = float_range(first, x)

    def pooled(p: Output) -> Output:
        mp = op("MaxPool", fq(first(p), 0.0, hi), strides=[2, 2], pads_begin=[0, 0], pads_end=[0, 0],
                kernel=[2, 2], rounding_type="floor", auto_pad="explicit")
        return fq(mp, 0.0, hi)
    model = graph(lambda p: conv(pooled(p), w2, pad=0), x)
    got = check_pattern(model, [x], None, ["codes_passthrough_I8", "torch_qmaxpool_I8", "onednn_qconv_I8_f32out"])
    assert not any("fakequantize" in k for k in got), got


def test_requantization_between_grids() -> None:
    """FQ(a) -> Reshape -> FQ(b) with another range: the codes requantized, not a float FakeQuantize."""
    x = RNG.standard_normal((1, 8, 6, 6)).astype(np.float32)
    w1, w2 = conv_weights(16, 8, 3, 63), conv_weights(8, 16, 1, 63)

    def body(p: Output) -> Output:
        a = fq_signed(conv(fq_signed(p, 3.0), w1), 4.0)
        return conv(fq_signed(a, 2.5), w2, pad=0)
    got = check_pattern(graph(body, x), [x], None, ["torch_requantize_I8"])
    assert not any("fakequantize" in k for k in got), got


@pytest.mark.parametrize("keep", [True, False])
def test_global_average_pool_of_codes(keep: bool) -> None:
    """Conv -> FQ -> ReduceMean(H, W): the convolution writes codes, the mean reads them (float out)."""
    x = RNG.standard_normal((2, 8, 10, 10)).astype(np.float32)
    w = conv_weights(16, 8, 3, 63)

    def first(p: Output) -> Output:
        return conv(fq_signed(p, 3.0), w)
    hi = float_range(first, x)
    model = graph(lambda p: op("ReduceMean", fq_signed(first(p), hi), np.array([2, 3], np.int64), keep_dims=keep), x)
    # a code REF rounds the other way at a tie (test_int8.py) moves one mean by a step / 100: the tolerance
    want = run_ref(model, [x])[0]
    got, counts = run_cpu(model, [x])
    kinds = [c.exec_type for c in counts]
    assert got[0].shape == want.shape
    assert float(np.max(np.abs(got[0] - want))) <= 2 * (hi / 127) / 100 + 1e-6, kinds
    assert kinds[-1] == "torch_qreducemean_I8_f32out" and "onednn_qconv+fq_I8" in kinds, kinds
    assert not any("fakequantize" in k for k in kinds), kinds


@pytest.mark.parametrize("act", ["Sigmoid", "HSigmoid"])
def test_activation_between_grids(act: str) -> None:
    """YOLO's SiLU / MobileNet's HardSwish as ORT's QDQ writes them: conv -> FQ(a) -> {act -> FQ(b), a * FQ(b)}
    -> FQ(c) -> conv; the activation on codes, the convolution writing codes. Its own input draw: the float output
    of a 1x1 convolution moves 1% of its elements for one code REF rounds the other way at a tie (test_int8.py),
    so the 0.5% tolerance depends on the draw, which must not depend on the tests run before."""
    x = np.random.default_rng(43).standard_normal((1, 8, 10, 10)).astype(np.float32)
    w1, w2 = conv_weights(16, 8, 3, 63), conv_weights(8, 16, 1, 63)

    def first(p: Output) -> Output:
        return conv(fq_signed(p, 3.0), w1)
    hi = float_range(first, x)

    def gated(p: Output) -> Output:
        a = fq_signed(first(p), hi)
        return op("Multiply", a, fq(op(act, a), 0.0, 1.0))
    hi2 = float_range(gated, x)
    model = graph(lambda p: conv(fq_signed(gated(p), hi2), w2, pad=0), x)
    attr = {"Sigmoid": "sigmoid", "HSigmoid": "hardsigmoid"}[act]
    got = check_pattern(model, [x], None, ["onednn_qconv+fq_I8", f"torch_q{attr}+fq_I8", "torch_qmultiply+fq_I8"])
    assert not any("fakequantize" in k for k in got), got


@pytest.mark.parametrize("shortcut", ["identity", "conv", "identity_read_later"])
def test_residual_sum_fused_into_convolution(shortcut: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ResNet's block sum as ORT's QDQ writes it: conv -> FQ(a) -> Add(FQ'd shortcut) -> Relu -> FQ(out). The
    convolution takes the Add (oneDNN sum post-op, accumulating into the shortcut's codes: in place when nothing
    reads them later, else into a copy); REF rounds the convolution's result to grid a first, so an element may
    differ from REF by the half step of grid a that the kernel skips plus one output step."""
    monkeypatch.setenv("IRFORGE_CPU_INT8_SUM", "fused")
    x = RNG.standard_normal((1, 16, 10, 10)).astype(np.float32)
    w1, w2, w3 = conv_weights(16, 16, 3, 63), conv_weights(16, 16, 1, 63), conv_weights(8, 16, 1, 63)

    def block_in(p: Output) -> Output:
        return fq(op("Relu", p), 0.0, 3.0)

    def branch(p: Output) -> Output:
        return conv(block_in(p), w1)

    def short(p: Output) -> Output:
        return block_in(p) if shortcut != "conv" else fq_signed(conv(block_in(p), w2, pad=0), s_short)
    s_short = float_range(lambda p: conv(block_in(p), w2, pad=0), x) if shortcut == "conv" else 0.0
    s_a = float_range(branch, x)

    def block(p: Output) -> Output:
        return op("Relu", op("Add", fq_signed(branch(p), s_a), short(p)))
    hi = float_range(block, x)

    def full(p: Output) -> Output | list[Output]:
        out = fq(block(p), 0.0, hi)
        if shortcut == "identity_read_later":  # the shortcut's codes are read after the sum: the kernel copies them
            return op("Add", conv(out, w3, pad=0), conv(block_in(p), w3, pad=0))
        return conv(out, w3, pad=0)
    model = graph(full, x)
    got, counts = run_cpu(model, [x])
    kinds = [c.exec_type for c in counts]
    assert any("+sum+relu+fq_I8" in k for k in kinds) and not any("qadd" in k for k in kinds), kinds
    for outs in run_cpu_plain(model, [x]):
        np.testing.assert_array_equal(outs[0], got[0])
    # the block's codes against REF's: within one output step where grid a's step is at most twice the output's
    block_model = graph(lambda p: fq(block(p), 0.0, hi), x)
    want = run_ref(block_model, [x])[0]
    mine, block_counts = run_cpu(block_model, [x])
    step_out, step_a = hi / 255, s_a * 255 / 127 / 255
    err = np.abs(mine[0].astype(np.float64) - want)
    # before the final rounding the sums differ by at most half of grid a's step; on average by a quarter of it
    assert err.max() <= (step_a / 2 + step_out) * (1 + 1e-3), (err.max(), step_a, step_out)
    assert err.mean() <= step_a / 2, (err.mean(), step_a)
    # the final float output: near REF's (a flipped code moves the next layer's sums by one weight step)
    ref_full = run_ref(model, [x])[0]
    scale = float(np.max(np.abs(ref_full)))
    assert float(np.max(np.abs(got[0] - ref_full))) <= 0.05 * scale


# ---------------------------------------------------------------- the QOperator translation
def _qop_model(kind: str) -> tuple[bytes, dict[str, np.ndarray]]:
    """A float input -> QuantizeLinear -> one QOperator node -> DequantizeLinear model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(0.03, np.float32), "xs"), numpy_helper.from_array(np.uint8(128), "xz"),
             numpy_helper.from_array(np.array(0.05, np.float32), "ys"), numpy_helper.from_array(np.uint8(120), "yz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"])]
    out_shape = [1, 4, 6, 6]
    if kind == "QLinearConv":
        w = RNG.integers(-127, 128, (6, 4, 3, 3)).astype(np.int8)
        inits += [numpy_helper.from_array(w, "w"),
                  numpy_helper.from_array(RNG.uniform(0.005, 0.01, 6).astype(np.float32), "ws"),
                  numpy_helper.from_array(np.zeros(6, np.int8), "wz"),
                  numpy_helper.from_array(RNG.integers(-500, 500, 6).astype(np.int32), "b")]
        nodes.append(helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["yq"],
                                      pads=[1, 1, 1, 1]))
        out_shape = [1, 6, 6, 6]
    elif kind == "QLinearGlobalAveragePool":
        nodes.append(helper.make_node(kind, ["xq", "xs", "xz", "ys", "yz"], ["yq"], domain="com.microsoft"))
        out_shape = [1, 4, 1, 1]
    else:  # QLinearAdd of the input and its max-pooled self (MaxPool on the integers, as ORT writes it)
        nodes.append(helper.make_node("MaxPool", ["xq"], ["mq"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node(kind, ["xq", "xs", "xz", "mq", "xs", "xz", "ys", "yz"], ["yq"],
                                      domain="com.microsoft"))
    nodes.append(helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]))
    g = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    return onnx.shape_inference.infer_shapes(model).SerializeToString(), {"x": x}


@pytest.mark.parametrize("kind", ["QLinearConv", "QLinearGlobalAveragePool", "QLinearAdd"])
def test_qoperator_translation_matches_onnxruntime(kind: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    import irforge
    from tests.runtime.cpu.helpers import cpu_config

    data, inputs = _qop_model(kind)
    path = tmp_path / "q.onnx"
    path.write_bytes(data)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    request = irforge.Core().compile_model(irforge.convert_model(str(path)), "CPU",
                                           cpu_config({"PERF_COUNT": "YES"})).create_infer_request()
    got = list(request.infer([inputs["x"]]).values_list())[0]
    assert got.shape == want.shape
    # within one output step (0.05) of ONNX Runtime's integer arithmetic, and mostly exact
    err = np.abs(got.astype(np.float64) - want)
    assert err.max() <= 0.05 * 1.001 and np.mean(err > 1e-6) <= 0.02, err.max()
    if kind == "QLinearConv":
        assert any("onednn_qconv" in p.exec_type for p in request.get_profiling_info())
