"""Activation ONNX ops, Clip included."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.elementwise import scalar_like
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_UNARY = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "SoftPlus", "Softsign": "SoftSign",
          "Mish": "Mish", "HardSwish": "HSwish"}


@onnx_op(*_UNARY)
def unary(ctx: NodeContext) -> Output:
    return ctx.op(_UNARY[ctx.op_type], ctx.input(0))


@onnx_op("Elu")
def elu(ctx: NodeContext) -> Output:
    return ctx.op("Elu", ctx.input(0), alpha=ctx.attr("alpha", 1.0))


@onnx_op("Selu")
def selu(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    alpha = scalar_like(ctx, ctx.attr("alpha", 1.67326319217681884765625), x)
    gamma = scalar_like(ctx, ctx.attr("gamma", 1.05070102214813232421875), x)
    return ctx.op("Selu", x, alpha, gamma)


@onnx_op("Gelu", since=20)
def gelu(ctx: NodeContext) -> Output:
    mode = ctx.attr("approximate", "none")
    if mode not in ("none", "tanh"):
        raise ctx.unsupported(f"approximate='{mode}'")
    return ctx.op("Gelu", ctx.input(0), approximation_mode="ERF" if mode == "none" else "TANH")


@onnx_op("HardSigmoid")
def hard_sigmoid(ctx: NodeContext) -> Output:
    """max(0, min(1, alpha * x + beta)): HSigmoid for its own constants (1/6, 1/2), else HardSigmoid."""
    x = ctx.input(0)
    alpha, beta = ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5)
    if np.float32(alpha) == np.float32(1 / 6) and beta == 0.5:
        return ctx.op("HSigmoid", x)
    return ctx.op("HardSigmoid", x, scalar_like(ctx, alpha, x), scalar_like(ctx, beta, x))


@onnx_op("LeakyRelu")
def leaky_relu(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    slope = ctx.const(np.asarray([ctx.attr("alpha", 0.01)], x.element_type.dtype))
    return ctx.op("PRelu", x, slope)


@onnx_op("PRelu")
def prelu(ctx: NodeContext) -> Output:
    """ONNX broadcasts the slope NumPy-style, but OpenVINO reads a 1-D slope as long as dim 1 of a rank > 2
    input per channel: such a constant slope is given a leading 1 to keep the NumPy meaning."""
    x, slope = ctx.input(0), ctx.input(1)
    value = slope.constant_value()
    if (value is not None and value.ndim == 1 and value.size > 1 and x.shape.rank_is_static and x.shape.rank > 2
            and x.shape[1].is_static and x.shape[1].get_length() == value.size):
        slope = ctx.const(value.reshape(1, -1))
    return ctx.op("PRelu", x, slope)


@onnx_op("Clip")
def clip_attrs(ctx: NodeContext) -> Output:
    lo, hi = ctx.attr("min", None), ctx.attr("max", None)
    return _clip(ctx, ctx.input(0), None if lo is None else scalar_like(ctx, lo, ctx.input(0)),
                 None if hi is None else scalar_like(ctx, hi, ctx.input(0)))


@onnx_op("Clip", since=11)
def clip_inputs(ctx: NodeContext) -> Output:
    return _clip(ctx, ctx.input(0), ctx.optional_input(1), ctx.optional_input(2))


def _clip(ctx: NodeContext, x: Output, lo: Output | None, hi: Output | None) -> Output:
    """A missing bound is no bound. Constant bounds of a float tensor with min <= max make a Clamp; otherwise
    Maximum then Minimum, which also gives ONNX's answer (max) when min > max."""
    lo_v, hi_v = (None if b is None else b.constant_value() for b in (lo, hi))
    if (lo is not None and hi is not None and x.element_type.is_float and lo_v is not None and hi_v is not None
            and lo_v.size == 1 and hi_v.size == 1 and lo_v.item() <= hi_v.item()):
        return ctx.op("Clamp", x, min=lo_v.item(), max=hi_v.item())
    out = x if lo is None else ctx.op("Maximum", x, lo)
    return out if hi is None else ctx.op("Minimum", out, hi)
