"""CPU lowerings of the compute ops against REF: convolutions (all four kinds, 1-D and 2-D, every padding form),
MatMul (linear layers and runtime operands), ScaledDotProductAttention. f32 tolerance 1e-4 (REF accumulates in
f64; oneDNN/MKL in f32 with blocked summation orders)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from irforge.ir.graph import Output
from tests.runtime.cpu.helpers import check, graph, op, randn

TOL = dict(rtol=1e-4, atol=1e-4)


def conv_attrs(nsp: int, stride: int = 1, dilation: int = 1, pads: tuple[int, int] = (0, 0),
               auto_pad: str = "explicit") -> dict[str, Any]:
    return dict(strides=[stride] * nsp, dilations=[dilation] * nsp, pads_begin=[pads[0]] * nsp,
                pads_end=[pads[1]] * nsp, auto_pad=auto_pad)


@pytest.mark.parametrize("nsp,stride,dilation,pads,auto_pad", [
    (2, 1, 1, (1, 1), "explicit"), (2, 2, 1, (1, 1), "explicit"), (2, 1, 2, (2, 2), "explicit"),
    (2, 2, 1, (0, 1), "explicit"), (2, 1, 1, (2, 0), "explicit"), (2, 2, 1, (0, 0), "same_upper"),
    (2, 2, 1, (0, 0), "same_lower"), (2, 1, 1, (3, 3), "valid"), (1, 1, 1, (1, 1), "explicit"),
    (1, 2, 2, (1, 0), "explicit"),
])
def test_convolution(nsp: int, stride: int, dilation: int, pads: tuple[int, int], auto_pad: str) -> None:
    x = randn(2, 5, *[9 + i for i in range(nsp)])
    w = randn(7, 5, *[3] * nsp)
    model = graph(lambda p: op("Convolution", p, w, **conv_attrs(nsp, stride, dilation, pads, auto_pad)), x)
    check(model, [x], "onednn_conv", **TOL)


@pytest.mark.parametrize("groups,per_group_out", [(6, 1), (6, 2), (2, 4), (3, 1)])
def test_group_convolution(groups: int, per_group_out: int) -> None:
    x = randn(1, 6, 10, 9)
    w = randn(groups, per_group_out, 6 // groups, 3, 3)
    model = graph(lambda p: op("GroupConvolution", p, w, **conv_attrs(2, 2, 1, (1, 1))), x)
    check(model, [x], "onednn_groupconv" if groups > 1 else "onednn_conv", **TOL)


@pytest.mark.parametrize("stride,pads,output_padding,dilation", [
    (2, (0, 0), 0, 1), (2, (1, 1), 1, 1), (3, (1, 2), 0, 1), (1, (1, 1), 0, 2), (2, (0, 1), 1, 1),
])
def test_convolution_backprop_data(stride: int, pads: tuple[int, int], output_padding: int, dilation: int) -> None:
    x = randn(1, 4, 5, 6)
    w = randn(4, 3, 3, 3)
    attrs = conv_attrs(2, stride, dilation, pads) | dict(output_padding=[output_padding] * 2)
    model = graph(lambda p: op("ConvolutionBackpropData", p, w, **attrs), x)
    check(model, [x], "onednn_deconv", **TOL)


def test_group_convolution_backprop_data_and_output_shape() -> None:
    x = randn(1, 6, 5, 5)
    w = randn(3, 2, 2, 3, 3)  # [G, Cin/G, Cout/G, k, k]
    model = graph(lambda p: op("GroupConvolutionBackpropData", p, w, **conv_attrs(2, 2, 1, (1, 1))), x)
    check(model, [x], "onednn_deconv", **TOL)
    out_shape = np.array([10, 10], np.int64)
    model = graph(lambda p: op("GroupConvolutionBackpropData", p, w, out_shape, **conv_attrs(2, 2, 1, (0, 0))), x)
    check(model, [x], "onednn_deconv", **TOL)


def test_deconvolution_1d() -> None:
    x = randn(2, 4, 7)
    w = randn(4, 5, 3)
    model = graph(lambda p: op("ConvolutionBackpropData", p, w, **conv_attrs(1, 2, 1, (1, 1))), x)
    check(model, [x], "onednn_deconv", **TOL)


def test_convolution_negative_pads_and_integer_data_use_reference() -> None:
    x = randn(1, 2, 6, 6)
    w = randn(3, 2, 3, 3)
    model = graph(lambda p: op("Convolution", p, w, **conv_attrs(2, 1, 1, (-1, 1))), x)
    check(model, [x], None)


def test_convolution_with_runtime_weights_uses_reference() -> None:
    x, w = randn(1, 2, 6, 6), randn(3, 2, 3, 3)
    model = graph(lambda p, q: op("Convolution", p, q, **conv_attrs(2)), x, w)
    check(model, [x, w], None, **TOL)


# ---------------------------------------------------------------- MatMul
@pytest.mark.parametrize("a_shape,b_shape,ta,tb", [
    ((4, 6), (6, 5), False, False), ((2, 3, 6), (5, 6), False, True), ((2, 6, 3), (6, 5), True, False),
    ((1, 2, 3, 6), (6, 8), False, False),
])
def test_matmul_with_constant_weights_is_a_linear_layer(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                                                         ta: bool, tb: bool) -> None:
    a, b = randn(*a_shape), randn(*b_shape)
    model = graph(lambda p: op("MatMul", p, b, transpose_a=ta, transpose_b=tb), a)
    check(model, [a], "mkl_linear", **TOL)


@pytest.mark.parametrize("a_shape,b_shape,ta,tb", [
    ((2, 3, 4, 5), (2, 3, 5, 6), False, False), ((3, 5, 4), (3, 6, 5), True, True), ((5,), (5,), False, False),
    ((4, 5), (5,), False, False), ((5,), (2, 5, 3), False, False), ((2, 1, 4, 5), (3, 5, 2), False, False),
])
def test_matmul_of_runtime_operands(a_shape: tuple[int, ...], b_shape: tuple[int, ...], ta: bool, tb: bool) -> None:
    a, b = randn(*a_shape), randn(*b_shape)
    model = graph(lambda p, q: op("MatMul", p, q, transpose_a=ta, transpose_b=tb), a, b)
    check(model, [a, b], "torch_matmul", **TOL)


def test_matmul_constant_first_operand_and_integers() -> None:
    a, b = randn(3, 4), randn(2, 4, 5)
    model = graph(lambda q: op("MatMul", a, q), b)
    check(model, [b], "torch_matmul", **TOL)
    ai = np.arange(12, dtype=np.int64).reshape(3, 4)
    bi = np.arange(8, dtype=np.int64).reshape(4, 2)
    model = graph(lambda p: op("MatMul", p, bi), ai)
    check(model, [ai], "torch_matmul")


# ---------------------------------------------------------------- attention
@pytest.mark.parametrize("mask", ["none", "float", "bool", "causal", "scale"])
def test_scaled_dot_product_attention(mask: str) -> None:
    q, k, v = randn(2, 3, 5, 8), randn(2, 3, 7, 8), randn(2, 3, 7, 4)
    m_float = randn(2, 1, 5, 7)
    m_bool = RNG_MASK.random((1, 1, 5, 7)) > 0.3
    m_bool[..., 0] = True

    def build(a: Output, b: Output, c: Output) -> Output:
        if mask == "float":
            return op("ScaledDotProductAttention", a, b, c, m_float, causal=False)
        if mask == "bool":
            return op("ScaledDotProductAttention", a, b, c, m_bool, causal=False)
        if mask == "scale":
            return op("ScaledDotProductAttention", a, b, c, m_float, np.array(0.3, np.float32), causal=False)
        return op("ScaledDotProductAttention", a, b, c, causal=mask == "causal")
    if mask == "causal":
        k, v = randn(2, 3, 5, 8), randn(2, 3, 5, 4)
    model = graph(build, q, k, v)
    check(model, [q, k, v], "torch_sdpa", **TOL)


RNG_MASK = np.random.default_rng(3)
