"""ONNX CumSum and OneHot."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.reduction import as_scalar
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import ElementType, Type


@onnx_op("CumSum", since=11)
def cumsum(ctx: NodeContext) -> Output:
    return ctx.op("CumSum", ctx.input(0), as_scalar(ctx, ctx.input(1), "axis"),
                  exclusive=bool(ctx.attr("exclusive", 0)), reverse=bool(ctx.attr("reverse", 0)))


def _integer_scalar(ctx: NodeContext, value: Output, what: str, et: ElementType) -> Output:
    """A one-element input of any numeric type as an integer scalar of type `et` (floats truncate)."""
    v = value.constant_value()
    if v is not None:
        if v.size != 1:
            raise ctx.unsupported(f"{what} must have exactly one element, got shape {list(v.shape)}")
        return ctx.const(np.asarray(v).reshape(()).astype(et.dtype))
    s = as_scalar(ctx, value, what)
    return s if s.element_type == et else ctx.op("Convert", s, destination_type=et)


@onnx_op("OneHot", since=9)
def onehot(ctx: NodeContext) -> Output:
    """values = [off_value, on_value]. Indices in [-depth, -1] count from the back from opset 11 (OneHot-16
    with negative_indices_mode=normalize); other out-of-range indices give an all-off row."""
    indices = ctx.input(0)
    if indices.element_type not in (Type.i32, Type.i64):
        indices = ctx.op("Convert", indices, destination_type=Type.i64)
    depth = _integer_scalar(ctx, ctx.input(1), "depth", indices.element_type)
    values = ctx.input(2)
    if not values.shape.rank_is_static or values.shape.rank != 1:
        raise ctx.unsupported(f"values of shape [{values.shape}] (expected [off_value, on_value])")
    known = values.constant_value()
    if known is not None:
        off, on = ctx.const(known[0]), ctx.const(known[1])
    else:
        halves = ctx.make("Split", [values, ctx.const(np.int64(0))], num_splits=2).outputs
        off, on = (as_scalar(ctx, v, "values") for v in halves)
    axis = ctx.attr("axis", -1)
    if ctx.opset < 11:
        return ctx.make("OneHot", [indices, depth, on, off], version="opset1", axis=axis).output(0)
    return ctx.op("OneHot", indices, depth, on, off, axis=axis, negative_indices_mode="normalize")
