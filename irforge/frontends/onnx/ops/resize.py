"""ONNX Resize and Upsample -> Interpolate-11, mapped as OpenVINO's ONNX frontend does (resize.cpp), plus
keep_aspect_ratio_policy, which OpenVINO ignores. ONNX features Interpolate cannot express are rejected."""
from __future__ import annotations

from typing import Any

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops._base import normalize_axis
from irforge.ir.ops.interpolate import scaled_size
from irforge.ir.types import Type

_MODES = {"nearest": "nearest", "linear": "linear_onnx", "cubic": "cubic"}
_COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")


def _interpolate(ctx: NodeContext, values: Output, axes: list[int] | None, **attrs: Any) -> Output:
    inputs = [ctx.input(0), values] + ([ctx.const(np.asarray(axes, np.int64))] if axes is not None else [])
    return ctx.op("Interpolate", *inputs, **attrs)


def _legacy_attrs(ctx: NodeContext, mode: str) -> dict[str, Any]:
    """Resize-10 and Upsample: asymmetric coordinates; nearest picks floor(x / scale)."""
    if mode not in ("nearest", "linear", "bilinear"):
        raise ctx.unsupported(f"mode='{mode}'")
    if mode == "nearest":
        return dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return dict(mode="linear_onnx", coordinate_transformation_mode="asymmetric")


@onnx_op("Upsample", since=7)
def upsample_v7(ctx: NodeContext) -> Output:
    scales = ctx.const(np.asarray(ctx.attr("scales"), np.float32))
    return _interpolate(ctx, scales, None, shape_calculation_mode="scales",
                        **_legacy_attrs(ctx, ctx.attr("mode", "nearest")))


@onnx_op("Upsample", since=9)
def upsample_v9(ctx: NodeContext) -> Output:
    return _interpolate(ctx, ctx.input(1), None, shape_calculation_mode="scales",
                        **_legacy_attrs(ctx, ctx.attr("mode", "nearest")))


@onnx_op("Resize", since=10)
def resize_v10(ctx: NodeContext) -> Output:
    mode = ctx.attr("mode", "nearest")
    attrs = _legacy_attrs(ctx, mode)
    if mode == "nearest":
        attrs["nearest_mode"] = "simple"  # as OpenVINO's frontend maps Resize-10
    return _interpolate(ctx, ctx.input(1), None, shape_calculation_mode="scales", **attrs)


def _is_empty(ctx: NodeContext, i: int) -> bool:
    """Whether optional input `i` is absent or a constant empty tensor (opset 11 passes empty scales)."""
    if not ctx.has_input(i):
        return True
    v = ctx.input_value(i)
    return v is not None and np.asarray(v).size == 0


def _downsamples(ctx: NodeContext, values: np.ndarray | None, by_sizes: bool, axes: list[int]) -> bool:
    """Whether the resize shrinks any axis (True when that cannot be known at conversion time)."""
    if values is None:
        return True
    if not by_sizes:
        return bool(np.any(np.asarray(values) < 1))
    shape = ctx.input(0).shape
    if not shape.rank_is_static or any(shape[a].is_dynamic for a in axes):
        return True
    return any(int(s) < shape[a].min for s, a in zip(np.asarray(values).reshape(-1), axes))


def _keep_aspect_ratio(ctx: NodeContext, policy: str, axes: list[int]) -> tuple[Output, bool]:
    """(sizes or scales, whether sizes) for keep_aspect_ratio_policy: ONNX takes one scale, the min (not_larger)
    or max (not_smaller) of sizes / input sizes, makes each output size round_half_up(scale * in) and maps
    coordinates with that scale. Interpolate in `scales` mode does exactly that when its floored sizes agree,
    which can be checked for constant sizes; otherwise the sizes are passed, and coordinates then follow each
    axis' own out / in ratio (the same for nearest with whole ratios, slightly shifted otherwise)."""
    shape = ctx.input(0).shape
    if not shape.rank_is_static or any(shape[a].is_dynamic for a in axes):
        raise ctx.unsupported(f"keep_aspect_ratio_policy='{policy}' with dynamic input sizes")
    in_dims = np.array([shape[a].min for a in axes], np.float32)
    sizes = ctx.input_value(3)
    if sizes is not None:
        ratio = np.asarray(sizes, np.float32).reshape(-1) / in_dims
        scale = ratio.min() if policy == "not_larger" else ratio.max()
        out = np.floor(scale * in_dims + 0.5).astype(np.int64)
        if all(scaled_size(int(d), scale) == o for d, o in zip(in_dims, out)):
            return ctx.const(np.full(len(axes), scale, np.float32)), False
        return ctx.const(out), True
    reduce = "ReduceMin" if policy == "not_larger" else "ReduceMax"
    in_const = ctx.const(in_dims)
    ratio = ctx.op("Divide", ctx.op("Convert", ctx.input(3), destination_type=Type.f32), in_const)
    scale = ctx.op(reduce, ratio, ctx.const(np.array([0], np.int64)), keep_dims=True)
    rounded = ctx.op("Floor", ctx.op("Add", ctx.op("Multiply", scale, in_const), ctx.const(np.float32(0.5))))
    return ctx.op("Convert", rounded, destination_type=Type.i64), True


@onnx_op("Resize", since=11)
def resize_v11(ctx: NodeContext) -> Output:
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    if mode not in _MODES:
        raise ctx.unsupported(f"mode='{mode}'")
    if coord not in _COORDINATE_MODES:  # tf_crop_and_resize (needs roi), half_pixel_symmetric
        raise ctx.unsupported(f"coordinate_transformation_mode='{coord}' (Interpolate has no equivalent)")
    if mode == "cubic" and ctx.attr("exclude_outside", 0):
        raise ctx.unsupported("exclude_outside=1 (Interpolate's cubic mode always uses the clamped border pixels)")

    x = ctx.input(0)
    axes = ctx.attr("axes", None)
    if axes is not None:
        if not x.shape.rank_is_static:
            raise ctx.unsupported("axes attribute with an input of dynamic rank")
        axes = [normalize_axis(a, x.shape.rank) for a in axes]
    by_sizes = not _is_empty(ctx, 3)
    if not by_sizes and _is_empty(ctx, 2):
        raise ctx.unsupported("neither scales nor sizes given")
    index = 3 if by_sizes else 2
    all_axes = axes if axes is not None else list(range(x.shape.rank)) if x.shape.rank_is_static else []

    antialias = bool(ctx.attr("antialias", 0)) and mode != "nearest"
    if antialias and _downsamples(ctx, ctx.input_value(index), by_sizes, all_axes):
        raise ctx.unsupported("antialias=1 when downsampling (OpenVINO's Interpolate has no equivalent of "
                              "ONNX's antialiasing filter for linear/cubic)")

    values = ctx.input(index)
    policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
    if by_sizes and policy != "stretch":
        if policy not in ("not_larger", "not_smaller"):
            raise ctx.unsupported(f"keep_aspect_ratio_policy='{policy}'")
        values, by_sizes = _keep_aspect_ratio(ctx, policy, all_axes)
    return _interpolate(
        ctx, values, axes, mode=_MODES[mode], shape_calculation_mode="sizes" if by_sizes else "scales",
        coordinate_transformation_mode=coord, nearest_mode=ctx.attr("nearest_mode", "round_prefer_floor"),
        cube_coeff=ctx.attr("cubic_coeff_a", -0.75))
