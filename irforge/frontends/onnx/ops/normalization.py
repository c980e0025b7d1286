"""BatchNormalization, InstanceNormalization and LayerNormalization (MVN-based, as OpenVINO's frontend)."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.frontends.onnx.types import element_type
from irforge.ir.graph import Output
from irforge.ir.ops._base import normalize_axis


def _scalar(ctx: NodeContext, value: float, like: Output) -> Output:
    return ctx.const(np.asarray(value, dtype=like.element_type.dtype))


def _static_rank(ctx: NodeContext, x: Output) -> int:
    if not x.shape.rank_is_static:
        raise ctx.unsupported("input of dynamic rank")
    return x.shape.rank


def _mean(ctx: NodeContext, x: Output, axes: Output, keep_dims: bool) -> Output:
    return ctx.op("ReduceMean", x, axes, keep_dims=keep_dims)


@onnx_op("BatchNormalization", since=1)
def batch_norm(ctx: NodeContext) -> list[Output]:
    """Inference form: y = scale * (x - mean) / sqrt(var + eps) + bias. In training mode (opset 14+) y uses the
    batch statistics, and the updated running mean/variance are the extra outputs, as ONNX defines it."""
    x, scale, bias, mean, var = (ctx.input(i) for i in range(5))
    eps = float(ctx.attr("epsilon", 1e-5))
    if ctx.opset < 9 and not ctx.attr("spatial", 1):
        raise ctx.unsupported("spatial=0")
    if not (ctx.opset >= 14 and ctx.attr("training_mode", 0)):
        if any(ctx.node.output[1:]):
            raise ctx.unsupported("running mean/variance outputs outside training mode")
        return [ctx.op("BatchNormInference", x, scale, bias, mean, var, epsilon=eps)]
    rank = _static_rank(ctx, x)
    axes = ctx.const(np.array([0] + list(range(2, rank)), np.int64))
    centered = ctx.op("Subtract", x, _mean(ctx, x, axes, True))
    batch_mean = _mean(ctx, x, axes, False)
    batch_var = _mean(ctx, ctx.op("Multiply", centered, centered), axes, False)
    momentum = float(ctx.attr("momentum", 0.9))

    def running(old: Output, batch: Output) -> Output:
        return ctx.op("Add", ctx.op("Multiply", old, _scalar(ctx, momentum, old)),
                      ctx.op("Multiply", batch, _scalar(ctx, 1 - momentum, batch)))

    y = ctx.op("BatchNormInference", x, scale, bias, batch_mean, batch_var, epsilon=eps)
    return [y, running(mean, batch_mean), running(var, batch_var)]


def _per_channel(ctx: NodeContext, v: Output, rank: int) -> Output:
    """A [C] tensor shaped [C, 1, ..., 1] to broadcast over the spatial axes of a rank-`rank` input."""
    shape = [-1] + [1] * (rank - 2)
    value = v.constant_value()
    if value is not None:
        return ctx.const(np.asarray(value).reshape(shape))
    return ctx.op("Reshape", v, ctx.const(np.array(shape, np.int64)), special_zero=False)


@onnx_op("InstanceNormalization", since=1)
def instance_norm(ctx: NodeContext) -> Output:
    """MVN over the spatial axes, then per-channel scale and bias."""
    x = ctx.input(0)
    rank = _static_rank(ctx, x)
    axes = ctx.const(np.arange(2, rank, dtype=np.int64))
    mvn = ctx.op("MVN", x, axes, normalize_variance=True, eps=float(ctx.attr("epsilon", 1e-5)),
                 eps_mode="INSIDE_SQRT")
    scaled = ctx.op("Multiply", mvn, _per_channel(ctx, ctx.input(1), rank))
    return ctx.op("Add", scaled, _per_channel(ctx, ctx.input(2), rank))


@onnx_op("LayerNormalization", since=17)
def layer_norm(ctx: NodeContext) -> list[Output]:
    """MVN over axes [axis, rank), computed in stash_type, then scale and optional bias. The optional Mean and
    InvStdDev outputs are the statistics of those axes (kept as size-1 dims)."""
    x = ctx.input(0)
    axis = int(ctx.attr("axis", -1))
    eps = float(ctx.attr("epsilon", 1e-5))
    if axis < 0:  # negative axes need no rank: [axis, ..., -1]
        axes_list = list(range(axis, 0))
    else:
        rank = _static_rank(ctx, x)
        axes_list = list(range(normalize_axis(axis, rank), rank))
    axes = ctx.const(np.array(axes_list, np.int64))
    stash = element_type(int(ctx.attr("stash_type", 1)), "stash_type")
    data = x if stash == x.element_type else ctx.op("Convert", x, destination_type=stash)
    normalized = ctx.op("MVN", data, axes, normalize_variance=True, eps=eps, eps_mode="INSIDE_SQRT")
    if data is not x:
        normalized = ctx.op("Convert", normalized, destination_type=x.element_type)
    y = ctx.op("Multiply", normalized, ctx.input(1))
    if ctx.has_input(2):
        y = ctx.op("Add", y, ctx.input(2))
    outs = [y]
    if any(ctx.node.output[1:]):
        mean = _mean(ctx, data, axes, True)
        centered = ctx.op("Subtract", data, mean)
        var = _mean(ctx, ctx.op("Multiply", centered, centered), axes, True)
        std = ctx.op("Sqrt", ctx.op("Add", var, _scalar(ctx, eps, var)))
        outs += [mean, ctx.op("Divide", _scalar(ctx, 1.0, std), std)]
    return outs
