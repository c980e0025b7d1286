"""ONNX MatMul, Gemm and Einsum."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.conv import stored_value
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output


@onnx_op("MatMul")
def matmul(ctx: NodeContext) -> Output:
    return ctx.op("MatMul", ctx.input(0), ctx.input(1))


def _scalar(ctx: NodeContext, value: float, like: Output) -> Output:
    et = like.element_type
    if et.dtype is None or et.name == "bf16":
        raise ctx.unsupported(f"alpha/beta on {et} tensors")
    return ctx.const(np.array(value, dtype=et.dtype))


@onnx_op("Gemm")
def gemm(ctx: NodeContext) -> Output:
    """alpha * op(A) @ op(B) + beta * C: MatMul '<node>/WithoutBiases' with embedded transposes, then Multiply
    by alpha and Add of beta * C (each step only when it changes the result; a constant C is scaled here)."""
    if ctx.opset < 7:
        raise ctx.unsupported("Gemm before opset 7 (legacy broadcast attribute)")
    node = ctx.make("MatMul", [ctx.input(0), ctx.input(1)], transpose_a=bool(ctx.attr("transA", 0)),
                    transpose_b=bool(ctx.attr("transB", 0)))
    out = node.output(0)
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    if alpha != 1.0:
        out = ctx.op("Multiply", out, _scalar(ctx, alpha, out))
    c = ctx.optional_input(2)
    if c is None or beta == 0.0:
        return out
    node.name = ctx.conv.unique_name(f"{ctx.name}/WithoutBiases")
    if beta != 1.0:
        value = stored_value(c)
        if value is not None:
            c = ctx.const((value * np.asarray(beta, dtype=value.dtype)).astype(value.dtype))
        else:
            c = ctx.op("Multiply", c, _scalar(ctx, beta, c))
    return ctx.op("Add", out, c)


@onnx_op("Einsum")
def einsum(ctx: NodeContext) -> Output:
    return ctx.op("Einsum", *ctx.inputs(), equation=str(ctx.attr("equation")).replace(" ", ""))
