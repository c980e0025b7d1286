"""ONNX Softmax and LogSoftmax. From opset 13 they work along one axis (default -1); before, the input is
coerced to 2-D at `axis` (default 1) and normalized over the whole flattened tail, which becomes
Reshape -> Softmax(axis=1) -> Reshape, as in OpenVINO's frontend, unless the tail is a single axis."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops._base import normalize_axis

def _flatten_2d(ctx: NodeContext, x: Output, axis: int) -> Output:
    """`x` reshaped to [prod(dims before axis), prod(dims from axis)]."""
    dims = x.shape.dims
    lead, tail = dims[:axis], dims[axis:]
    known = [all(d.is_static for d in part) for part in (lead, tail)]
    if any(known):
        target = [int(np.prod([d.min for d in part], dtype=np.int64)) if ok else -1
                  for part, ok in zip((lead, tail), known)]
        return ctx.op("Reshape", x, ctx.const(np.array(target, np.int64)), special_zero=False)
    parts = ctx.make("VariadicSplit", [ctx.op("ShapeOf", x), ctx.const(np.int64(0)),
                                       ctx.const(np.array([axis, len(dims) - axis], np.int64))]).outputs
    zero = ctx.const(np.array([0], np.int64))
    target = ctx.op("Concat", *[ctx.op("ReduceProd", p, zero, keep_dims=True) for p in parts], axis=0)
    return ctx.op("Reshape", x, target, special_zero=False)


@onnx_op("Softmax", "LogSoftmax", since=1)
def softmax_2d(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    if not x.shape.rank_is_static or x.shape.rank == 0:
        raise ctx.unsupported(f"input of rank {'unknown' if not x.shape.rank_is_static else 0} before opset 13")
    axis = normalize_axis(ctx.attr("axis", 1), x.shape.rank)
    if all(d.is_static and d.min == 1 for d in x.shape.dims[axis + 1:]):
        return ctx.op(ctx.op_type, x, axis=axis)  # the flattened tail is this one axis
    y = ctx.op(ctx.op_type, _flatten_2d(ctx, x, axis), axis=1)
    shape = ctx.const(np.array(x.shape.to_shape(), np.int64)) if x.shape.is_static else ctx.op("ShapeOf", x)
    return ctx.op("Reshape", y, shape, special_zero=False)


@onnx_op("Softmax", "LogSoftmax", since=13)
def softmax(ctx: NodeContext) -> Output:
    return ctx.op(ctx.op_type, ctx.input(0), axis=ctx.attr("axis", -1))
