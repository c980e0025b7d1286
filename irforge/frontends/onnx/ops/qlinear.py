"""ONNX Runtime's QOperator format (QLinearConv, QLinearMatMul and com.microsoft's QLinearAdd, QLinearMul, QGemm,
QLinearConcat, QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax) as the QDQ format
translates: each op is DequantizeLinear of its integer inputs -> the float op -> QuantizeLinear of its result, built
with quantize.py's helpers. A QuantizeLinear followed by a DequantizeLinear becomes one FakeQuantize there, so a
chain of QOperator nodes becomes float ops between FakeQuantizes, with i8 weights as Convert -> Multiply(scale):
the same IR a QDQ file gives, which the CPU device runs on INT8 kernels (OpenVINO's frontend maps them the same
way). The integer bias of QLinearConv / QGemm (int32, scale = x_scale * w_scale, zero point 0) is dequantized here
when its scales are constants.

Per-axis parameters: QLinearConv's weight scale and zero point along the output channels (axis 0), QLinearMatMul's
B parameters along its columns (the last axis), QGemm's along N (axis 0 of B when transB, else 1); activations per
tensor."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.conv import _grouped_filters, _groups, channel_bias, num_spatial, window_attrs
from irforge.frontends.onnx.ops.quantize import _RANGES, _params, dequantize_value, quantize_value
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops._base import normalize_axis
from irforge.ir.types import Type

MS = "com.microsoft"


def _dq(ctx: NodeContext, data: int, axis: int = 1) -> Output:
    """Input `data` dequantized with inputs data + 1 (scale) and data + 2 (zero point, optional)."""
    q = ctx.input(data)
    if q.element_type.name not in _RANGES:
        raise ctx.unsupported(f"input {data} of type {q.element_type} (8- or 16-bit integers expected)")
    return dequantize_value(ctx, q, ctx.input(data + 1), ctx.optional_input(data + 2), axis)


def _q(ctx: NodeContext, y: Output, scale: int, axis: int = 1) -> Output:
    """Float `y` quantized with inputs `scale` and scale + 1 (the zero point, whose type is the result's; u8 when
    absent)."""
    zp = ctx.optional_input(scale + 1)
    qt = zp.element_type if zp is not None else Type.u8
    return quantize_value(ctx, y, *_params(ctx, y, Type.f32, ctx.input(scale), zp, axis), qt)


def _bias(ctx: NodeContext, index: int, x_scale: int, w_scale: int, scale: float = 1.0) -> Output | None:
    """The int32 bias input `index` as float: bias * x_scale * w_scale * scale (a constant when all are)."""
    b = ctx.optional_input(index)
    if b is None:
        return None
    values = [ctx.input_value(i) for i in (index, x_scale, w_scale)]
    if any(v is None for v in values):
        raise ctx.unsupported("an integer bias with non-constant scales")
    bias, xs, ws = values
    return ctx.const((bias.astype(np.float64) * np.float64(xs) * np.asarray(ws, np.float64).reshape(-1)
                      * scale).astype(np.float32))  # type: ignore[union-attr]


@onnx_op("QLinearConv", since=10)
def qlinear_conv(ctx: NodeContext) -> Output:
    """Inputs x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32, optional)."""
    x, w = ctx.input(0), ctx.input(3)
    attrs = window_attrs(ctx, num_spatial(ctx, (x, 2), (w, 2)))
    groups = _groups(ctx, w)
    xf, wf = _dq(ctx, 0), _dq(ctx, 3, axis=0)
    if groups > 1:
        node = ctx.make("GroupConvolution", [xf, _grouped_filters(ctx, wf, groups)], **attrs)
    else:
        node = ctx.make("Convolution", [xf, wf], **attrs)
    out = node.output(0)
    bias = _bias(ctx, 8, 1, 4)
    if bias is not None:
        node.name = ctx.conv.unique_name(f"{ctx.name}/WithoutBiases")
        out = ctx.op("Add", out, channel_bias(ctx, bias, out.shape.rank))
    return _q(ctx, out, 6)


@onnx_op("QLinearMatMul", since=10)
def qlinear_matmul(ctx: NodeContext) -> Output:
    """Inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point."""
    b = ctx.input(3)
    axis = b.shape.rank - 1 if b.shape.rank_is_static else -1
    return _q(ctx, ctx.op("MatMul", _dq(ctx, 0), _dq(ctx, 3, axis=axis), transpose_a=False, transpose_b=False), 6)


@onnx_op("QGemm", domain=MS)
def qgemm(ctx: NodeContext) -> Output:
    """alpha * op(A) @ op(B) + C: inputs A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (int32, scale
    alpha * a_scale * b_scale), y_scale, y_zero_point (both optional: a float result without them)."""
    trans_b = bool(ctx.attr("transB", 0))
    alpha = float(ctx.attr("alpha", 1.0))
    node = ctx.make("MatMul", [_dq(ctx, 0), _dq(ctx, 3, axis=0 if trans_b else 1)],
                    transpose_a=bool(ctx.attr("transA", 0)), transpose_b=trans_b)
    out = node.output(0)
    if alpha != 1.0:
        out = ctx.op("Multiply", out, ctx.const(np.float32(alpha)))
    bias = _bias(ctx, 6, 1, 4, alpha)
    if bias is not None:
        node.name = ctx.conv.unique_name(f"{ctx.name}/WithoutBiases")
        out = ctx.op("Add", out, bias)
    return _q(ctx, out, 7) if ctx.has_input(7) else out


@onnx_op("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary(ctx: NodeContext) -> Output:
    """Inputs A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point (numpy broadcasting)."""
    op = {"QLinearAdd": "Add", "QLinearMul": "Multiply"}[ctx.op_type]
    return _q(ctx, ctx.op(op, _dq(ctx, 0), _dq(ctx, 3)), 6)


@onnx_op("QLinearConcat", domain=MS)
def qlinear_concat(ctx: NodeContext) -> Output:
    """Inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per concatenated tensor."""
    if (ctx.num_inputs - 2) % 3 or ctx.num_inputs < 5:
        raise ctx.unsupported(f"{ctx.num_inputs} inputs (2 + 3 per concatenated tensor expected)")
    parts = [_dq(ctx, i) for i in range(2, ctx.num_inputs, 3)]
    rank = parts[0].shape.rank if parts[0].shape.rank_is_static else None
    axis = int(ctx.attr("axis"))
    if axis < 0:
        if rank is None:
            raise ctx.unsupported("a negative axis on inputs of dynamic rank")
        axis = normalize_axis(axis, rank)
    return _q(ctx, ctx.op("Concat", *parts, axis=axis), 0)


@onnx_op("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool(ctx: NodeContext) -> Output:
    """Inputs X, x_scale, x_zero_point, y_scale, y_zero_point; channels-first only."""
    if ctx.attr("channels_last", 0):
        raise ctx.unsupported("channels_last=1")
    x = _dq(ctx, 0)
    if not x.shape.rank_is_static:
        raise ctx.unsupported("input of dynamic rank")
    axes = ctx.const(np.arange(2, x.shape.rank, dtype=np.int64))
    return _q(ctx, ctx.op("ReduceMean", x, axes, keep_dims=True), 3)


@onnx_op("QLinearSigmoid", "QLinearLeakyRelu", domain=MS)
def qlinear_unary(ctx: NodeContext) -> Output:
    """Inputs X, X_scale, X_zero_point, Y_scale, Y_zero_point."""
    x = _dq(ctx, 0)
    if ctx.op_type == "QLinearSigmoid":
        y = ctx.op("Sigmoid", x)
    else:
        y = ctx.op("PRelu", x, ctx.const(np.asarray([ctx.attr("alpha", 0.01)], np.float32)))
    return _q(ctx, y, 3)


@onnx_op("QLinearSoftmax", domain=MS)
def qlinear_softmax(ctx: NodeContext) -> Output:
    """Inputs X, X_scale, x_zero_point, y_scale, y_zero_point; `opset` says which Softmax it stands for (from 13:
    along `axis`, default -1; before: over the flattened tail from `axis`, default 1)."""
    x = _dq(ctx, 0)
    if not x.shape.rank_is_static:
        raise ctx.unsupported("input of dynamic rank")
    rank = x.shape.rank
    if int(ctx.attr("opset")) >= 13:
        axis = normalize_axis(ctx.attr("axis", -1), rank)
    else:
        axis = normalize_axis(ctx.attr("axis", 1), rank)
        if not all(d.is_static and d.min == 1 for d in x.shape.dims[axis + 1:]) and axis != rank - 1:
            raise ctx.unsupported(f"opset {ctx.attr('opset')} softmax over several axes")
    return _q(ctx, ctx.op("Softmax", x, axis=axis), 3)
