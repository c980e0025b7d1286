"""Element-wise ONNX ops."""
from __future__ import annotations

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_BINARY = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply", "Div": "Divide"}


@onnx_op(*_BINARY)
def binary(ctx: NodeContext) -> Output:
    a, b = ctx.input(0), ctx.input(1)
    if ctx.opset < 7 and ctx.attr("broadcast", 0) and ctx.has_attr("axis"):
        raise ctx.unsupported("legacy broadcast with axis")
    return ctx.op(_BINARY[ctx.op_type], a, b)


@onnx_op("Relu")
def relu(ctx: NodeContext) -> Output:
    return ctx.op("Relu", ctx.input(0))
