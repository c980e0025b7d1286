"""Weight folding: per-channel Multiply/Add chains around Convolution, GroupConvolution, ConvolutionBackpropData,
GroupConvolutionBackpropData and MatMul with constant weights are folded into the weights (OpenVINO's
LinOpSequenceFusion, ConvolutionMultiplyFusion & co., MultiplyConvolutionFusion & co., MatMulMultiplyFusion).

Run in this order (after BatchNormDecomposition, so Conv -> BN -> ReLU ends as Convolution + Add + Relu):
convert_subtract_divide_with_constant, lin_op_sequence_fusion, multiply_after_weights_fusion,
add_before_weights_fusion, multiply_before_weights_fusion, lin_op_sequence_fusion (merges the bias Adds
add_before_weights_fusion creates with existing ones).

Weights are a Constant or a float decompression chain (f16/bf16 Constant -> Convert marked `decompression`):
folding into a chain stores the scaled weights in the chain's compressed type again (what OpenVINO's converter
produces when it fuses in f32 and compresses afterwards); integer (quantized) weights are never touched.
An Add after an op is the op's bias, the form OpenVINO keeps (its CPU plugin fuses it).
Nothing folds where a computed constant (scaled weights, bias, 1/c, a merged constant) would overflow the type it
is stored in while its inputs do not (f16 models), nor in 8-bit integer arithmetic (see `_regroups_exactly`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any as AnyT

import numpy as np

from irforge.ir.graph import Model, Node, Output, constant, make
from irforge.ir.ops.convolution import dilated, explicit_pads, ints_or, resolve_pads
from irforge.ir.types import ElementType
from irforge.transforms.base import PatternPass
from irforge.transforms.constant_folding import is_decompression
from irforge.transforms.pattern import Any, Match, OneOf, Op, Pattern

CONVS = ("Convolution", "GroupConvolution")
BACKPROPS = ("ConvolutionBackpropData", "GroupConvolutionBackpropData")
WEIGHTED = CONVS + BACKPROPS + ("MatMul",)

# OpenVINO's rt_info mark (ov::disable_divide_conversion; its spelling) on a Divide that must stay a division:
# x / c and x * (1/c) differ in the last bit, and some divisions must match a reference bit for bit (the scale
# of ONNX DynamicQuantizeLinear, which ONNX Runtime divides).
NONCONVERTIBLE_DIVIDE = "nonconvertable_divide"

# weights axes holding (output channels, input channels); two axes mean (groups, channels per group)
_CONV_AXES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "Convolution": ((0,), (1,)),
    "GroupConvolution": ((0, 1), (0, 2)),
    "ConvolutionBackpropData": ((1,), (0,)),
    "GroupConvolutionBackpropData": ((0, 2), (0, 1)),
}


# ---------------------------------------------------------------- constants and weights
def const_value(out: Output) -> np.ndarray | None:
    """The value of a Constant, or of a float decompression chain (Constant -> Convert marked `decompression`)
    in the chain's output type; None for anything else."""
    node = out.node
    if node.type == "Constant":
        return node.data
    if node.type == "Convert" and is_decompression(node) and node.inputs[0].node.type == "Constant" \
            and node.inputs[0].element_type.is_float and out.element_type.dtype is not None:
        data = node.inputs[0].node.data
        assert data is not None
        return data.astype(out.element_type.dtype)
    return None


def const_like(name: str) -> Any:
    """A pattern binding `name` to a value `const_value` knows (a Constant or a decompression chain)."""
    return Any(name, where=lambda o: const_value(o) is not None)


def cast_finite(value: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """`value` (computed in f64) in `dtype`; None when a finite value overflows there (f16 weights scaled by a
    large factor, 1/c of a tiny c)."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.asarray(value).astype(dtype)
    if not np.all(np.isfinite(cast.astype(np.float64)) | ~np.isfinite(np.asarray(value, np.float64))):
        return None
    return cast


def stored_like(old: Output, value: np.ndarray) -> Output | None:
    """`value` stored the way `old` is: a Constant of old's type, or the same decompression chain (the data in
    the chain's compressed type). None when the stored type cannot hold the values (overflow)."""
    if old.node.type == "Constant":
        data = cast_finite(value, old.element_type.dtype)
        return None if data is None else constant(data)
    src = old.node.inputs[0]
    packed = cast_finite(value, src.element_type.dtype)
    if packed is None:
        return None
    convert = make("Convert", [constant(packed)], destination_type=old.element_type)
    convert.rt_info["decompression"] = old.node.rt_info["decompression"]
    return convert.output(0)


def clone(node: Node, inputs: Sequence[Output], name: str | None = None, **changes: AnyT) -> Node:
    """A copy of `node` (same op version, attributes and rt_info, `changes` applied) on new inputs."""
    new = make(node.type, inputs, name=name or node.name, version=node.version, **{**node.attrs, **changes})
    new.rt_info.update(node.rt_info)
    return new


def effective_pads(node: Node) -> tuple[list[int], list[int]] | None:
    """The (pads_begin, pads_end) a Convolution/GroupConvolution/pooling node applies, auto_pad resolved; None
    when same_* padding cannot be resolved (dynamic spatial sizes)."""
    a = node.attrs
    nsp = len(a["strides"])
    if a["auto_pad"] == "explicit":
        return explicit_pads(node, nsp)
    if a["auto_pad"] == "valid":
        return [0] * nsp, [0] * nsp
    data = node.inputs[0].shape
    if node.type in CONVS:
        kernel = node.inputs[1].shape
        lead = node.op.weight_lead  # type: ignore[attr-defined]
        if not kernel.is_static:
            return None
        kernel_sizes = kernel.to_shape()[lead:]
    else:
        kernel_sizes = tuple(a["kernel"])
    if not data.rank_is_static or not all(d.is_static for d in data.dims[2:]):
        return None
    dil = ints_or(a.get("dilations"), 1, nsp)
    kd = [dilated(k, d) for k, d in zip(kernel_sizes, dil)]
    return resolve_pads([d.min for d in data.dims[2:]], kd, a["strides"], a["auto_pad"], [], [])


# ---------------------------------------------------------------- per-channel values
def channel_vector(value: np.ndarray, rank: int, axis: int) -> np.ndarray | None:
    """`value` as a 1-D vector along `axis` of a rank-`rank` tensor it broadcasts against (length 1 when it is a
    single value); None when it varies along another axis or has a higher rank."""
    if value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != axis % rank):
        return None
    return value.reshape(-1)


def _weight_axes(op: Node, w_rank: int, side: int) -> tuple[int, ...]:
    """Axes of `op`'s weights holding its output (side 0) or input (side 1) channels."""
    if op.type == "MatMul":
        if w_rank == 1:  # a vector: its only axis is contracted (transpose_b does not apply)
            assert side == 1, "1-D MatMul weights have no output axis"
            return (0,)
        out_axis = -2 if op.attrs["transpose_b"] else -1
        return ((out_axis if side == 0 else -3 - out_axis) % w_rank,)
    return _CONV_AXES[op.type][side]


def channel_shape(w_shape: Sequence[int], axes: tuple[int, ...]) -> list[int]:
    """The shape that lays a channel vector over `axes` of weights of `w_shape` (ones elsewhere)."""
    shape = [1] * len(w_shape)
    for a in axes:
        shape[a] = w_shape[a]
    return shape


def scale_weights(op: Node, w: np.ndarray, vec: np.ndarray, side: int) -> np.ndarray | None:
    """`op`'s weights with output (side 0) or input (side 1) channel c multiplied by vec[c] (vec of length 1
    scales everything), computed in f64; None when vec does not match the channel count."""
    w64 = w.astype(np.float64)
    v64 = vec.astype(np.float64)
    if vec.size == 1:
        return w64 * v64[0]
    shape = channel_shape(w.shape, _weight_axes(op, w.ndim, side))
    if int(np.prod(shape)) != vec.size:
        return None
    return w64 * v64.reshape(shape)


def data_channel_axis(op: Node) -> int:
    """The axis of `op`'s data input that its weights contract over (its input channels)."""
    if op.type == "MatMul":
        x = op.inputs[0].shape
        return -2 if op.attrs["transpose_a"] and x.rank > 1 else -1
    return 1


def _finite(*values: np.ndarray) -> bool:
    return all(bool(np.all(np.isfinite(v.astype(np.float64)))) for v in values)


def _weights_ok(op: Node, matmul_min_rank: int = 2) -> bool:
    """Float op with static constant weights. MatMul weights need 2 dims (an output axis) unless only their
    input axis matters (`matmul_min_rank=1`: a 1-D weights vector is its input axis)."""
    w = op.inputs[1]
    return (op.outputs[0].element_type.is_float and w.shape.is_static
            and (op.type != "MatMul" or w.shape.rank >= matmul_min_rank) and const_value(w) is not None)


def _regroups_exactly(et: ElementType) -> bool:
    """Whether x op a op b may be regrouped in type `et`: floats (up to rounding) and integers that wrap on
    overflow. OpenVINO's CPU plugin saturates 8-bit integer results (100 + 100 is 127 in i8), where the
    regrouped constants (computed wrapping) give other results, and x - (-128) differs from x + (-128)."""
    return et.is_float or (et.is_integral and et.bits > 8)


def _is_dequantization(x: Output) -> bool:
    """x is a dequantized activation (Convert from an integer type, maybe minus a zero point): the INT8 path
    needs that Multiply/Subtract where it is."""
    node = x.node
    if node.type == "Subtract":
        node = node.inputs[0].node
    return node.type == "Convert" and node.inputs[0].element_type.is_integral


def _weighted(data: Pattern, types: tuple[str, ...] = WEIGHTED) -> Pattern:
    """`types` applied to `data` and weights `w` (transposed convolutions also with an output_shape input)."""
    two = Op(types, data, Any("w"), name="op")
    three = Op(tuple(t for t in types if t in BACKPROPS), data, Any("w"), Any(), name="op")
    return OneOf(two, three) if any(t in BACKPROPS for t in types) else two


# ---------------------------------------------------------------- passes
class ConvertSubtractDivideWithConstant(PatternPass):
    """x - c -> x + (-c) (float, or signed integers wider than 8 bits) and x / c -> x * (1/c) (float types,
    unless 1/c overflows while c does not), as OpenVINO's ConvertSubtractWithConstant/ConvertDivideWithConstant,
    so the linear-op passes see only Add and Multiply. Dequantization Subtracts (zero points) and Divides marked
    NONCONVERTIBLE_DIVIDE stay."""

    name = "convert_subtract_divide_with_constant"
    description = "rewrite x-c as x+(-c) and x/c as x*(1/c) so linear chains can fold"

    def pattern(self) -> Pattern:
        return OneOf(Op("Subtract", Any("x"), const_like("c"), name="op"),
                     Op("Divide", Any("x"), const_like("c"), name="op"))

    def check(self, m: Match) -> str | None:
        op: Node = m["op"]
        et = op.outputs[0].element_type
        if op.attrs["auto_broadcast"] != "numpy":
            return "not numpy broadcasting"
        c = const_value(m["c"])
        assert c is not None
        if op.type == "Divide":
            if not et.is_float:
                return "integer division"
            if NONCONVERTIBLE_DIVIDE in op.rt_info:
                return "marked nonconvertible (an exact division)"
            with np.errstate(divide="ignore"):
                inverse = cast_finite(1.0 / c.astype(np.float64), et.dtype)  # 1/0 = inf is fine: x/0 = x*inf
            if inverse is None:
                return "1/c overflows the type (c is tiny)"
            m["by"] = inverse
            return None
        if not et.is_signed or not _regroups_exactly(et) or _is_dequantization(m["x"]):
            return "unsigned, saturating or dequantization subtract"
        m["by"] = (-c).astype(et.dtype)
        return None

    def rewrite(self, m: Match) -> Output:
        new_type = "Add" if m["op"].type == "Subtract" else "Multiply"
        return make(new_type, [m["x"], constant(m["by"])]).output(0)


class LinOpSequenceFusion(PatternPass):
    """Multiply->Multiply and Add->Add by constants merge into one op; Add->Multiply becomes Multiply->Add (the
    Multiply moves up next to the op it can fold into, the Adds gather below it). Runs to a fixed point. A merged
    constant must not be larger than the bigger of the two (no [1,C,1,1] + [1,1,H,W] blow-ups), nor overflow
    where the two do not. Floats and integers wider than 8 bits only (see `_regroups_exactly`)."""

    name = "lin_op_sequence_fusion"
    description = "merge Multiply/Add-by-constant chains (x*a*b, x+a+b, (x+a)*b -> x*b + a*b)"

    def pattern(self) -> Pattern:
        x, c1, c2 = Any("x"), const_like("c1"), const_like("c2")
        return OneOf(*(Op(outer, Op(inner, x, c1, name="inner"), c2, name="outer")
                       for inner, outer in (("Multiply", "Multiply"), ("Add", "Add"), ("Add", "Multiply"))))

    def check(self, m: Match) -> str | None:
        inner, outer = m["inner"], m["outer"]
        et = outer.outputs[0].element_type
        if not _regroups_exactly(et):
            return "not a float or wrapping integer type"
        if inner.attrs["auto_broadcast"] != "numpy" or outer.attrs["auto_broadcast"] != "numpy":
            return "not numpy broadcasting"
        if len({m["x"].element_type, m["c1"].element_type, m["c2"].element_type}) != 1:
            return "mixed element types"
        c1, c2 = const_value(m["c1"]), const_value(m["c2"])
        assert c1 is not None and c2 is not None
        if np.broadcast_shapes(c1.shape, c2.shape) not in (c1.shape, c2.shape):
            return "the merged constant would be larger than both"
        if inner.type != outer.type and not _finite(c1, c2):
            return "non-finite constants do not distribute"
        if et.is_float:  # one rounding, in the model's type
            c1, c2 = c1.astype(np.float64), c2.astype(np.float64)
        with np.errstate(all="ignore"):
            merged = (c1 + c2 if outer.type == inner.type == "Add" else c1 * c2).astype(et.dtype)
        if et.is_float and _finite(c1, c2) and not _finite(merged):
            return "the merged constant overflows"
        m["merged"] = merged
        return None

    def rewrite(self, m: Match) -> Output:
        inner, outer = m["inner"], m["outer"]
        merged = m["merged"]
        if inner.type == outer.type:
            return make(outer.type, [m["x"], constant(merged)]).output(0)
        mul = make("Multiply", [m["x"], m["c2"]], name=inner.name)
        return make("Add", [mul.output(0), constant(merged)]).output(0)

    def run(self, model: Model) -> bool:
        changed = False
        while super().run(model):
            changed = True
        return changed


class MultiplyAfterWeightsFusion(PatternPass):
    """op(x, W) * s -> op(x, W'), s scalar or per output channel ([1,C,1,...] for convolutions, [..., N] for
    MatMul) and not broadcasting the op's result; W' = W with output channel c scaled by s[c]."""

    name = "multiply_after_weights_fusion"
    description = "fold a per-output-channel Multiply after Convolution/MatMul into the weights"

    def pattern(self) -> Pattern:
        return Op("Multiply", _weighted(Any("x")), const_like("s"), name="mul")

    def check(self, m: Match) -> str | None:
        op, mul = m["op"], m["mul"]
        out = op.outputs[0]
        if not _weights_ok(op) or not out.shape.rank_is_static or mul.outputs[0].shape != out.shape:
            return "weights not constant, or the constant broadcasts the result"
        s = const_value(m["s"])
        assert s is not None
        axis = -1 if op.type == "MatMul" else 1
        vec = channel_vector(s, out.shape.rank, axis)
        if vec is None or not _finite(vec):
            return "not a per-output-channel constant"
        w = const_value(m["w"])
        assert w is not None
        scaled = scale_weights(op, w, vec, 0)
        new_w = None if scaled is None else stored_like(m["w"], scaled)
        if new_w is None:
            return "channel count mismatch or weights overflow"
        m["new_w"] = new_w
        return None

    def rewrite(self, m: Match) -> Output:
        op = m["op"]
        return clone(op, [m["x"], m["new_w"], *op.inputs[2:]]).output(0)


class AddBeforeWeightsFusion(PatternPass):
    """op(x + a, W) -> op(x, W) + b for Convolution/GroupConvolution without padding (padding would see zeros,
    not a) and MatMul with 2-D weights, a scalar or per input channel; b = op applied to a (a per-output-channel
    bias, [1,C,1,...] or [N]). Transposed convolutions are left alone: their borders sum fewer inputs."""

    name = "add_before_weights_fusion"
    description = "fold a per-channel Add before an unpadded Convolution/MatMul into a bias Add after it"

    def pattern(self) -> Pattern:
        return _weighted(Op("Add", Any("x"), const_like("a"), name="add"), CONVS + ("MatMul",))

    def check(self, m: Match) -> str | None:
        op, add, x = m["op"], m["add"], m["x"]
        if not _weights_ok(op) or not x.shape.rank_is_static or add.outputs[0].shape != x.shape:
            return "weights not constant, or the constant broadcasts the data"
        if op.type == "MatMul":
            if op.inputs[1].shape.rank != 2:
                return "batched MatMul weights"
        else:
            pads = effective_pads(op)
            if pads is None or any(pads[0]) or any(pads[1]):
                return "the convolution pads its input"
        a = const_value(m["a"])
        assert a is not None
        vec = channel_vector(a, x.shape.rank, data_channel_axis(op))
        if vec is None or not _finite(vec):
            return "not a per-input-channel constant"
        w = const_value(m["w"])
        assert w is not None
        contrib = scale_weights(op, w, vec, 1)
        if contrib is None:
            return "channel count mismatch"
        out_axes = _weight_axes(op, w.ndim, 0)
        bias = contrib.sum(axis=tuple(i for i in range(w.ndim) if i not in out_axes)).reshape(-1)
        out_rank = op.outputs[0].shape.rank
        shape = [-1] if op.type == "MatMul" else [1, -1] + [1] * (out_rank - 2)
        m["bias"] = cast_finite(bias.reshape(shape), op.outputs[0].element_type.dtype)
        return None if m["bias"] is not None else "the bias overflows the type"

    def rewrite(self, m: Match) -> Output:
        op = m["op"]
        new = clone(op, [m["x"], op.inputs[1]])
        return make("Add", [new.output(0), constant(m["bias"])], name=f"{op.name}/input_shift").output(0)


class MultiplyBeforeWeightsFusion(PatternPass):
    """op(x * s, W) -> op(x, W') with s scalar or per input channel (zero padding stays zero: 0*s = 0); W' = W
    with input channel c scaled by s[c]. Also op(x * s + b, W) -> op(x + b/s, W') when s has no zeros, so a
    normalization (x - mean) / std before a padded first convolution keeps only its Add."""

    name = "multiply_before_weights_fusion"
    description = "fold a per-input-channel Multiply before Convolution/MatMul into the weights"

    def pattern(self) -> Pattern:
        mul = Op("Multiply", Any("x"), const_like("s"), name="mul")
        return _weighted(OneOf(mul, Op("Add", mul, const_like("b"), name="add")))

    def check(self, m: Match) -> str | None:
        op, mul, x = m["op"], m["mul"], m["x"]
        if not _weights_ok(op, 1) or not x.shape.rank_is_static or mul.outputs[0].shape != x.shape:
            return "weights not constant, or the constant broadcasts the data"
        if _is_dequantization(x):
            return "dequantization multiply"
        axis = data_channel_axis(op)
        s = const_value(m["s"])
        assert s is not None
        vec = channel_vector(s, x.shape.rank, axis)
        if vec is None or not _finite(vec):
            return "not a per-input-channel constant"
        if "add" in m:
            b = const_value(m["b"])
            assert b is not None
            if m["add"].outputs[0].shape != x.shape or channel_vector(b, x.shape.rank, axis) is None:
                return "the Add is not per input channel"
            if not np.all(vec) or not _finite(b):
                return "zero scales cannot move below the Add"
            m["shift"] = cast_finite(b.astype(np.float64) / s.astype(np.float64), x.element_type.dtype)
            if m["shift"] is None:
                return "b/s overflows the type"
        w = const_value(m["w"])
        assert w is not None
        scaled = scale_weights(op, w, vec, 1)
        new_w = None if scaled is None else stored_like(m["w"], scaled)
        if new_w is None:
            return "channel count mismatch or weights overflow"
        m["new_w"] = new_w
        return None

    def rewrite(self, m: Match) -> Output:
        op = m["op"]
        data = m["x"]
        if "shift" in m:
            data = make("Add", [data, constant(m["shift"])], name=m["add"].name).output(0)
        return clone(op, [data, m["new_w"], *op.inputs[2:]]).output(0)
