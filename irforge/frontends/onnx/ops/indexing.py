"""ONNX indexing ops: Slice, Gather, GatherElements, GatherND, ScatterElements, ScatterND, NonZero."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.movement import i64
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import Type

# ONNX reduction names -> OpenVINO's (ScatterElementsUpdate-12 / ScatterNDUpdate-15).
_REDUCTIONS = {"none": "none", "add": "sum", "mul": "prod", "min": "min", "max": "max"}


def _reduction(ctx: NodeContext) -> str:
    name = ctx.attr("reduction", "none")
    if name not in _REDUCTIONS:
        raise ctx.unsupported(f"reduction='{name}'")
    return _REDUCTIONS[name]


@onnx_op("Slice")
def slice_v1(ctx: NodeContext) -> Output:
    """Opset 1: starts/ends/axes attributes, unit steps."""
    starts = ctx.attr("starts")
    inputs = [ctx.input(0), *(i64(ctx, v) for v in (starts, ctx.attr("ends"), [1] * len(starts)))]
    axes = ctx.attr("axes", None)
    if axes is not None:
        inputs.append(i64(ctx, axes))
    return ctx.op("Slice", *inputs)


@onnx_op("Slice", since=10)
def slice_op(ctx: NodeContext) -> Output:
    """Opset 10+: starts, ends, optional axes and steps as inputs (missing steps are ones of starts' type)."""
    starts, ends = ctx.input(1), ctx.input(2)
    axes, steps = ctx.optional_input(3), ctx.optional_input(4)
    if steps is None:
        if not starts.shape.is_static:
            raise ctx.unsupported("starts of unknown length without steps")
        steps = ctx.const(np.ones(starts.shape.to_shape(), starts.element_type.dtype))
    return ctx.op("Slice", ctx.input(0), starts, ends, steps, *([] if axes is None else [axes]))


@onnx_op("Gather")
def gather(ctx: NodeContext) -> Output:
    return ctx.op("Gather", ctx.input(0), ctx.input(1), i64(ctx, ctx.attr("axis", 0)), batch_dims=0)


@onnx_op("GatherElements", since=11)
def gather_elements(ctx: NodeContext) -> Output:
    return ctx.op("GatherElements", ctx.input(0), ctx.input(1), axis=ctx.attr("axis", 0))


@onnx_op("GatherND", since=11)
def gather_nd(ctx: NodeContext) -> Output:
    return ctx.op("GatherND", ctx.input(0), ctx.input(1), batch_dims=ctx.attr("batch_dims", 0))


@onnx_op("ScatterElements", since=11)
def scatter_elements(ctx: NodeContext) -> Output:
    axis = i64(ctx, ctx.attr("axis", 0))
    return ctx.op("ScatterElementsUpdate", ctx.input(0), ctx.input(1), ctx.input(2), axis,
                  reduction=_reduction(ctx), use_init_val=True)


@onnx_op("ScatterND", since=11)
def scatter_nd(ctx: NodeContext) -> Output:
    """reduction 'none' keeps the widely supported ScatterNDUpdate (opset4 in IR); others need opset15."""
    reduction = _reduction(ctx)
    inputs = [ctx.input(0), ctx.input(1), ctx.input(2)]
    if reduction == "none":
        return ctx.make("ScatterNDUpdate", inputs, version="opset4").output(0)
    return ctx.make("ScatterNDUpdate", inputs, version="opset15", reduction=reduction).output(0)


@onnx_op("NonZero", since=9)
def non_zero(ctx: NodeContext) -> Output:
    return ctx.op("NonZero", ctx.input(0), output_type=Type.i64)
