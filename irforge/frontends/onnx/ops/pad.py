"""ONNX Pad -> Pad-12 (pads split into begin/end; `axes` scattered into full-rank pads). ONNX's `wrap` mode,
which OpenVINO's Pad lacks, becomes one Gather per axis with the wrapped-around source indices."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import Type

Pads = np.ndarray | Output  # full-rank pads known at conversion time, or an i64 [rank] tensor


def _mode(ctx: NodeContext, allowed: tuple[str, ...]) -> str:
    mode = ctx.attr("mode", "constant")
    if mode not in allowed:
        raise ctx.unsupported(f"mode='{mode}'")
    return mode


def _pad(ctx: NodeContext, begin: Pads, end: Pads, value: Output | None, mode: str) -> Output:
    as_output = [ctx.const(p) if isinstance(p, np.ndarray) else p for p in (begin, end)]
    inputs = [ctx.input(0), *as_output] + ([value] if value is not None and mode == "constant" else [])
    return ctx.op("Pad", *inputs, pad_mode=mode)


def _element(ctx: NodeContext, v: Pads, i: int) -> Output:
    """Element `i` of a vector (known or a tensor) as a scalar tensor."""
    if isinstance(v, np.ndarray):
        return ctx.const(np.int64(v[i]))
    return ctx.op("Gather", v, ctx.const(np.int64(i)), ctx.const(np.int64(0)))


def _wrap(ctx: NodeContext, begin: Pads, end: Pads) -> Output:
    """Circular padding: along each axis, output position o reads input (o - pad_begin) mod size
    (negative pads crop)."""
    x = ctx.input(0)
    if not x.shape.rank_is_static:
        raise ctx.unsupported("mode='wrap' with an input of dynamic rank")
    known = isinstance(begin, np.ndarray) and isinstance(end, np.ndarray)
    for axis, dim in enumerate(x.shape.dims):
        if known and begin[axis] == 0 and end[axis] == 0:
            continue
        axis_c = ctx.const(np.int64(axis))
        if known and dim.is_static:
            indices = ctx.const(np.arange(-begin[axis], dim.min + end[axis], dtype=np.int64) % max(dim.min, 1))
        else:
            if dim.is_static:
                size = ctx.const(np.int64(dim.min))
            else:
                size = _element(ctx, ctx.op("ShapeOf", ctx.input(0), output_type=Type.i64), axis)
            start = ctx.op("Negative", _element(ctx, begin, axis))
            stop = ctx.op("Add", size, _element(ctx, end, axis))
            positions = ctx.op("Range", start, stop, ctx.const(np.int64(1)), output_type=Type.i64)
            indices = ctx.op("FloorMod", positions, size)
        x = ctx.op("Gather", x, indices, axis_c)
    return x


@onnx_op("Pad", since=1)
def pad_v1(ctx: NodeContext) -> Output:
    """Opsets 1-10: pads (`paddings` in opset 1) and value are attributes."""
    x = ctx.input(0)
    pads = np.asarray(ctx.attr("pads" if ctx.opset >= 2 else "paddings"), np.int64)
    half = pads.size // 2
    value = ctx.const(np.asarray(ctx.attr("value", 0.0)).astype(x.element_type.dtype))
    return _pad(ctx, pads[:half], pads[half:], value, _mode(ctx, ("constant", "reflect", "edge")))


def _pads(ctx: NodeContext) -> tuple[Pads, Pads]:
    """Full-rank begin and end pads from the `pads` input and the optional `axes` input (opset 18+)."""
    x = ctx.input(0)
    pads, axes = ctx.input_value(1), ctx.input_value(3)
    has_axes = ctx.has_input(3)
    if has_axes and not x.shape.rank_is_static:
        raise ctx.unsupported("axes input with an input of dynamic rank")
    if pads is not None and (axes is not None or not has_axes):
        pads = np.asarray(pads, np.int64).reshape(2, -1)
        if not has_axes:
            return pads[0], pads[1]
        rank = x.shape.rank
        full = np.zeros((2, rank), np.int64)
        full[:, np.asarray(axes, np.int64).reshape(-1) % rank] = pads
        return full[0], full[1]
    split = ctx.make("Split", [ctx.input(1), ctx.const(np.int64(0))], num_splits=2)
    begin, end = split.output(0), split.output(1)
    if has_axes:
        zeros = ctx.const(np.zeros(x.shape.rank, np.int64))
        axis0 = ctx.const(np.int64(0))
        begin = ctx.op("ScatterElementsUpdate", zeros, ctx.input(3), begin, axis0)
        end = ctx.op("ScatterElementsUpdate", zeros, ctx.input(3), end, axis0)
    return begin, end


def _value(ctx: NodeContext) -> Output | None:
    """The constant_value input as a scalar (Pad-12 requires one), or None."""
    if not ctx.has_input(2):
        return None
    v = ctx.input_value(2)
    if v is not None:
        return ctx.const(np.asarray(v).reshape(()))
    value = ctx.input(2)
    if value.shape.rank_is_static and value.shape.rank == 0:
        return value
    return ctx.op("Reshape", value, ctx.const(np.zeros(0, np.int64)), special_zero=False)


@onnx_op("Pad", since=11)
def pad_v11(ctx: NodeContext) -> Output:
    """Opset 11+: pads, constant_value and (18+) axes are inputs."""
    mode = _mode(ctx, ("constant", "reflect", "edge", "wrap"))
    begin, end = _pads(ctx)
    if mode == "wrap":
        return _wrap(ctx, begin, end)
    return _pad(ctx, begin, end, _value(ctx), mode)
