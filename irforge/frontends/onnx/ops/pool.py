"""ONNX pooling: AveragePool, MaxPool (with the Indices output), GlobalAveragePool, GlobalMaxPool."""
from __future__ import annotations

from typing import Any

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.ops.conv import window_attrs
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops.convolution import dilated, resolve_pads
from irforge.ir.ops.pooling import pool_out_size


Geometry = tuple[list[int], list[int], list[int], list[int]]


def _static_geometry(x: Output, kernel: list[int], attrs: dict[str, Any]) -> Geometry | None:
    """(spatial sizes, dilated kernel, pads_begin, pads_end) when the spatial input sizes are static."""
    shape = x.shape
    if not shape.rank_is_static or not all(d.is_static for d in shape.dims[2:]):
        return None
    sizes = [d.min for d in shape.dims[2:]]
    kd = [dilated(k, d) for k, d in zip(kernel, attrs["dilations"])]
    pb, pe = resolve_pads(sizes, kd, attrs["strides"], attrs["auto_pad"], attrs["pads_begin"], attrs["pads_end"])
    return sizes, kd, pb, pe


def _rounding(ctx: NodeContext, x: Output, kernel: list[int], attrs: dict[str, Any]) -> str:
    """ONNX ceil_mode drops a last window that would start in the end padding: OpenVINO's `ceil_torch`. Plain
    `ceil` (available in older opsets) is used when that makes no difference for the static input sizes."""
    if not ctx.attr("ceil_mode", 0):
        return "floor"
    geometry = _static_geometry(x, kernel, attrs)
    if geometry is None:
        return "ceil_torch"
    same = all(pool_out_size(*args, "ceil") == pool_out_size(*args, "ceil_torch")
               for args in zip(geometry[0], geometry[1], attrs["strides"], *geometry[2:]))
    return "ceil" if same else "ceil_torch"


def _clipped_kernel(ctx: NodeContext, x: Output, kernel: list[int], attrs: dict[str, Any]) -> list[int]:
    """With ceil_mode, ONNX (like torch) takes a kernel larger than the padded input as one window over all of it
    (Hugging Face EfficientNet's pooler: AvgPool2d(1280, ceil_mode=True) on a 7x7 map); OpenVINO's pooling
    rejects a kernel that does not fit, so such a kernel is clipped to the padded input size (the same single
    window, the same taps, hence the same max and the same average with or without counting pads)."""
    if not ctx.attr("ceil_mode", 0) or any(d != 1 for d in attrs["dilations"]):
        return kernel
    geometry = _static_geometry(x, kernel, attrs)
    if geometry is None:
        return kernel
    sizes, _, pb, pe = geometry
    return [min(k, v + b + e) for k, v, b, e in zip(kernel, sizes, pb, pe)]


def _pool_attrs(ctx: NodeContext) -> tuple[Output, dict[str, Any]]:
    x = ctx.input(0)
    kernel = list(ctx.attr("kernel_shape"))
    attrs = window_attrs(ctx, len(kernel))
    kernel = _clipped_kernel(ctx, x, kernel, attrs)
    attrs["rounding_type"] = _rounding(ctx, x, kernel, attrs)
    attrs["kernel"] = kernel
    return x, attrs


def _clipped_window_scale(ctx: NodeContext, x: Output, attrs: dict[str, Any]) -> Output | None:
    """ONNX (like torch) divides a count_include_pad window that reaches past the end padding (ceil_mode) by
    its taps inside the padded input; OpenVINO's AvgPool with pads divides by the whole kernel. For static
    sizes this returns the per-output correction kernel_size / clipped_count ([1, 1, *out]); None when no
    window reaches past the padding or no padding is present (OpenVINO then counts the real taps already)."""
    geometry = _static_geometry(x, attrs["kernel"], attrs)
    if attrs["rounding_type"] == "floor" or geometry is None:
        return None
    sizes, kd, pb, pe = geometry
    strides = attrs["strides"]
    if not any(pb) and not any(pe):
        return None
    out = [pool_out_size(*args, attrs["rounding_type"]) for args in zip(sizes, kd, strides, pb, pe)]
    if all((o - 1) * s + k <= v + b + e for o, s, k, v, b, e in zip(out, strides, kd, sizes, pb, pe)):
        return None
    if x.element_type.name not in ("f16", "f32", "f64"):
        raise ctx.unsupported(f"count_include_pad with ceil_mode windows past the padding on {x.element_type}")
    count = np.ones((), dtype=np.int64)
    for o, s, k, d, v, b, e in zip(out, strides, attrs["kernel"], attrs["dilations"], sizes, pb, pe):
        taps = np.arange(o)[:, None] * s + np.arange(k)[None, :] * d  # padded coordinates
        count = np.multiply.outer(count, (taps < v + b + e).sum(axis=1))
    scale = np.prod(attrs["kernel"]) / np.maximum(count, 1)
    return ctx.const(scale.reshape(1, 1, *out).astype(x.element_type.dtype))


@onnx_op("AveragePool")
def average_pool(ctx: NodeContext) -> Output:
    """AvgPool-1, or AvgPool-14 for ceil_torch rounding, or AvgPool-16 for dilations."""
    x, attrs = _pool_attrs(ctx)
    attrs["exclude-pad"] = not ctx.attr("count_include_pad", 0)
    scale = None if attrs["exclude-pad"] else _clipped_window_scale(ctx, x, attrs)
    dilations = attrs.pop("dilations")
    if any(d != 1 for d in dilations):
        out = ctx.op("AvgPool", x, version="opset16", dilations=dilations, **attrs)
    else:
        out = ctx.op("AvgPool", x, version="opset14" if attrs["rounding_type"] == "ceil_torch" else "opset1", **attrs)
    return out if scale is None else ctx.op("Multiply", out, scale)


def _column_major(ctx: NodeContext, index: Output, sizes: list[int]) -> Output:
    """Row-major flat indices (batch/channel planes included) to ONNX storage_order=1 indices: the spatial
    coordinates weighted column-major (the first spatial axis fastest)."""
    def const(v: int) -> Output:
        return ctx.const(np.array(v, dtype=np.int64))

    plane = int(np.prod(sizes))
    nc = ctx.op("Divide", index, const(plane))
    rest = ctx.op("Subtract", index, ctx.op("Multiply", nc, const(plane)))
    out = ctx.op("Multiply", nc, const(plane))
    for i in range(len(sizes)):
        row_stride = int(np.prod(sizes[i + 1:]))
        coord = ctx.op("Divide", rest, const(row_stride))
        rest = ctx.op("Subtract", rest, ctx.op("Multiply", coord, const(row_stride)))
        out = ctx.op("Add", out, ctx.op("Multiply", coord, const(int(np.prod(sizes[:i])))))
    return out


@onnx_op("MaxPool")
def max_pool(ctx: NodeContext) -> list[Output]:
    """MaxPool-1 before opset 8, then MaxPool-8 (MaxPool-14 for ceil_torch rounding) whose second output gives
    ONNX's Indices: flat indices over the whole N,C,... tensor (axis=0)."""
    x, attrs = _pool_attrs(ctx)
    if ctx.opset < 8:
        attrs.pop("dilations")
        return [ctx.op("MaxPool", x, version="opset1", **attrs)]
    version = "opset14" if attrs["rounding_type"] == "ceil_torch" else "opset8"
    node = ctx.make("MaxPool", [x], version=version, index_element_type="i64", axis=0, **attrs)
    values, index = node.outputs
    if ctx.num_outputs > 1 and ctx.node.output[1] and ctx.attr("storage_order", 0):
        shape = x.shape
        if not shape.rank_is_static or not all(d.is_static for d in shape.dims[2:]):
            raise ctx.unsupported("storage_order=1 with dynamic spatial input dims")
        index = _column_major(ctx, index, [d.min for d in shape.dims[2:]])
    return [values, index]


def _global_pool(ctx: NodeContext, reduce_op: str) -> Output:
    x = ctx.input(0)
    if not x.shape.rank_is_static:
        raise ctx.unsupported("input of dynamic rank")
    axes = ctx.const(np.arange(2, x.shape.rank, dtype=np.int64))
    return ctx.op(reduce_op, x, axes, keep_dims=True)


@onnx_op("GlobalAveragePool")
def global_average_pool(ctx: NodeContext) -> Output:
    return _global_pool(ctx, "ReduceMean")


@onnx_op("GlobalMaxPool")
def global_max_pool(ctx: NodeContext) -> Output:
    return _global_pool(ctx, "ReduceMax")
