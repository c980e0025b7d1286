"""ONNX TopK, ArgMax and ArgMin, all on IR TopK-11. ONNX wants ties resolved towards the lower index, so sorted
results use `stable=true` (without it OpenVINO's CPU plugin may order equal values differently)."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.reduction import as_scalar
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops._base import normalize_axis
from irforge.ir.types import Type


@onnx_op("TopK", since=1)
def topk(ctx: NodeContext) -> list[Output]:
    """k is an attribute before opset 10, a one-element input after; `largest`/`sorted` since opset 11.
    Unsorted results (sorted=0) may come in any order, so they map to sort="none"."""
    x = ctx.input(0)
    k = ctx.const(np.int64(ctx.attr("k"))) if ctx.opset < 10 else as_scalar(ctx, ctx.input(1), "k")
    ordered = bool(ctx.attr("sorted", 1))
    node = ctx.make("TopK", [x, k], axis=ctx.attr("axis", -1), mode="max" if ctx.attr("largest", 1) else "min",
                    sort="value" if ordered else "none", index_element_type=Type.i64, stable=ordered)
    return [node.output(0), node.output(1)]


def _i64s(ctx: NodeContext, *values: int) -> Output:
    return ctx.const(np.array(values, np.int64))


def _arg_extreme(ctx: NodeContext, mode: str) -> Output:
    """Index of the first (or, with select_last_index, last) max/min along `axis`: TopK(k=1) indices, with the
    last one found as n-1 minus the first one in the reversed input."""
    x = ctx.input(0)
    axis = ctx.attr("axis", 0)
    if x.shape.rank_is_static:
        axis = normalize_axis(axis, x.shape.rank)
    last = bool(ctx.attr("select_last_index", 0))
    if last and not x.shape.rank_is_static:
        raise ctx.unsupported("select_last_index with an input of unknown rank")
    # reversed along axis: a Slice from the end with step -1
    src = ctx.op("Slice", x, _i64s(ctx, -1), _i64s(ctx, np.iinfo(np.int64).min), _i64s(ctx, -1),
                 _i64s(ctx, axis)) if last else x
    idx = ctx.make("TopK", [src, ctx.const(np.int64(1))], axis=axis, mode=mode, sort="value",
                   index_element_type=Type.i64, stable=True).output(1)
    if last:
        dim = x.shape[axis]
        if dim.is_static:
            last_pos = ctx.const(np.int64(dim.min - 1))
        else:
            n = ctx.op("Gather", ctx.op("ShapeOf", x), _i64s(ctx, axis), ctx.const(np.int64(0)))
            last_pos = ctx.op("Subtract", n, ctx.const(np.int64(1)))
        idx = ctx.op("Subtract", last_pos, idx)
    if not ctx.attr("keepdims", 1):
        idx = ctx.op("Squeeze", idx, _i64s(ctx, axis))
    return idx


@onnx_op("ArgMax", since=1)
def argmax(ctx: NodeContext) -> Output:
    return _arg_extreme(ctx, "max")


@onnx_op("ArgMin", since=1)
def argmin(ctx: NodeContext) -> Output:
    return _arg_extreme(ctx, "min")
