"""ONNX shape ops: Shape, Size, Range, ConstantOfShape."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.movement import i64
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import Type

_INT64_MAX = np.iinfo(np.int64).max


@onnx_op("Shape")
def shape(ctx: NodeContext) -> Output:
    """Opset 15's start/end select a (clamped) range of the dims: a Slice of the ShapeOf."""
    dims = ctx.op("ShapeOf", ctx.input(0), output_type=Type.i64)
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    if start == 0 and end is None:
        return dims
    bounds = (start, _INT64_MAX if end is None else end, 1, 0)
    return ctx.op("Slice", dims, *(i64(ctx, [v]) for v in bounds))


@onnx_op("Size")
def size(ctx: NodeContext) -> Output:
    dims = ctx.op("ShapeOf", ctx.input(0), output_type=Type.i64)
    return ctx.op("ReduceProd", dims, i64(ctx, 0), keep_dims=False)


@onnx_op("Range", since=11)
def range_op(ctx: NodeContext) -> Output:
    start = ctx.input(0)
    return ctx.op("Range", start, ctx.input(1), ctx.input(2), output_type=start.element_type)


@onnx_op("ConstantOfShape", since=9)
def constant_of_shape(ctx: NodeContext) -> Output:
    """The one-element `value` (default float 0) broadcast to the shape given by the input."""
    value = ctx.attr("value", None)
    value = np.zeros((), np.float32) if value is None else np.asarray(value).reshape(())
    return ctx.op("Broadcast", ctx.const(value), ctx.input(0), mode="numpy")
