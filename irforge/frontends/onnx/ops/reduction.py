"""ONNX Reduce* ops. Axes come from the `axes` attribute before opset 18 (ReduceSum: 13) and from an optional
input after. No axes (or an empty list) means all axes, unless `noop_with_empty_axes` asks for the identity;
OpenVINO reads an empty axes list as "no reduction" and its CPU plugin rejects it, so neither case emits one."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import Type

# The opset from which each op takes its axes as an input.
_AXES_INPUT_SINCE = {"ReduceSum": 13}
_AXES_INPUT_DEFAULT = 18


def as_scalar(ctx: NodeContext, value: Output, what: str) -> Output:
    """A one-element tensor (`k`, `axis`, `depth`...) as the scalar OpenVINO wants: folded when constant,
    else squeezed."""
    v = value.constant_value()
    if v is not None:
        if v.size != 1:
            raise ctx.unsupported(f"{what} must have exactly one element, got shape {list(v.shape)}")
        return ctx.const(v.reshape(()))
    if value.shape.rank_is_static and value.shape.rank == 0:
        return value
    if value.shape.rank_is_static and value.shape.rank == 1:
        return ctx.op("Squeeze", value, ctx.const(np.array([0], np.int64)))
    raise ctx.unsupported(f"{what} of shape [{value.shape}] (expected a scalar or a one-element 1-D tensor)")


def all_axes(ctx: NodeContext, x: Output) -> Output | None:
    """Every axis of `x` (None for a scalar: nothing to reduce); a Range over the rank when it is unknown."""
    if x.shape.rank_is_static:
        return ctx.const(np.arange(x.shape.rank, dtype=np.int64)) if x.shape.rank else None
    rank = as_scalar(ctx, ctx.op("ShapeOf", ctx.op("ShapeOf", x)), "rank")
    return ctx.op("Range", ctx.const(np.int64(0)), rank, ctx.const(np.int64(1)), output_type=Type.i64)


def reduction_axes(ctx: NodeContext, x: Output) -> Output | None:
    """The axes to reduce as an IR value, or None when the node is the identity."""
    if ctx.opset >= _AXES_INPUT_SINCE.get(ctx.op_type, _AXES_INPUT_DEFAULT):
        axes_in = ctx.optional_input(1)
        if axes_in is not None:
            if not axes_in.shape.is_static:
                raise ctx.unsupported("axes input of unknown length")
            if int(np.prod(axes_in.shape.to_shape())) > 0:
                return axes_in
    else:
        axes = ctx.attr("axes", [])
        if axes:
            return ctx.const(np.array(axes, np.int64))
    if ctx.attr("noop_with_empty_axes", 0):
        return None
    return all_axes(ctx, x)


def keepdims(ctx: NodeContext) -> bool:
    return bool(ctx.attr("keepdims", 1))


def reduce(ctx: NodeContext, ir_op: str, x: Output) -> Output:
    """`ir_op` over this node's axes (`x` itself when there is nothing to reduce)."""
    axes = reduction_axes(ctx, x)
    return x if axes is None else ctx.op(ir_op, x, axes, keep_dims=keepdims(ctx))


_DIRECT = {"ReduceSum": "ReduceSum", "ReduceMean": "ReduceMean", "ReduceProd": "ReduceProd"}


@onnx_op(*_DIRECT)
def direct(ctx: NodeContext) -> Output:
    return reduce(ctx, _DIRECT[ctx.op_type], ctx.input(0))


@onnx_op("ReduceMax", "ReduceMin")
def max_min(ctx: NodeContext) -> Output:
    """Booleans (opset 20) reduce as u8, as OpenVINO's frontend does: its CPU plugin cannot run
    ReduceLogicalOr/And with axes known only at run time, which is how ONNX passes them from opset 18."""
    x = ctx.input(0)
    if x.element_type != Type.boolean:
        return reduce(ctx, ctx.op_type, x)
    y = reduce(ctx, ctx.op_type, ctx.op("Convert", x, destination_type=Type.u8))
    return ctx.op("Convert", y, destination_type=Type.boolean)


# Without axes to reduce (noop_with_empty_axes), these still apply their element-wise part, as ONNX's
# function bodies and reference implementation do: ReduceL1/L2 give |x|, ReduceSumSquare x*x, ReduceLogSum log(x).
@onnx_op("ReduceL1", "ReduceL2")
def norm(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    axes = reduction_axes(ctx, x)
    return ctx.op("Abs", x) if axes is None else ctx.op(ctx.op_type, x, axes, keep_dims=keepdims(ctx))


@onnx_op("ReduceSumSquare")
def sum_square(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    return reduce(ctx, "ReduceSum", ctx.op("Multiply", x, x))


@onnx_op("ReduceLogSum")
def log_sum(ctx: NodeContext) -> Output:
    return ctx.op("Log", reduce(ctx, "ReduceSum", ctx.input(0)))


@onnx_op("ReduceLogSumExp")
def log_sum_exp(ctx: NodeContext) -> Output:
    """max + log(sum(exp(x - max))): the shift keeps exp from overflowing where log(sum(exp(x))) would."""
    x = ctx.input(0)
    axes = reduction_axes(ctx, x)
    if axes is None:
        return x
    keep = keepdims(ctx)
    m = ctx.op("ReduceMax", x, axes, keep_dims=True)
    s = ctx.op("ReduceSum", ctx.op("Exp", ctx.op("Subtract", x, m)), axes, keep_dims=keep)
    return ctx.op("Add", ctx.op("Log", s), m if keep else ctx.op("ReduceMax", x, axes, keep_dims=False))
