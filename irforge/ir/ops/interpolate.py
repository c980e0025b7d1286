"""Interpolate (opset11, and opset4 for reading older IR): resize the given axes of a tensor.

The kernel follows OpenVINO's reference implementation. Every mode is separable, so each interpolated axis
is resampled in turn from per-axis "taps" (input indices and weights for each output position): nearest
gathers, linear_onnx/cubic/linear/pillow take weighted sums of a few gathered slices."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, from_compute, normalize_axis, to_compute
from irforge.ir.shape import Dimension, PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node

_BASE_MODES = ("nearest", "linear", "linear_onnx", "cubic")
_PILLOW_MODES = ("bilinear_pillow", "bicubic_pillow")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn", "align_corners")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")
_SCALES_EPSILON = np.float32(1e-6)  # OpenVINO adds it to a scale before flooring the output size


def _attrs(modes: tuple[str, ...]) -> tuple[Attr, ...]:
    return (
        Attr("mode", "str", choices=modes),
        Attr("shape_calculation_mode", "str", choices=("sizes", "scales")),
        Attr("coordinate_transformation_mode", "str", "half_pixel", COORDINATE_MODES),
        Attr("nearest_mode", "str", "round_prefer_floor", NEAREST_MODES),
        Attr("antialias", "bool", False),
        Attr("pads_begin", "ints", [0]),
        Attr("pads_end", "ints", [0]),
        Attr("cube_coeff", "float", -0.75),
    )


def fit_pads(pads: list[int], rank: int) -> list[int]:
    """Pads attribute fitted to the rank as OpenVINO does: zero-extended or truncated."""
    return (list(pads) + [0] * rank)[:rank]


def scaled_size(length: int, scale: float) -> int:
    """Output length of an axis in `scales` mode: floor(length * (scale + 1e-6)), as OpenVINO computes it."""
    return int(np.floor(np.float64(length) * np.float64(np.float32(scale) + _SCALES_EPSILON)))


# ---------------------------------------------------------------- coordinates and taps of one axis
def _round_half_away(x: np.ndarray) -> np.ndarray:
    """std::round: halves away from zero."""
    a = np.abs(x)
    f = np.floor(a)
    return np.sign(x) * np.where(a - f >= 0.5, f + 1, f)


def original_coords(mode: str, out_len: int, in_len: int, scale: np.float32) -> np.ndarray:
    """Input coordinate (float32) of each output position along one axis."""
    x = np.arange(out_len, dtype=np.float32)
    if scale == 1 or out_len == in_len:
        return x
    half = np.float32(0.5)
    if mode == "half_pixel":
        return (x + half) / scale - half
    if mode == "pytorch_half_pixel":
        return (x + half) / scale - half if out_len > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + half) / scale
    if out_len == 1:  # align_corners
        return np.zeros_like(x)
    return x * np.float32(in_len - 1) / np.float32(out_len - 1)


def nearest_indices(mode: str, coords: np.ndarray, in_len: int, downsample: bool) -> np.ndarray:
    if mode == "round_prefer_floor":
        tie = coords == np.trunc(coords) + np.float32(0.5)
        idx = np.where(tie, np.floor(coords), _round_half_away(coords))
    elif mode == "round_prefer_ceil":
        idx = _round_half_away(coords)
    elif mode == "floor":
        idx = np.floor(coords)
    elif mode == "ceil":
        idx = np.ceil(coords)
    else:  # simple
        idx = np.ceil(coords) if downsample else np.trunc(coords)
    return np.clip(idx.astype(np.int64), 0, in_len - 1)


def linear_onnx_taps(coords: np.ndarray, in_len: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.clip(coords, 0, np.float32(in_len - 1))
    i1 = np.minimum(np.trunc(c).astype(np.int64), in_len - 1)
    i2 = np.minimum(i1 + 1, in_len - 1)
    d1 = np.abs(c - i1.astype(np.float32))
    d2 = np.abs(c - i2.astype(np.float32))
    same = i1 == i2
    d1 = np.where(same, np.float32(0.5), d1)
    d2 = np.where(same, np.float32(0.5), d2)
    return np.stack([i1, i2], 1), np.stack([d2, d1], 1)


def cubic_taps(coords: np.ndarray, in_len: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    base = np.floor(coords)
    s = np.abs(coords - base)
    a = np.float32(a)
    one, two = np.float32(1), np.float32(2)
    w = np.stack([
        ((a * (s + one) - 5 * a) * (s + one) + 8 * a) * (s + one) - 4 * a,
        ((a + two) * s - (a + 3)) * s * s + one,
        ((a + two) * (one - s) - (a + 3)) * (one - s) * (one - s) + one,
        ((a * (two - s) - 5 * a) * (two - s) + 8 * a) * (two - s) - 4 * a,
    ], 1)
    idx = base.astype(np.int64)[:, None] + np.arange(-1, 3)
    return np.clip(idx, 0, in_len - 1), w


def linear_taps(coords: np.ndarray, in_len: int, scale: np.float32, a: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """OpenVINO's `linear` mode: a triangle filter (widened by 1/a when antialiasing) over in-range pixels,
    normalized; a position with no weight gets 0."""
    r = 2 if scale > 1 else int(np.ceil(np.float32(2) / a))
    idx = _round_half_away(coords).astype(np.int64)[:, None] + np.arange(-r, r + 1)
    dz = coords[:, None] - idx.astype(np.float32)
    w = a * np.maximum(np.float32(0), np.float32(1) - np.abs(a * dz))
    w = np.where((idx >= 0) & (idx < in_len), w, np.float32(0))
    total = w.sum(1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total != 0)
    return np.clip(idx, 0, in_len - 1), w


def pillow_taps(out_len: int, in_len: int, cubic: bool, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's resampling coefficients (Resample.c precompute_coeffs), computed in double."""
    scale = in_len / out_len
    filterscale = max(scale, 1.0)
    support = (2.0 if cubic else 1.0) * filterscale
    ksize = int(np.ceil(support)) * 2 + 1
    center = (np.arange(out_len) + 0.5) * scale
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_len)
    k = np.arange(ksize)
    idx = xmin[:, None] + k
    t = np.abs((idx - center[:, None] + 0.5) / filterscale)
    if cubic:
        w = np.where(t < 1, ((a + 2) * t - (a + 3)) * t * t + 1, np.where(t < 2, (((t - 5) * t + 8) * t - 4) * a, 0.0))
    else:
        w = np.where(t < 1, 1 - t, 0.0)
    w = np.where(k < (xmax - xmin)[:, None], w, 0.0)
    total = w.sum(1, keepdims=True)
    w = np.divide(w, total, out=w.copy(), where=total != 0)
    return np.clip(idx, 0, in_len - 1), w


def apply_taps(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """out[..., o, ...] = sum_k w[o, k] * x[..., idx[o, k], ...] along `axis`."""
    shape = [1] * x.ndim
    shape[axis] = w.shape[0]
    out = np.take(x, idx[:, 0], axis=axis) * w[:, 0].reshape(shape)
    for k in range(1, w.shape[1]):
        out += np.take(x, idx[:, k], axis=axis) * w[:, k].reshape(shape)
    return out


def _round_clip(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Pillow's integer rounding (half away from zero) with saturation."""
    info = np.iinfo(dtype)
    return np.clip(_round_half_away(x), info.min, info.max)


# ---------------------------------------------------------------- the kernel
@dataclass
class Resize:
    """Everything the kernel needs besides the data: interpolated axes, per-axis scales and sizes."""

    axes: list[int]
    scales: list[np.float32]
    padded: list[int]
    out_shape: list[int]


def interpolate(x: np.ndarray, plan: Resize, attrs: dict[str, Any]) -> np.ndarray:
    """Resize (already padded) `x` to `plan.out_shape`."""
    mode = attrs["mode"]
    integral = x.dtype.kind in "iub"
    # an axis keeping its length is left as is (OpenVINO maps such coordinates to themselves)
    resized = [(axis, scale) for axis, scale in zip(plan.axes, plan.scales) if plan.out_shape[axis] != x.shape[axis]]
    if mode == "nearest":
        for axis, scale in resized:
            coords = original_coords(attrs["coordinate_transformation_mode"], plan.out_shape[axis], x.shape[axis],
                                     scale)
            x = np.take(x, nearest_indices(attrs["nearest_mode"], coords, x.shape[axis], scale < 1), axis=axis)
        return x
    if mode in _PILLOW_MODES:
        if len(plan.axes) != 2:
            raise GraphError(f"Interpolate {mode} needs exactly two axes, got {plan.axes}")
        y = x.astype(np.float64)
        # horizontal (W) pass first, then vertical (H), as Pillow does; bicubic_pillow is Pillow's a = -0.5
        # whatever cube_coeff says (cube_coeff is the `cubic` mode's), as in OpenVINO's reference
        for axis, _ in reversed(resized):
            idx, w = pillow_taps(plan.out_shape[axis], y.shape[axis], mode == "bicubic_pillow", -0.5)
            y = apply_taps(y, axis, idx, w)
            if integral:
                y = _round_clip(y, x.dtype)
        return y.astype(x.dtype)
    y = x.astype(np.result_type(x.dtype, np.float32) if not integral else np.float32)
    antialias = attrs["antialias"] and any(s < 1 for s in plan.scales)
    for axis, scale in resized:
        in_len, out_len = y.shape[axis], plan.out_shape[axis]
        coords = original_coords(attrs["coordinate_transformation_mode"], out_len, in_len, scale)
        if mode == "linear_onnx":
            idx, w = linear_onnx_taps(coords, in_len)
        elif mode == "cubic":
            idx, w = cubic_taps(coords, in_len, attrs["cube_coeff"])
        else:
            idx, w = linear_taps(coords, in_len, scale, scale if antialias else np.float32(1))
        y = apply_taps(y, axis, idx, w.astype(y.dtype))
    if integral:
        y = _round_half_away(y) if mode == "linear" else np.trunc(y)
    return y.astype(x.dtype)


# ---------------------------------------------------------------- the ops
class _InterpolateBase(OpSpec):
    """Shape logic shared by both versions; subclasses say where sizes, scales and axes come from."""

    sizes_input: ClassVar[int]
    scales_input: ClassVar[int]
    axes_input: ClassVar[int]

    def _axes(self, node: "Node", rank: int, values: np.ndarray | None) -> list[int]:
        if values is None:
            return list(range(rank))
        axes = [normalize_axis(int(a), rank, node) for a in np.asarray(values).reshape(-1)]
        if len(set(axes)) != len(axes):
            raise GraphError(f"node '{node.name}' (Interpolate): repeated axes {axes}")
        return axes

    def _check_types(self, node: "Node") -> None:
        checks = [(self.sizes_input, "sizes", "is_integral"), (self.scales_input, "scales", "is_float")]
        if len(node.inputs) > self.axes_input:
            checks.append((self.axes_input, "axes", "is_integral"))
        for i, what, prop in checks:
            et = node.inputs[i].element_type
            if not et.is_dynamic and not getattr(et, prop):
                raise GraphError(f"node '{node.name}' (Interpolate): {what} input has type {et}")

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        self._check_types(node)
        data = node.inputs[0]
        if not data.shape.rank_is_static:
            return [(data.element_type, PartialShape(None))]
        rank = data.shape.rank
        has_axes = len(node.inputs) > self.axes_input
        axes_v = node.input_value(self.axes_input) if has_axes else None
        if has_axes and axes_v is None:
            return [(data.element_type, PartialShape.dynamic(rank))]
        axes = self._axes(node, rank, axes_v)
        pb = fit_pads(node.attrs["pads_begin"], rank)
        pe = fit_pads(node.attrs["pads_end"], rank)
        dims = [d + (b + e) if d.is_static else Dimension() for d, b, e in zip(data.shape.dims, pb, pe)]
        by_sizes = node.attrs["shape_calculation_mode"] == "sizes"
        values = node.input_value(self.sizes_input if by_sizes else self.scales_input)
        if values is not None:
            values = np.asarray(values).reshape(-1)
            if values.size != len(axes):
                raise GraphError(f"node '{node.name}' (Interpolate): {values.size} "
                                 f"{'sizes' if by_sizes else 'scales'} for {len(axes)} axes")
        for i, axis in enumerate(axes):
            if values is None:
                dims[axis] = Dimension()
            elif by_sizes:
                dims[axis] = Dimension.of(int(values[i]))
            elif dims[axis].is_static:
                dims[axis] = Dimension.of(scaled_size(dims[axis].min, float(values[i])))
        return [(data.element_type, PartialShape(dims))]

    def plan(self, node: "Node", inputs: list[np.ndarray]) -> Resize:
        x = inputs[0]
        rank = x.ndim
        axes = self._axes(node, rank, inputs[self.axes_input] if len(inputs) > self.axes_input else None)
        pb = fit_pads(node.attrs["pads_begin"], rank)
        pe = fit_pads(node.attrs["pads_end"], rank)
        padded = [d + b + e for d, b, e in zip(x.shape, pb, pe)]
        out_shape = list(padded)
        if node.attrs["shape_calculation_mode"] == "sizes":
            sizes = np.asarray(inputs[self.sizes_input]).reshape(-1)
            scales = []
            for axis, size in zip(axes, sizes):
                out_shape[axis] = int(size)
                scales.append(np.float32(size) / np.float32(padded[axis]))
        else:
            scales = [np.float32(s) for s in np.asarray(inputs[self.scales_input]).reshape(-1)]
            for axis, scale in zip(axes, scales):
                out_shape[axis] = scaled_size(padded[axis], scale)
        if len(scales) != len(axes):
            raise GraphError(f"node '{node.name}' (Interpolate): {len(scales)} sizes/scales for {len(axes)} axes")
        return Resize(axes, scales, padded, out_shape)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        x = to_compute(inputs[0], et) if et.name == "bf16" else inputs[0]
        plan = self.plan(node, inputs)
        pb = fit_pads(node.attrs["pads_begin"], x.ndim)
        if any(pb) or any(fit_pads(node.attrs["pads_end"], x.ndim)):
            padded = np.zeros(plan.padded, dtype=x.dtype)
            padded[tuple(slice(b, b + d) for b, d in zip(pb, x.shape))] = x
            x = padded
        out = interpolate(x, plan, node.attrs)
        return [np.ascontiguousarray(from_compute(out, et) if et.name == "bf16" else out)]


@register
class Interpolate(_InterpolateBase):
    """Interpolate-11: inputs data, scales_or_sizes (by shape_calculation_mode), optional axes."""

    type_name = "Interpolate"
    version = "opset11"
    attrs = _attrs(_BASE_MODES + _PILLOW_MODES)
    min_inputs = 2
    max_inputs = 3
    sizes_input = 1
    scales_input = 1
    axes_input = 2

    def _check_types(self, node: "Node") -> None:
        by_sizes = node.attrs["shape_calculation_mode"] == "sizes"
        et = node.inputs[1].element_type
        if not et.is_dynamic and (et.is_integral if not by_sizes else not et.is_integral):
            raise GraphError(f"node '{node.name}' (Interpolate): shape_calculation_mode "
                             f"'{node.attrs['shape_calculation_mode']}' does not fit a {et} input 1")
        if len(node.inputs) > 2 and not node.inputs[2].element_type.is_dynamic \
                and not node.inputs[2].element_type.is_integral:
            raise GraphError(f"node '{node.name}' (Interpolate): axes input has type {node.inputs[2].element_type}")


@register
class Interpolate4(_InterpolateBase):
    """Interpolate-4 (read from older IR): inputs data, sizes, scales, optional axes."""

    type_name = "Interpolate"
    version = "opset4"
    attrs = _attrs(_BASE_MODES)
    min_inputs = 3
    max_inputs = 4
    sizes_input = 1
    scales_input = 2
    axes_input = 3
