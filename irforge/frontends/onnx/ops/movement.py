"""ONNX data movement ops: Concat, Expand, Flatten, Reshape, Split, Squeeze, Unsqueeze, Tile, Transpose."""
from __future__ import annotations

import math

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output


def i64(ctx: NodeContext, value: object) -> Output:
    """An int64 constant (shape-like operands)."""
    return ctx.const(np.asarray(value, np.int64))


def axes_operand(ctx: NodeContext, attr_until: int, index: int = 1) -> Output | None:
    """`axes` from the attribute before opset `attr_until`, from input `index` after (None when absent)."""
    if ctx.opset < attr_until:
        axes = ctx.attr("axes", None)
        return None if axes is None else i64(ctx, axes)
    return ctx.optional_input(index)


@onnx_op("Concat")
def concat(ctx: NodeContext) -> Output:
    inputs = ctx.inputs()
    axis = ctx.attr("axis", 1) if ctx.opset < 4 else ctx.attr("axis")
    return ctx.op("Concat", *inputs, axis=axis)


@onnx_op("Expand", since=8)
def expand(ctx: NodeContext) -> Output:
    return ctx.op("Broadcast", ctx.input(0), ctx.input(1), mode="bidirectional")


@onnx_op("Reshape")
def reshape_v1(ctx: NodeContext) -> Output:
    return ctx.op("Reshape", ctx.input(0), i64(ctx, ctx.attr("shape")), special_zero=True)


@onnx_op("Reshape", since=5)
def reshape(ctx: NodeContext) -> Output:
    """allowzero=1 makes a 0 in the target a real zero-sized dim, which is OpenVINO's special_zero=false."""
    return ctx.op("Reshape", ctx.input(0), ctx.input(1), special_zero=not ctx.attr("allowzero", 0))


@onnx_op("Flatten")
def flatten(ctx: NodeContext) -> Output:
    """Reshape to [prod(d[:axis]), prod(d[axis:])]: a constant target when the dims needed are static, else
    the target is computed from ShapeOf (as OpenVINO's frontend does)."""
    x = ctx.input(0)
    axis = ctx.attr("axis", 1)
    shape = x.shape
    if shape.rank_is_static:
        if not -shape.rank <= axis <= shape.rank:
            raise ctx.unsupported(f"axis {axis} for an input of rank {shape.rank}")
        axis = axis + shape.rank if axis < 0 else axis
        head, tail = shape.dims[:axis], shape.dims[axis:]
        found = _flatten_target([d.to_int() for d in head], [d.to_int() for d in tail])
        if found is not None:
            target, special_zero = found
            return ctx.op("Reshape", x, i64(ctx, target), special_zero=special_zero)
    if axis in (0, 1):
        return ctx.op("Reshape", x, i64(ctx, [1 - axis, -1]), special_zero=True)
    dims = ctx.op("ShapeOf", x)
    head = ctx.op("Slice", dims, *(i64(ctx, [v]) for v in (0, axis, 1)))
    first = ctx.op("ReduceProd", head, i64(ctx, [0]), keep_dims=True)
    target = ctx.op("Concat", first, i64(ctx, [-1]), axis=0)
    return ctx.op("Reshape", x, target, special_zero=False)


def _flatten_target(head: list[int], tail: list[int]) -> tuple[list[int], bool] | None:
    """A Reshape target and its special_zero for Flatten when the known dims allow one (-1 marks a dynamic
    dim). The target stays valid when the model is reshaped later, as OpenVINO's frontend keeps Flatten
    reshapable: a one-dim head is kept with a special zero and the tail becomes -1, rather than baking the
    static sizes in. A computed -1 is avoided next to a zero-sized product, where it would be ambiguous."""
    if -1 not in head + tail and math.prod(head + tail) == 0:
        return [math.prod(head), math.prod(tail)], False
    if not head or not tail:
        return ([1, -1] if not head else [-1, 1]), False
    if len(head) == 1:
        return [0, -1], True
    if -1 not in head and math.prod(head) > 0:
        return [math.prod(head), -1], False
    if -1 not in tail and math.prod(tail) > 0:
        return [-1, math.prod(tail)], False
    return None


@onnx_op("Split")
def split(ctx: NodeContext) -> list[Output]:
    """Explicit lengths (attribute before opset 13, input after; opset 1 took either) -> VariadicSplit;
    otherwise equal parts -> Split, except that opset 18's num_outputs may leave a smaller last part
    (VariadicSplit with lengths computed from the dim when it is dynamic)."""
    x = ctx.input(0)
    axis = ctx.attr("axis", 0)
    if ctx.opset >= 13 or (ctx.opset == 1 and ctx.has_input(1)):
        lengths = ctx.optional_input(1)
    else:
        attr = ctx.attr("split", None)
        lengths = None if attr is None else i64(ctx, attr)
    if lengths is not None:
        return list(ctx.make("VariadicSplit", [x, i64(ctx, axis), lengths]).outputs)
    n = ctx.attr("num_outputs", ctx.num_outputs)
    dim = x.shape[axis] if x.shape.rank_is_static else None
    if ctx.opset < 18 or (dim is not None and dim.is_static and dim.min % n == 0):
        return list(ctx.make("Split", [x, i64(ctx, axis)], num_splits=n).outputs)
    return list(ctx.make("VariadicSplit", [x, i64(ctx, axis), _chunk_lengths(ctx, x, axis, n)]).outputs)


def _chunk_lengths(ctx: NodeContext, x: Output, axis: int, n: int) -> Output:
    """Opset 18 num_outputs: parts of ceil(dim / n), the last one taking the rest (smaller when uneven)."""
    dim = x.shape[axis] if x.shape.rank_is_static else None
    if dim is not None and dim.is_static:
        chunk = -(-dim.min // n)
        if dim.min - chunk * (n - 1) < 0:
            raise ctx.unsupported(f"splitting a dimension of {dim.min} into {n} parts")
        return i64(ctx, [chunk] * (n - 1) + [-1])
    size = ctx.op("Gather", ctx.op("ShapeOf", x), i64(ctx, [axis]), i64(ctx, 0))
    chunk = ctx.op("Divide", ctx.op("Add", size, i64(ctx, n - 1)), i64(ctx, n))
    return ctx.op("Concat", ctx.op("Broadcast", chunk, i64(ctx, [n - 1])), i64(ctx, [-1]), axis=0)


@onnx_op("Squeeze")
def squeeze(ctx: NodeContext) -> Output:
    axes = axes_operand(ctx, 13)
    return ctx.op("Squeeze", ctx.input(0), *([] if axes is None else [axes]))


@onnx_op("Unsqueeze")
def unsqueeze(ctx: NodeContext) -> Output:
    x, axes = ctx.input(0), axes_operand(ctx, 13)
    if axes is None:
        raise ctx.unsupported("Unsqueeze without axes")
    if axes.constant_value() is None and x.shape.rank_is_static and axes.shape.is_static:
        return _unsqueeze_runtime_axes(ctx, x, axes)
    return ctx.op("Unsqueeze", x, axes)


def _unsqueeze_runtime_axes(ctx: NodeContext, x: Output, axes: Output) -> Output:
    """Unsqueeze by axes known only at run time, as a Reshape whose target has a static length: OpenVINO
    infers a dynamic rank for such an Unsqueeze, which its CPU plugin cannot run.

    keep[p] = 0 at the new axes, 1 elsewhere; exclusive CumSum(keep) numbers the kept positions 0..rank-1, so
    target[p] = keep[p] ? dims[cumsum[p]] : 1."""
    rank, k = x.shape.rank, int(np.prod(axes.shape.to_shape()))
    n = rank + k
    axes = ctx.op("FloorMod", ctx.op("Reshape", axes, i64(ctx, [k]), special_zero=False), i64(ctx, n))
    keep = ctx.op("ScatterElementsUpdate", i64(ctx, np.ones(n)), axes, i64(ctx, np.zeros(k)), i64(ctx, 0))
    source = ctx.op("CumSum", keep, i64(ctx, 0), exclusive=True)
    dims = ctx.op("Gather", ctx.op("ShapeOf", x), source, i64(ctx, 0))
    target = ctx.op("Add", ctx.op("Multiply", dims, keep), ctx.op("Subtract", i64(ctx, 1), keep))
    return ctx.op("Reshape", x, target, special_zero=False)


@onnx_op("Tile", since=6)
def tile(ctx: NodeContext) -> Output:
    x, repeats = ctx.input(0), ctx.input(1)
    if repeats.constant_value() is None and x.shape.rank_is_static and x.shape.rank >= 4:
        return _tile_runtime_repeats(ctx, x, repeats)
    return ctx.op("Tile", x, repeats)


def _tile_runtime_repeats(ctx: NodeContext, x: Output, repeats: Output) -> Output:
    """Tile by repeats known only at run time, as Broadcast + Reshape: OpenVINO 2026.4's CPU plugin computes
    garbage for a Tile with runtime repeats that tiles three or more axes of a 4-D input. (ONNX repeats are
    int64, like the ShapeOf.)

    [d0, d1, ...] -> unsqueeze to [1, d0, 1, d1, ...] -> broadcast to [r0, d0, r1, d1, ...] -> reshape to
    [r0*d0, r1*d1, ...]."""
    rank = x.shape.rank
    spread = ctx.op("Unsqueeze", x, i64(ctx, np.arange(0, 2 * rank, 2)))
    dims = ctx.op("ShapeOf", x)
    pairs = ctx.op("Concat", *(ctx.op("Unsqueeze", v, i64(ctx, [1])) for v in (repeats, dims)), axis=1)
    wide = ctx.op("Broadcast", spread, ctx.op("Reshape", pairs, i64(ctx, [2 * rank]), special_zero=False), mode="numpy")
    return ctx.op("Reshape", wide, ctx.op("Multiply", repeats, dims), special_zero=False)


@onnx_op("Transpose")
def transpose(ctx: NodeContext) -> Output:
    """No `perm` reverses the axes (an empty order, which OpenVINO reads the same way, when the rank is
    unknown)."""
    x = ctx.input(0)
    perm = ctx.attr("perm", None)
    if perm is None:
        perm = list(range(x.shape.rank))[::-1] if x.shape.rank_is_static else []
    return ctx.op("Transpose", x, i64(ctx, perm))
