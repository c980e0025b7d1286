"""Comparison, boolean and selection ONNX ops."""
from __future__ import annotations

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.elementwise import binary_inputs
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_BINARY = {
    "Equal": "Equal", "Greater": "Greater", "GreaterOrEqual": "GreaterEqual", "Less": "Less",
    "LessOrEqual": "LessEqual", "And": "LogicalAnd", "Or": "LogicalOr", "Xor": "LogicalXor",
}


@onnx_op(*_BINARY)
def binary(ctx: NodeContext) -> Output:
    return ctx.op(_BINARY[ctx.op_type], *binary_inputs(ctx))


@onnx_op("Not")
def not_(ctx: NodeContext) -> Output:
    return ctx.op("LogicalNot", ctx.input(0))


@onnx_op("Where", since=9)
def where(ctx: NodeContext) -> Output:
    return ctx.op("Select", ctx.input(0), ctx.input(1), ctx.input(2))


@onnx_op("IsNaN", since=9)
def is_nan(ctx: NodeContext) -> Output:
    return ctx.op("IsNaN", ctx.input(0))


@onnx_op("IsInf", since=10)
def is_inf(ctx: NodeContext) -> Output:
    return ctx.op("IsInf", ctx.input(0), detect_negative=bool(ctx.attr("detect_negative", 1)),
                  detect_positive=bool(ctx.attr("detect_positive", 1)))
