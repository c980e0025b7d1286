"""ONNX's integer ops and ONNX Runtime's dynamic quantization, in IR ops (as OpenVINO's ONNX frontend maps them,
with the arithmetic ordered the way ONNX Runtime computes it so the results agree bit for bit):

- DynamicQuantizeLinear-11: lo = min(0, ReduceMin(x)), hi = max(0, ReduceMax(x)), scale = (hi - lo) / 255 (1 when
  hi == lo, i.e. an all-zero x: ONNX Runtime's choice; the ONNX reference gives 1/255 there),
  zero_point = Round(Clamp(0 - lo / scale, 0, 255)), y = Convert<u8>(Clamp(Round(x / scale) + zero_point, 0, 255)),
  rounding half to even, all in f32. x / scale is divided (not x * (255 / span) as OpenVINO's frontend has it: that
  rounds differently) and rounded before the zero point is added (a FakeQuantize would round the sum); the Divide
  by 255 is marked NONCONVERTIBLE_DIVIDE so the pipeline keeps it a division. (OpenVINO's CPU plugin multiplies by
  the reciprocal wherever it divides, so there a code may differ by one where x / scale lies within rounding of a
  tie.)
- ConvInteger-10 / MatMulInteger-10: inputs and zero points converted, zero points subtracted, then a Convolution /
  MatMul whose result is the exact int32 sum of products, computed by f32 kernels wherever that is provably exact
  (`_integer_product`): every integer of magnitude <= 2^24 is an f32, so when max |x - x_zp| * sum |w - w_zp| (the
  largest |sum of products| any input gives) is within 2^24 for every output, each partial sum is exact whatever
  the summation order, blocking or FMA use; the result converts to i32. Beyond that the weights are split into
  16 * high + low: two f32 products within 2^24 each, combined in i32 (OpenVINO's CPU plugin runs an i32
  Convolution/MatMul in f32, so the i32 op OpenVINO's frontend emits rounds there; REF and CPU would run it on the
  slow reference kernel). Only beyond that (reductions over more than ~4000 elements) the product is i32 itself.
  Constant integer weights stay integers in the IR (Constant u8/i8 -> Convert -> Subtract: compressed weights).
- com.microsoft DynamicQuantizeLSTM-1: ONNX Runtime's LSTM with 8-bit weights W [dirs, input, 4*hidden] and
  R [dirs, hidden, 4*hidden] (transposed against ONNX LSTM's) and per-direction (shape [dirs]) or per-column
  ([dirs, 4*hidden]) scales and zero points. The weights are dequantized ((W - zp) * scale, kept compressed),
  transposed and reordered iofc -> fico, then it is an LSTMSequence-5 like ONNX LSTM (rnn.py). ONNX Runtime also
  quantizes the activations dynamically inside (X once, the hidden state at every step, u8 with
  DynamicQuantizeLinear's scale): LSTMSequence computes them in float, see `dynamic_quantize_lstm`."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.conv import _grouped_filters, _groups, num_spatial, window_attrs
from irforge.frontends.onnx.ops.reduction import all_axes
from irforge.frontends.onnx.ops.rnn import _LSTM_GATES_TO_FICO, _all_zero, _Converted, _regroup
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.types import ElementType, Type
from irforge.transforms.linear_folding import NONCONVERTIBLE_DIVIDE

_RANGES = {"u8": (0, 255), "i8": (-128, 127)}
_F32_EXACT = 1 << 24  # every integer of magnitude <= 2^24 is an f32


# ---------------------------------------------------------------------------------------------- DynamicQuantizeLinear
def _f32(ctx: NodeContext, value: float) -> Output:
    return ctx.const(np.float32(value))


@onnx_op("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: NodeContext) -> list[Output]:
    x = ctx.input(0)
    if x.element_type != Type.f32:
        raise ctx.unsupported(f"input of type {x.element_type} (the op takes float32)")
    axes = all_axes(ctx, x)
    lo, hi = (x, x) if axes is None else (ctx.op("ReduceMin", x, axes), ctx.op("ReduceMax", x, axes))
    lo, hi = ctx.op("Minimum", lo, _f32(ctx, 0)), ctx.op("Maximum", hi, _f32(ctx, 0))
    span = ctx.op("Subtract", hi, lo)
    divide = ctx.make("Divide", [span, _f32(ctx, 255)])
    divide.rt_info[NONCONVERTIBLE_DIVIDE] = {"version": "0"}  # ONNX Runtime divides (x * (1/255) rounds apart)
    scale = ctx.op("Select", ctx.op("Equal", span, _f32(ctx, 0)), _f32(ctx, 1), divide.output(0))
    zero_point = ctx.op("Subtract", _f32(ctx, 0), ctx.op("Divide", lo, scale))
    zero_point = ctx.op("Round", ctx.op("Clamp", zero_point, min=0.0, max=255.0), mode="half_to_even")
    y = ctx.op("Add", ctx.op("Round", ctx.op("Divide", x, scale), mode="half_to_even"), zero_point)
    y = ctx.op("Convert", ctx.op("Clamp", y, min=0.0, max=255.0), destination_type=Type.u8)
    return [y, scale, ctx.op("Convert", zero_point, destination_type=Type.u8)]


# ------------------------------------------------------------------------------------- ConvInteger / MatMulInteger
def _check_8bit(ctx: NodeContext, v: Output, what: str) -> None:
    if v.element_type.name not in _RANGES:
        raise ctx.unsupported(f"{what} of type {v.element_type} (the op takes uint8 or int8)")


def _max_shift(ctx: NodeContext, x: Output, zp_index: int) -> int:
    """The largest |x - x_zero_point| x's type allows (the zero point's value when it is a known constant)."""
    lo, hi = _RANGES[x.element_type.name]
    zp = ctx.input_value(zp_index) if ctx.has_input(zp_index) else np.zeros((), np.int64)
    if zp is None:
        return hi - lo
    zp = zp.astype(np.int64)
    return int(max(np.max(zp, initial=0) - lo, hi - np.min(zp, initial=0)))


def _shifted(ctx: NodeContext, v: Output, zp_index: int, et: ElementType, zp_shape: tuple[int, ...] | None
             ) -> Output:
    """Convert<et>(v) - Convert<et>(zero point): the zero point reshaped to `zp_shape` when given (per-channel or
    per-row zero points), omitted when absent or a constant zero."""
    out = ctx.op("Convert", v, destination_type=et)
    if not ctx.has_input(zp_index):
        return out
    zp = ctx.input(zp_index)
    _check_8bit(ctx, zp, "zero point")
    value = zp.constant_value()
    if value is not None:
        if not np.any(value):
            return out
        value = value.astype(et.dtype)
        return ctx.op("Subtract", out, ctx.const(value if zp_shape is None else value.reshape(zp_shape)))
    zp = ctx.op("Convert", zp, destination_type=et)
    if zp_shape is not None:
        zp = ctx.op("Reshape", zp, ctx.const(np.array(zp_shape, np.int64)), special_zero=False)
    return ctx.op("Subtract", out, zp)


def _to_i32(ctx: NodeContext, out: Output) -> Output:
    return out if out.element_type == Type.i32 else ctx.op("Convert", out, destination_type=Type.i32)


_SPLIT = 16  # w - w_zp (within +-255) = 16 * high + low, high in [-16, 15], low in [0, 15]


def _integer_product(ctx: NodeContext, data_zp_shape: tuple[int, ...] | None, w_zp_shape: tuple[int, ...] | None,
                     sums: Callable[[np.ndarray], np.ndarray], k: int | None,
                     build: Callable[[Output, Output], Output]) -> Output:
    """The exact i32 result of `build` (a Convolution or MatMul) on input 0 minus its zero point (input 2) and the
    weights, input 1, minus theirs (input 3). `sums(|w - w_zp|)` gives, per output, the sum over the reduction;
    `k`: the reduction's length (for weights not known at conversion time). The largest |sum of products| is
    bounded by max |x - x_zp| * sums, and while that is at most 2^24 every partial sum is an integer f32 holds, so
    the product runs in f32 then converts. Beyond, the weights are split into 16 * high + low (constants split
    here, others in the graph), two f32 products each within 2^24, combined in i32; beyond that too, i32."""
    shift = _max_shift(ctx, ctx.input(0), 2)
    wv = ctx.input_value(1)
    zv = ctx.input_value(3) if ctx.has_input(3) else np.zeros((), np.int64)
    data = _shifted(ctx, ctx.input(0), 2, Type.f32, data_zp_shape)
    if wv is not None and zv is not None:
        diff = wv.astype(np.int64) - zv.astype(np.int64).reshape(w_zp_shape or zv.shape)
        if shift * int(np.max(sums(np.abs(diff)), initial=0)) <= _F32_EXACT:
            return _to_i32(ctx, build(data, _shifted(ctx, ctx.input(1), 3, Type.f32, w_zp_shape)))
        high = np.floor_divide(diff, _SPLIT)
        low = diff - _SPLIT * high
        if shift * int(max(np.max(sums(np.abs(high)), initial=0), np.max(sums(low), initial=0))) <= _F32_EXACT:
            parts = [ctx.op("Convert", ctx.const(v.astype(np.int8)), destination_type=Type.f32) for v in (high, low)]
            return _combine(ctx, [build(data, p) for p in parts])
    elif k is not None and shift * 255 * k <= _F32_EXACT:
        return _to_i32(ctx, build(data, _shifted(ctx, ctx.input(1), 3, Type.f32, w_zp_shape)))
    elif k is not None and shift * _SPLIT * k <= _F32_EXACT:
        w = _shifted(ctx, ctx.input(1), 3, Type.f32, w_zp_shape)
        high = ctx.op("Floor", ctx.op("Multiply", w, _f32(ctx, 1 / _SPLIT)))
        low = ctx.op("Subtract", w, ctx.op("Multiply", high, _f32(ctx, _SPLIT)))
        return _combine(ctx, [build(data, high), build(data, low)])
    return build(_shifted(ctx, ctx.input(0), 2, Type.i32, data_zp_shape),
                 _shifted(ctx, ctx.input(1), 3, Type.i32, w_zp_shape))


def _combine(ctx: NodeContext, parts: list[Output]) -> Output:
    """16 * high + low, in i32."""
    high, low = (_to_i32(ctx, p) for p in parts)
    return ctx.op("Add", ctx.op("Multiply", high, ctx.const(np.int32(_SPLIT))), low)


def _scalar_zp(ctx: NodeContext, i: int, what: str) -> None:
    if ctx.has_input(i):
        shape = ctx.input(i).shape
        if not shape.rank_is_static or shape.rank > 1 or (shape.rank == 1 and shape[0].is_static
                                                              and shape[0].get_length() != 1):
            raise ctx.unsupported(f"{what} of shape {shape} (per-tensor only: a scalar or one element)")


def _per_channel(ctx: NodeContext, i: int, rank: int, axis: int) -> tuple[int, ...] | None:
    """The shape a per-channel zero point (1-D) takes to broadcast along `axis` of a rank-`rank` tensor; None for
    a scalar one."""
    if not ctx.has_input(i):
        return None
    shape = ctx.input(i).shape
    if not shape.rank_is_static or shape.rank > 1:
        raise ctx.unsupported(f"zero point of shape {shape} (a scalar or 1-D)")
    if shape.rank == 0:
        return None
    target = [1] * rank
    target[axis] = -1
    return tuple(target)


@onnx_op("ConvInteger", since=10)
def conv_integer(ctx: NodeContext) -> Output:
    """Convolution (GroupConvolution when group > 1) of (x - x_zero_point) and (w - w_zero_point), exactly (see
    `_integer_product`); x_zero_point per tensor, w_zero_point per tensor or per output channel."""
    x, w = ctx.input(0), ctx.input(1)
    _check_8bit(ctx, x, "input x")
    _check_8bit(ctx, w, "weights w")
    _scalar_zp(ctx, 2, "x_zero_point")
    if not w.shape.rank_is_static:
        raise ctx.unsupported("weights of dynamic rank")
    attrs = window_attrs(ctx, num_spatial(ctx, (x, 2), (w, 2)))
    groups = _groups(ctx, w)

    def build(data: Output, weights: Output) -> Output:
        if groups > 1:
            return ctx.op("GroupConvolution", data, _grouped_filters(ctx, weights, groups), **attrs)
        return ctx.op("Convolution", data, weights, **attrs)

    k = int(np.prod(w.shape.to_shape()[1:])) if w.shape.is_static else None
    return _integer_product(ctx, None, _per_channel(ctx, 3, w.shape.rank, 0),
                            lambda d: d.reshape(d.shape[0], -1).sum(1), k, build)


def _row_zero_point(ctx: NodeContext, a: Output) -> tuple[int, ...] | None:
    """MatMulInteger's a_zero_point: per tensor, or per row of A (1-D [M] for a matrix A: it becomes [M, 1];
    N-D [..., M, 1] broadcasts as it is)."""
    if not ctx.has_input(2):
        return None
    shape = ctx.input(2).shape
    if not shape.rank_is_static:
        raise ctx.unsupported("a_zero_point of dynamic rank")
    if shape.rank == 1 and not (shape[0].is_static and shape[0].get_length() == 1):
        if not a.shape.rank_is_static or a.shape.rank < 2:
            raise ctx.unsupported(f"a 1-D a_zero_point {shape} for A of shape {a.shape}")
        return (-1, 1)
    return None


@onnx_op("MatMulInteger", since=10)
def matmul_integer(ctx: NodeContext) -> Output:
    """MatMul of (A - a_zero_point) and (B - b_zero_point), exactly (see `_integer_product`); a_zero_point per
    tensor or per row, b_zero_point per tensor or per column (both broadcast as they are)."""
    a, b = ctx.input(0), ctx.input(1)
    _check_8bit(ctx, a, "input A")
    _check_8bit(ctx, b, "input B")
    if not b.shape.rank_is_static or b.shape.rank == 0:
        raise ctx.unsupported(f"B of shape {b.shape}")
    k_dim = b.shape[-2] if b.shape.rank > 1 else b.shape[0]
    return _integer_product(ctx, _row_zero_point(ctx, a), None,
                            lambda d: d.sum(axis=-2 if d.ndim > 1 else 0), k_dim.get_length() if k_dim.is_static
                            else None, lambda x, w: ctx.op("MatMul", x, w))


# -------------------------------------------------------------------------------- com.microsoft DynamicQuantizeLSTM
def _fico(ctx: NodeContext, v: Output | np.ndarray, hidden: int, axis: int) -> Output | np.ndarray:
    """`v` with its 4 gate blocks along `axis` reordered from iofc to fico (NumPy for a value, Gather otherwise)."""
    index = np.concatenate([np.arange(g * hidden, (g + 1) * hidden) for g in _LSTM_GATES_TO_FICO])
    if isinstance(v, np.ndarray):
        return np.take(v, index, axis=axis)
    return ctx.op("Gather", v, ctx.const(index.astype(np.int64)), ctx.const(np.int64(axis)))


def _dequantized(ctx: NodeContext, i: int, hidden: int, dirs: int) -> Output:
    """Weights input `i` (W = 1 or R = 2: [dirs, K, 4*hidden], 8-bit) dequantized with its scale and zero point
    (inputs 8, 9 for W; 10, 11 for R), as LSTMSequence takes them: [dirs, 4*hidden, K] in fico gate order."""
    w = ctx.input(i)
    _check_8bit(ctx, w, f"input {i} (quantized weights)")
    name = "W" if i == 1 else "R"
    if not (w.shape.rank_is_static and w.shape.rank == 3):
        raise ctx.unsupported(f"{name} of shape {w.shape} (expected [num_directions, K, 4*hidden_size])")
    scale_index = 8 if i == 1 else 10
    scale = ctx.input(scale_index)
    if scale.element_type != Type.f32:
        raise ctx.unsupported(f"{name}_scale of type {scale.element_type} (float32 expected)")
    zp = ctx.optional_input(scale_index + 1)
    if zp is not None:
        _check_8bit(ctx, zp, f"{name}_zero_point")
    params: list[Output] = []
    for p in (scale, zp):
        if p is None:
            continue
        value = p.constant_value()
        if value is None or value.ndim not in (1, 2) or value.shape[0] != dirs or \
                (value.ndim == 2 and value.shape[1] != 4 * hidden):
            raise ctx.unsupported(f"{name} scale / zero point that is not a constant of shape [{dirs}] or "
                                  f"[{dirs}, {4 * hidden}]")
        value = value.reshape(dirs, -1, 1)  # [dirs, 4*hidden or 1, 1]: along the gate axis after the transpose
        if value.shape[1] > 1:
            value = _fico(ctx, value, hidden, 1)
        params.append(ctx.const(value.astype(np.float32)))
    wv = w.constant_value()
    if wv is not None:
        q = ctx.const(np.ascontiguousarray(_fico(ctx, np.swapaxes(wv, 1, 2), hidden, 1)))
    else:
        q = _fico(ctx, ctx.op("Transpose", w, ctx.const(np.array([0, 2, 1], np.int64))), hidden, 1)
    out = ctx.op("Convert", q, destination_type=Type.f32)
    if zp is not None and np.any(zp.constant_value()):
        out = ctx.op("Subtract", out, params[1])
    return ctx.op("Multiply", out, params[0])


@onnx_op("DynamicQuantizeLSTM", since=1, domain="com.microsoft")
def dynamic_quantize_lstm(ctx: NodeContext) -> list[Output | None]:
    """ONNX Runtime's LSTM with 8-bit weights as an LSTMSequence on the dequantized weights (inputs 0-7 as ONNX
    LSTM's, then W_scale, W_zero_point, R_scale, R_zero_point). ONNX Runtime quantizes X and each step's hidden
    state to u8 before its integer GEMMs; this float LSTM does not (OpenVINO's frontend neither)."""
    if ctx.has_input(7) and not _all_zero(ctx.input_value(7)):
        raise ctx.unsupported("peepholes (input P): OpenVINO's LSTMSequence-5 has no peephole weights")
    if ctx.attr("input_forget", 0):
        raise ctx.unsupported("input_forget=1 (coupled input and forget gates)")
    if ctx.attr("layout", 0):
        raise ctx.unsupported("layout=1 (ONNX Runtime's kernel takes the sequence-major layout only)")
    conv = _Converted(ctx)
    r_shape = ctx.input(2).shape
    if not ctx.has_attr("hidden_size"):  # R is [dirs, hidden, 4*hidden] here, not ONNX LSTM's [.., .., hidden]
        if not (r_shape.rank_is_static and r_shape.rank == 3 and r_shape[1].is_static):
            raise ctx.unsupported("no hidden_size attribute and a dynamic R shape")
        conv.hidden = r_shape[1].get_length()
    w, r = (_dequantized(ctx, i, conv.hidden, conv.num_dirs) for i in (1, 2))
    # B = [Wb_i, Wb_o, Wb_f, Wb_c, Rb_i, Rb_o, Rb_f, Rb_c] -> Wb + Rb in fico order
    b = _regroup(ctx, 3, 8, [[g, g + 4] for g in _LSTM_GATES_TO_FICO]) if ctx.has_input(3) else conv.bias_zeros(4)
    node = ctx.make("LSTMSequence", [conv.x, conv.state(5), conv.state(6), conv.seq_lens(), w, r, b],
                    **conv.common_attrs(["sigmoid", "tanh", "tanh"]))
    return conv.outputs(node.outputs)
