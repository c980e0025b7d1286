"""BatchNormDecomposition (irforge/transforms/batchnorm.py) on real graphs, alone and followed by the weight
folding passes: Conv + BN + ReLU must end as Convolution + Add + Relu (the BN scale in the weights, its shift as
the bias) for every weighted op BatchNorm follows in practice, with REF and OpenVINO giving ONNX Runtime's outputs
of the original graph (f32: rtol = atol = 1e-5; f16: 5e-3). Torch exports with its constant folding off, which
would fuse eval-mode BatchNorm into the Conv itself.

Also the zoo models (resnet, mobilenetv3, unet, yolo) through BatchNorm decomposition, Pad fusion and weight
folding: every BatchNorm gone, outputs within the zoo's 1e-4."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

import irforge
from irforge.transforms.base import Pass
from irforge.transforms.batchnorm import BatchNormDecomposition
from tests.models import light, zoo
from tests.transforms.test_linear_folding import (
    F16_TOL, X4, all_folding, case, check, check_untouched, conv, convert, deconv, export, fold, nodes, onnx_graph,
    ops, run_ort_unoptimized, weight_folding)
from tests.util import assert_close, run_openvino, run_ref

torch.manual_seed(1)


def bn(c: int, dims: int = 2) -> nn.Module:
    """An eval-mode BatchNorm with non-trivial statistics and affine parameters."""
    m = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](c)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.3, 0.3)
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.3, 2.0)
    return m.eval()


def _decompose() -> list[Pass]:
    return [BatchNormDecomposition()]


def _decompose_and_fold() -> list[Pass]:
    return [BatchNormDecomposition(), *weight_folding()]


def seq(*mods: nn.Module) -> nn.Module:
    return nn.Sequential(*mods).eval()


# module, input shape, ops after the decomposition alone, ops after decomposition + weight folding
BN: dict[str, tuple[nn.Module, tuple[int, ...], dict[str, int], dict[str, int]]] = {
    "conv_bn_relu": (seq(conv(padding=1, bias=False), bn(6), nn.ReLU()), X4,
                     {"Convolution": 1, "Multiply": 1, "Add": 1, "Relu": 1}, {"Convolution": 1, "Add": 1, "Relu": 1}),
    "conv_with_bias": (seq(conv(padding=1), bn(6)), X4, {"Convolution": 1, "Multiply": 1, "Add": 2},
                       {"Convolution": 1, "Add": 1}),
    "depthwise": (seq(conv(4, 4, groups=4, padding=1, bias=False), bn(4)), X4,
                  {"GroupConvolution": 1, "Multiply": 1, "Add": 1}, {"GroupConvolution": 1, "Add": 1}),
    "grouped": (seq(conv(4, 6, groups=2, stride=2, bias=False), bn(6)), X4,
                {"GroupConvolution": 1, "Multiply": 1, "Add": 1}, {"GroupConvolution": 1, "Add": 1}),
    "deconv": (seq(deconv(stride=2, padding=1, bias=False), bn(6)), X4,
               {"ConvolutionBackpropData": 1, "Multiply": 1, "Add": 1}, {"ConvolutionBackpropData": 1, "Add": 1}),
    "grouped_deconv": (seq(deconv(4, 6, groups=2, stride=2, bias=False), bn(6)), X4,
                       {"GroupConvolutionBackpropData": 1, "Multiply": 1, "Add": 1},
                       {"GroupConvolutionBackpropData": 1, "Add": 1}),
    "conv1d": (seq(nn.Conv1d(4, 6, 3, bias=False), bn(6, 1)), (2, 4, 9),
               {"Convolution": 1, "Multiply": 1, "Add": 1}, {"Convolution": 1, "Add": 1}),
    "conv3d": (seq(nn.Conv3d(4, 6, 3, padding=1, bias=False), bn(6, 3)), (1, 4, 3, 5, 5),
               {"Convolution": 1, "Multiply": 1, "Add": 1}, {"Convolution": 1, "Add": 1}),
    "linear_bn1d": (seq(nn.Linear(8, 6), bn(6, 1)), (5, 8), {"MatMul": 1, "Multiply": 1, "Add": 2},
                    {"MatMul": 1, "Add": 1}),
    # BN before a padded conv: its scale folds into the weights, only x + shift/scale is left before the conv
    "bn_before_padded_conv": (seq(bn(4), conv(padding=1, bias=False)), X4,
                              {"Multiply": 1, "Add": 1, "Convolution": 1}, {"Add": 1, "Convolution": 1}),
    # BN before an unpadded conv: all of it folds, the shift becomes the conv's bias
    "bn_before_1x1_conv": (seq(bn(4), conv(k=1)), X4, {"Multiply": 1, "Add": 2, "Convolution": 1},
                           {"Convolution": 1, "Add": 1}),
    "bn_alone": (seq(bn(4)), X4, {"Multiply": 1, "Add": 1}, {"Multiply": 1, "Add": 1}),
}


@pytest.mark.parametrize("case_", BN.values(), ids=BN.keys())
def test_batchnorm(case_: tuple[nn.Module, tuple[int, ...], dict[str, int], dict[str, int]]) -> None:
    module, shape, decomposed, folded = case_
    proto = export(module, shape, fold_constants=False)
    check(proto, decomposed, _decompose)
    check(proto, folded, _decompose_and_fold)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_conv_bn_relu_weights(opset: int) -> None:
    """The scale is gamma / sqrt(var + eps) (computed in f64), the weights W * scale per output channel, the
    bias beta - mean * scale."""
    c, b = conv(padding=1, bias=False), bn(6)
    proto = export(seq(c, b, nn.ReLU()), X4, opset=opset, fold_constants=False)
    model = check(proto, {"Convolution": 1, "Add": 1, "Relu": 1}, _decompose_and_fold)
    g, beta, mean, var = (t.detach().double().numpy() for t in (b.weight, b.bias, b.running_mean, b.running_var))
    scale = g / np.sqrt(var + b.eps)
    (convolution,), (add,) = nodes(model, "Convolution"), nodes(model, "Add")
    w = c.weight.detach().double().numpy() * scale.reshape(6, 1, 1, 1)
    np.testing.assert_allclose(convolution.inputs[1].node.data, w, rtol=1e-6)
    np.testing.assert_allclose(add.inputs[1].node.data, (beta - mean * scale).reshape(1, 6, 1, 1), rtol=1e-6)
    assert add.inputs[0] is convolution.output(0)


def test_decomposed_constants_are_per_channel() -> None:
    """[1, C, 1, 1, 1] constants for a 5-D input; the Add keeps the BatchNorm's name (users find the layer)."""
    proto = export(seq(bn(6, 3)), (1, 6, 2, 3, 4), fold_constants=False)
    (bn_name,) = [n.name for n in convert(proto).ops() if n.type == "BatchNormInference"]
    model = check(proto, {"Multiply": 1, "Add": 1}, _decompose)
    (mul,), (add,) = nodes(model, "Multiply"), nodes(model, "Add")
    assert mul.inputs[1].node.data.shape == add.inputs[1].node.data.shape == (1, 6, 1, 1, 1)
    assert add.name == bn_name


def test_conv_bn_used_twice() -> None:
    """The conv output also feeds a second output: the BN still decomposes, but its Multiply cannot fold."""
    c, b = conv(padding=1, bias=False), bn(6)
    proto = export(case(lambda x: (b(c(x)), c(x)), c, b), X4, fold_constants=False)
    check(proto, {"Convolution": 1, "Multiply": 1, "Add": 1}, _decompose_and_fold)


def _onnx_bn(t: int, dtype: type, x_shape: list[int] | None, gamma: float = 1.0, var: float = 1.0,
             with_conv: bool = True, stats_input: bool = False) -> onnx.ModelProto:
    """[Conv ->] BatchNormalization in type `t` (gamma and variance scaled by `gamma`, `var`); `stats_input`
    makes the mean a graph input."""
    rng = np.random.default_rng(8)
    c = 6 if with_conv else 4
    inits = {"g": (np.linspace(0.5, 1.5, c) * gamma).astype(dtype), "b": np.linspace(-0.3, 0.3, c).astype(dtype),
             "v": (np.linspace(0.3, 2.0, c) * var).astype(dtype)}
    if not stats_input:
        inits["m"] = np.linspace(-0.5, 0.5, c).astype(dtype)
    nodes_, x = [], "x"
    if with_conv:
        inits["w"] = (rng.standard_normal((6, 4, 3, 3)) * 0.3).astype(dtype)
        nodes_.append(helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]))
        x = "c"
    nodes_.append(helper.make_node("BatchNormalization", [x, "g", "b", "m", "v"], ["y"]))
    inputs = {"x": (t, x_shape)}
    if stats_input:
        inputs["m"] = (t, [c])
    return onnx_graph(nodes_, inputs, ["y"], inits)


def test_f16_conv_bn() -> None:
    model = check(_onnx_bn(TensorProto.FLOAT16, np.float16, list(X4)), {"Convolution": 1, "Add": 1},
                  _decompose_and_fold, rtol=F16_TOL, atol=F16_TOL)
    assert nodes(model, "Convolution")[0].inputs[1].node.data.dtype == np.float16


def test_unknown_rank_kept() -> None:
    """Without a static rank there is no [1, C, 1, ...] shape for the constants."""
    model = check_untouched(_onnx_bn(TensorProto.FLOAT, np.float32, None, with_conv=False), _decompose)
    assert ops(model) == {"BatchNormInference": 1}


def test_statistics_not_constant_kept() -> None:
    model = check_untouched(_onnx_bn(TensorProto.FLOAT, np.float32, list(X4), stats_input=True), _decompose)
    assert ops(model)["BatchNormInference"] == 1


def test_f16_scale_that_would_overflow_kept() -> None:
    """gamma / sqrt(var + eps) above 65504 (here ~1.2e5) cannot be an f16 constant: the BatchNorm stays; its own
    output is finite (~5.8e4). Not run in OpenVINO: its own BatchNormDecomposition computes the scale in f16 and
    returns inf/nan here (measured with OpenVINO 2026.4)."""
    proto = _onnx_bn(TensorProto.FLOAT16, np.float16, list(X4), gamma=4e4, var=0.1, with_conv=False)
    x = (np.random.default_rng(9).standard_normal(X4) * 1e-3).astype(np.float16)
    model = check_untouched(proto, _decompose, rtol=F16_TOL, atol=0.5, inputs={"x": x}, openvino=False)
    assert ops(model) == {"BatchNormInference": 1}


# ---------------------------------------------------------------- zoo models
ZOO = ["resnet", "mobilenetv3", "unet", "yolo"]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model(name: str) -> None:
    """BatchNorm decomposition, Pad fusion and weight folding on a whole model (opset 13): no BatchNorm left,
    no Multiply right after a weighted op, outputs as ONNX Runtime's within the zoo's tolerance."""
    spec = zoo.MODELS[name]
    proto = onnx.load(str(zoo.export(name, 13)))
    model = irforge.convert_model(proto, optimize=False)
    before = ops(model)
    counts = fold(model, all_folding())
    after = ops(model)
    assert counts["batch_norm_decomposition"] == before["BatchNormInference"] > 0
    assert "BatchNormInference" not in after
    assert counts["multiply_after_weights_fusion"] == before["BatchNormInference"]
    weighted = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul")
    assert not [n for n in model.ops() if n.type == "Multiply" and n.inputs[0].node.type in weighted]
    for inputs in spec.input_sets():
        want = run_ort_unoptimized(proto, inputs)
        assert_close(run_ref(model, list(inputs.values())), want, rtol=spec.rtol, atol=spec.atol, what="REF")
        assert_close(run_openvino(model, list(inputs.values())), want, rtol=spec.rtol, atol=spec.atol,
                     what="OpenVINO")


def test_light_shufflenet() -> None:
    """onnx's light ShuffleNet (weights built in-graph, so ConstantFolding first): every BatchNorm decomposed and
    folded, the BatchNorms before the 1x1 group convolutions as their biases (add_before_weights_fusion); the
    logits as ONNX Runtime's (measured: 2.4e-7 on REF, 4.8e-6 on OpenVINO, for logits up to 3.5)."""
    case_ = light.load("shufflenet")
    model = irforge.convert_model(case_.proto, optimize=False)
    counts = fold(model, all_folding())
    assert counts["batch_norm_decomposition"] == counts["multiply_after_weights_fusion"] == 49
    assert counts["add_before_weights_fusion"] > 0 and "BatchNormInference" not in ops(model)
    want = run_ort_unoptimized(case_.proto, case_.inputs)
    inputs = list(case_.inputs.values())
    assert_close(run_ref(model, inputs), want, rtol=1e-5, atol=1e-5, what="REF")
    assert_close(run_openvino(model, inputs), want, rtol=1e-4, atol=1e-5, what="OpenVINO")
