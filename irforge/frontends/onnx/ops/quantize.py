"""QuantizeLinear / DequantizeLinear as OpenVINO represents quantization.

- QuantizeLinear -> FakeQuantize(x, il, ih, lo, hi, 2^bits) -> Convert(integer type), where [lo, hi] is the
  integer type's range and il = scale * (lo - zero_point), ih = scale * (hi - zero_point): the FakeQuantize
  yields round(x / scale) + zero_point, saturated, as floats.
- DequantizeLinear -> Convert(float) -> Subtract(zero point) -> Multiply(scale).
- A DequantizeLinear reading such a Convert (a Q/DQ pair) becomes ONE FakeQuantize whose output range is
  the dequantized [lo, hi]: ((lo - zp) * scale, (hi - zp) * scale). The Q's own FakeQuantize + Convert stay
  only if something else reads the integers.

Scales and zero points are per tensor (scalar or one element), per axis (1-D along `axis`) or blocked (the
input's rank, `block_size` consecutive elements along `axis` sharing one value)."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.cast import attr_type
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Node, Output
from irforge.ir.ops._base import normalize_axis
from irforge.ir.types import ElementType, Type

_RANGES = {"u8": (0, 255), "i8": (-128, 127), "u16": (0, 65535), "i16": (-32768, 32767), "u4": (0, 15), "i4": (-8, 7)}


def _levels(et: ElementType) -> int:
    return 1 << et.bits


def _as_type(ctx: NodeContext, v: Output, et: ElementType) -> Output:
    """`v` in type `et`: a converted constant when `v` is known, else a Convert."""
    if v.element_type == et:
        return v
    value = v.constant_value()
    if value is not None:
        return ctx.const(value.astype(et.dtype))
    return ctx.op("Convert", v, destination_type=et)


def _broadcastable(ctx: NodeContext, v: Output, x: Output, axis: int | None = None, block: int | None = None
                   ) -> Output:
    """A scale or zero point shaped to broadcast against `x` along `axis` (default: the node's ONNX `axis`
    attribute; see the module docstring)."""
    shape = v.shape
    if shape.rank_is_static and (shape.rank == 0 or (shape.is_static and int(np.prod(shape.to_shape())) == 1)):
        return v
    if not (x.shape.rank_is_static and shape.rank_is_static):
        raise ctx.unsupported("per-axis quantization parameters of an input with dynamic rank")
    rank = x.shape.rank
    axis = normalize_axis(ctx.attr("axis", 1) if axis is None else axis, rank)
    block = ctx.attr("block_size", 0) if block is None else block
    value = v.constant_value()
    if block:
        return _expand_blocks(ctx, v, value, x, axis, block)
    if shape.rank != 1:
        raise ctx.unsupported(f"quantization parameter of rank {shape.rank} without block_size")
    target = [1] * (rank - axis)
    target[0] = -1
    if value is not None:
        return ctx.const(value.reshape(target))
    return ctx.op("Reshape", v, ctx.const(np.array(target, np.int64)), special_zero=False)


def _expand_blocks(ctx: NodeContext, v: Output, value: np.ndarray | None, x: Output, axis: int,
                   block: int) -> Output:
    """Repeat each element `block` times along `axis`, cut to the input's length there."""
    dim = x.shape[axis]
    if not dim.is_static:
        raise ctx.unsupported("blocked quantization along a dynamic dimension")
    index = np.arange(dim.get_length()) // block
    if value is not None:
        return ctx.const(np.take(value, index, axis=axis))
    return ctx.op("Gather", v, ctx.const(index.astype(np.int64)), ctx.const(np.int64(axis)))


def _params(ctx: NodeContext, x: Output, et: ElementType, scale: Output | None = None, zp: Output | None = None,
            axis: int | None = None) -> tuple[Output, Output | None]:
    """Scale and zero point (None when absent; default: the node's inputs 1 and 2) as `et`, shaped to broadcast
    against `x` along `axis` (default: the node's attribute)."""
    if scale is None:
        scale, zp = ctx.input(1), ctx.optional_input(2)
    block = None if axis is None else 0
    out = _broadcastable(ctx, _as_type(ctx, scale, et), x, axis, block)
    return out, None if zp is None else _broadcastable(ctx, _as_type(ctx, zp, et), x, axis, block)


def _dequantize_bound(ctx: NodeContext, bound: Output, scale: Output, zp: Output | None) -> Output:
    """(bound - zp) * scale, a constant when all three are (they usually are)."""
    values = [v.constant_value() for v in (bound, scale, zp) if v is not None]
    if all(v is not None for v in values):
        b, s, *z = values
        return ctx.const(np.multiply(b - z[0] if z else b, s))
    shifted = bound if zp is None else ctx.op("Subtract", bound, zp)
    return ctx.op("Multiply", shifted, scale)


def _quantized_type(ctx: NodeContext) -> ElementType:
    zp = ctx.optional_input(2)
    if zp is not None:
        return zp.element_type
    return attr_type(ctx, "output_dtype") if ctx.attr("output_dtype", 0) else Type.u8


def _check_integer(ctx: NodeContext, et: ElementType) -> None:
    if et.name not in _RANGES:
        raise ctx.unsupported(f"quantization to {et}")


@onnx_op("QuantizeLinear", since=10)
def quantize_linear(ctx: NodeContext) -> Output:
    qt = _quantized_type(ctx)
    _check_integer(ctx, qt)
    return quantize_value(ctx, ctx.input(0), *_params(ctx, ctx.input(0), Type.f32), qt)


def quantize_value(ctx: NodeContext, x: Output, scale: Output, zp: Output | None, qt: ElementType) -> Output:
    """QuantizeLinear of float `x` to `qt` with a scale and zero point already shaped to broadcast against x (the
    QOperator translators in qlinear.py quantize their results with it)."""
    x = _as_type(ctx, x, Type.f32)
    lo, hi = (ctx.const(np.float32(b)) for b in _RANGES[qt.name])
    il, ih = (_dequantize_bound(ctx, b, scale, zp) for b in (lo, hi))
    fq = ctx.op("FakeQuantize", x, il, ih, lo, hi, levels=_levels(qt))
    return ctx.op("Convert", fq, destination_type=qt)


def _quantize_of(q: Output) -> Node | None:
    """The FakeQuantize of a QuantizeLinear when `q` is its Convert (the pattern `quantize_linear` builds)."""
    convert = q.node
    if convert.type != "Convert" or convert.inputs[0].node.type != "FakeQuantize":
        return None
    fq = convert.inputs[0].node
    qt = convert.attrs["destination_type"]
    if qt.name not in _RANGES or fq.attrs["levels"] != _levels(qt):
        return None
    lo, hi = fq.input_value(3), fq.input_value(4)
    if lo is None or hi is None or lo.size != 1 or hi.size != 1 or (lo.item(), hi.item()) != _RANGES[qt.name]:
        return None
    return fq


# ops that move 8-bit codes without changing their meaning (ONNX Runtime's QOperator format runs MaxPool, Reshape,
# Transpose, ... on the integers; the data is input 0, the other inputs are constant parameters)
_CODE_MOVES = ("MaxPool", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "StridedSlice", "Slice", "Gather",
               "Split", "VariadicSplit")


def _requantized(ctx: NodeContext, q: Output, scale: Output | None, zp: Output | None, axis: int | None
                 ) -> Output | None:
    """The dequantization of `q` as ONE FakeQuantize when `q` is a QuantizeLinear's integers (a Q/DQ pair), also
    through ops that only move the integers (per-tensor scales only: moves may change the axes); None otherwise."""
    if scale is None:
        scale, zp = ctx.input(1), ctx.optional_input(2)
    fq = _quantize_of(q)
    if fq is not None:
        sc, z = _params(ctx, q, fq.outputs[0].element_type, scale, zp, axis)
        ol, oh = (_dequantize_bound(ctx, fq.inputs[i], sc, z) for i in (3, 4))
        return ctx.op("FakeQuantize", *fq.inputs[:3], ol, oh, levels=fq.attrs["levels"])
    node = q.node
    per_tensor = all(v is None or (v.shape.is_static and int(np.prod(v.shape.to_shape())) == 1)
                     for v in (scale, zp))
    if node.type not in _CODE_MOVES or not per_tensor or (node.type == "MaxPool" and q.index != 0):
        return None
    src = _requantized(ctx, node.inputs[0], scale, zp, axis)
    if src is None:
        return None
    moved = ctx.make(node.type, [src] + node.inputs[1:], version=node.version, **node.attrs)
    return moved.outputs[q.index]


@onnx_op("DequantizeLinear", since=10)
def dequantize_linear(ctx: NodeContext) -> Output:
    out_type = attr_type(ctx, "output_dtype") if ctx.attr("output_dtype", 0) else ctx.input(1).element_type
    return dequantize_value(ctx, ctx.input(0), None, None, None, out_type)


def dequantize_value(ctx: NodeContext, q: Output, scale: Output | None, zp: Output | None, axis: int | None,
                     out_type: ElementType = Type.f32) -> Output:
    """DequantizeLinear of integers `q` with `scale` and `zp` along `axis` (None: the node's inputs 1, 2 and its
    `axis` attribute): one FakeQuantize after a QuantizeLinear (see `_requantized`), else Convert -> Subtract ->
    Multiply."""
    out = _requantized(ctx, q, scale, zp, axis)
    if out is not None:
        return _as_type(ctx, out, out_type)
    if q.element_type.is_float:
        raise ctx.unsupported(f"dequantization of {q.element_type}")
    sc, z = _params(ctx, q, out_type, scale, zp, axis)
    x = ctx.op("Convert", q, destination_type=out_type)  # kept even for a constant: compressed weights
    return ctx.op("Multiply", x if z is None else ctx.op("Subtract", x, z), sc)
