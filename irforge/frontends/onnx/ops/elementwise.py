"""Element-wise ONNX ops: arithmetic (binary and variadic), Pow, Mod and the unary math functions."""
from __future__ import annotations

from functools import reduce

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_BINARY = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply", "Div": "Divide"}

_UNARY = {
    "Abs": "Abs", "Neg": "Negative", "Sign": "Sign", "Ceil": "Ceiling", "Floor": "Floor", "Round": "Round",
    "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log", "Erf": "Erf",
    "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan",
    "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
}

_VARIADIC = {"Max": "Maximum", "Min": "Minimum", "Sum": "Add", "Mean": "Add"}


def binary_inputs(ctx: NodeContext) -> tuple[Output, Output]:
    """The two operands of a binary op. Before opset 7, `broadcast=1` with an `axis` aligned the second
    operand at that axis (not NumPy's trailing alignment): that form is not supported."""
    if ctx.opset < 7 and ctx.attr("broadcast", 0) and ctx.has_attr("axis"):
        raise ctx.unsupported("legacy broadcast with axis")
    return ctx.input(0), ctx.input(1)


def scalar_like(ctx: NodeContext, value: float, like: Output) -> Output:
    """A scalar constant of `like`'s element type."""
    return ctx.const(np.asarray(value, like.element_type.dtype))


@onnx_op(*_BINARY)
def binary(ctx: NodeContext) -> Output:
    a, b = binary_inputs(ctx)
    if ctx.op_type == "Div" and a.element_type.is_integral:
        return ctx.op("Divide", a, b, m_pythondiv=False)  # ONNX integer division truncates
    return ctx.op(_BINARY[ctx.op_type], a, b)


@onnx_op(*_UNARY)
def unary(ctx: NodeContext) -> Output:
    return ctx.op(_UNARY[ctx.op_type], ctx.input(0))


@onnx_op("Reciprocal")
def reciprocal(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    return ctx.op("Divide", scalar_like(ctx, 1, x), x)


@onnx_op(*_VARIADIC)
def variadic(ctx: NodeContext) -> Output:
    """Max/Min/Sum/Mean of any number of inputs, folded pairwise (with broadcasting from opset 8)."""
    inputs = ctx.inputs()
    out = reduce(lambda a, b: ctx.op(_VARIADIC[ctx.op_type], a, b), inputs)
    if ctx.op_type == "Mean" and len(inputs) > 1:
        out = ctx.op("Divide", out, scalar_like(ctx, len(inputs), out))
    return out


@onnx_op("Pow")
def pow_(ctx: NodeContext) -> Output:
    """Power in the base's type. An exponent of another type is converted to it (as OpenVINO does), except a
    float exponent of an integer or narrower float base: then the base is raised in the exponent's type and
    the result converted back."""
    base, exponent = binary_inputs(ctx)
    bt, et = base.element_type, exponent.element_type
    if bt == et or bt.is_dynamic or et.is_dynamic:
        return ctx.op("Power", base, exponent)
    if et.is_integral or (bt.is_float and bt.bits >= et.bits):
        return ctx.op("Power", base, ctx.op("Convert", exponent, destination_type=bt))
    raised = ctx.op("Power", ctx.op("Convert", base, destination_type=et), exponent)
    return ctx.op("Convert", raised, destination_type=bt)


@onnx_op("Mod", since=10)
def mod(ctx: NodeContext) -> Output:
    """fmod=0: the remainder takes the divisor's sign (FloorMod); fmod=1: the dividend's (Mod)."""
    return ctx.op("Mod" if ctx.attr("fmod", 0) else "FloorMod", ctx.input(0), ctx.input(1))
