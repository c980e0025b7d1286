"""ONNX shape ops: Shape, Size, Range, ConstantOfShape."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.movement import i64
from irforge.frontends.onnx.ops.reduction import as_scalar
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
    """ONNX asks for scalars but ONNX Runtime and the reference also take one-element 1-D tensors (ONNX's own
    AffineGrid function body passes them); OpenVINO's Range wants scalars, so those are squeezed."""
    bounds = [ctx.input(i) for i in range(3)]
    start, stop, step = (as_scalar(ctx, v, what) if v.shape.rank_is_static and v.shape.rank > 0 else v
                         for v, what in zip(bounds, ("start", "limit", "delta")))
    return ctx.op("Range", start, stop, step, output_type=start.element_type)


@onnx_op("ConstantOfShape", since=9)
def constant_of_shape(ctx: NodeContext) -> Output:
    """The one-element `value` (default float 0) broadcast to the shape given by the input."""
    value = ctx.attr("value", None)
    value = np.zeros((), np.float32) if value is None else np.asarray(value).reshape(())
    return ctx.op("Broadcast", ctx.const(value), ctx.input(0), mode="numpy")
