"""ONNX Trilu -> Select over a triangle mask built from Range (as OpenVINO's ONNX frontend does): on the last two
axes [N, M], element (i, j) is kept where j - i >= k (upper) or j - i <= k (lower), else 0. With static shapes the
mask folds to a constant."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.reduction import as_scalar
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import Type


def _axis_size(ctx: NodeContext, x: Output, axis: int) -> Output:
    dim = x.shape.dims[axis] if x.shape.rank_is_static else None
    if dim is not None and dim.is_static:
        return ctx.const(np.int64(dim.min))
    sizes = ctx.op("ShapeOf", x, output_type=Type.i64)
    return as_scalar(ctx, ctx.op("Gather", sizes, ctx.const(np.int64(axis)), ctx.const(np.int64(0))), "Trilu dim")


@onnx_op("Trilu", since=14)
def trilu(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    if x.shape.rank_is_static and x.shape.rank < 2:
        raise ctx.unsupported(f"input of rank {x.shape.rank} (Trilu takes rank >= 2)")
    k = ctx.optional_input(1)
    k = ctx.const(np.int64(0)) if k is None else as_scalar(ctx, ctx.op("Convert", k, destination_type=Type.i64), "k")
    zero, one = ctx.const(np.int64(0)), ctx.const(np.int64(1))
    rows = ctx.op("Range", zero, _axis_size(ctx, x, -2), one, output_type=Type.i64)
    cols = ctx.op("Range", zero, _axis_size(ctx, x, -1), one, output_type=Type.i64)
    offset = ctx.op("Subtract", cols, ctx.op("Unsqueeze", rows, ctx.const(np.int64(1))))  # [N, M]: j - i
    keep = ctx.op("GreaterEqual" if ctx.attr("upper", 1) else "LessEqual", offset, k)
    filler = ctx.const(np.zeros((), x.element_type.dtype))
    return ctx.op("Select", keep, x, filler)
