"""The ops each pre/post-processing step adds, op for op as OpenVINO's PrePostProcessor builds them (after the
clean-up its `build()` runs: the Range of a channel reversal folded to a constant, a Divide by a constant turned
into a Multiply by its reciprocal), so results match OpenVINO's and the IR reads back in OpenVINO."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irforge.ir.graph import Output, make
from irforge.ir.layout import Layout
from irforge.ir.types import ElementType, Type
from irforge.preprocess.common import (PreprocessError, channels_index, const, fmt_shape, height_index,
                                       mark_preprocessing, width_index)
from irforge.preprocess.layout_math import find_permutation

# OpenCV's RGB -> gray weights, as OpenVINO uses them
GRAY_WEIGHTS_RGB = (0.299, 0.587, 0.114)


def convert(x: Output, et: ElementType) -> Output:
    return make("Convert", [x], destination_type=et).output(0) if x.element_type != et else x


def _check_real(x: Output, step: str) -> None:
    if not x.element_type.is_float:
        raise PreprocessError(f"{step}: the tensor is {x.element_type}; {step} applies to floating-point tensors "
                              "(add convert_element_type(Type.f32) before it)")


def _per_channel_shape(x: Output, count: int, layout: Layout, step: str) -> list[int]:
    """The shape of `count` per-channel values broadcast against `x` ([1] for one value)."""
    if count == 1:
        return [1]
    axis = channels_index(layout, x.shape, step)
    dim = x.shape[axis]
    if dim.is_static and dim.get_length() != count:
        raise PreprocessError(f"{step}: {count} values for {dim.get_length()} channels (shape {fmt_shape(x.shape)}, "
                              f"layout {layout})")
    shape = [1] * len(x.shape.dims)
    shape[axis] = count
    return shape


def mean(x: Output, values: Sequence[float], layout: Layout) -> Output:
    _check_real(x, "mean")
    shape = _per_channel_shape(x, len(values), layout, "mean")
    c = const(np.asarray(values, np.float64).reshape(shape), x.element_type)
    return mark_preprocessing(make("Subtract", [x, c]).output(0))


def scale(x: Output, values: Sequence[float], layout: Layout) -> Output:
    """x / values, built as OpenVINO's build() leaves it: x * (1 / values) in the tensor's type."""
    _check_real(x, "scale")
    shape = _per_channel_shape(x, len(values), layout, "scale")
    dtype = x.element_type.dtype
    reciprocal = np.ones((), dtype) / np.asarray(values, np.float64).astype(dtype).reshape(shape)
    return mark_preprocessing(make("Multiply", [x, const(reciprocal, dtype)]).output(0))


def pad(x: Output, begin: Sequence[int], end: Sequence[int], value: float, mode: str) -> Output:
    _check_real(x, "pad")
    return make("Pad", [x, const(begin, np.int64), const(end, np.int64), const(value, x.element_type)],
                version="opset1", pad_mode=mode).output(0)


def resize(x: Output, mode: str, height: int, width: int, layout: Layout) -> Output:
    h_axis, w_axis = height_index(layout, x.shape, "resize"), width_index(layout, x.shape, "resize")
    return make("Interpolate", [x, const([height, width], np.int64), const([h_axis, w_axis], np.int64)],
                version="opset11", mode=mode, shape_calculation_mode="sizes", pads_begin=[0, 0],
                pads_end=[0, 0]).output(0)


def crop(x: Output, begin: Sequence[int], end: Sequence[int]) -> Output:
    return make("Slice", [x, const(begin, np.int32), const(end, np.int32), const([1] * len(begin), np.int32),
                          const(np.arange(len(begin)), np.int64)]).output(0)


def transpose(x: Output, order: Sequence[int], dtype: type = np.int64) -> Output:
    return make("Transpose", [x, const(order, dtype)]).output(0)


def unsqueeze_front(x: Output, count: int) -> Output:
    return make("Unsqueeze", [x, const(np.arange(count), np.int64)]).output(0)


def reverse_channels(x: Output, layout: Layout) -> Output:
    """Gather the channels in reverse order (a constant index list when the channel count is known, else one
    computed from the tensor's shape)."""
    if not layout.has_name("C"):
        raise PreprocessError(f"reverse_channels: layout {layout} has no `channels` dimension; set the tensor or "
                              "model layout (e.g. tensor().set_layout('NHWC'))")
    if x.shape.rank_is_static:
        axis = channels_index(layout, x.shape, "reverse_channels")
        dim = x.shape[axis]
        if dim.is_static:
            order = const(np.arange(dim.get_length() - 1, -1, -1), np.int32)
            return make("Gather", [x, order, const([axis], np.int32)], version="opset8", batch_dims=0).output(0)
    axis = layout.get_index_by_name("C")
    shape_of = make("ShapeOf", [x], version="opset1").output(0)
    count = make("Gather", [shape_of, const(axis, np.int32), const(0, np.int32)], version="opset8").output(0)
    start = make("Add", [count, const(-1, np.int64)]).output(0)
    order = make("Range", [start, const(-1, np.int64), const(-1, np.int64)], version="opset4",
                 output_type=Type.i32).output(0)
    return make("Gather", [x, order, const([axis], np.int32)], version="opset8", batch_dims=0).output(0)


def cut_last_channel(x: Output, layout: Layout) -> Output:
    """Drop the last channel (RGBX -> RGB)."""
    if not layout.has_name("C"):
        raise PreprocessError(f"convert_color: layout {layout} has no `channels` dimension")
    axis = layout.get_index_by_name("C")
    return make("Slice", [x, const([0], np.int32), const([-1], np.int32), const([1], np.int32),
                          const([axis], np.int32)]).output(0)


def to_gray(x: Output, layout: Layout, weights: Sequence[float]) -> Output:
    """RGB/BGR -> one gray channel: a 1x1 Convolution with the OpenCV weights, computed in f32 (integer data is
    converted and rounded half to even back), channels moved first and back for channels-last data."""
    shape = x.shape
    if not shape.rank_is_static or len(shape.dims) != 4:
        raise PreprocessError(f"convert_color(GRAY): the tensor must have rank 4, got shape {fmt_shape(shape)}")
    axis = channels_index(layout, shape, "convert_color(GRAY)")
    if not shape[axis].is_static or shape[axis].get_length() != 3:
        raise PreprocessError(f"convert_color(GRAY): the channels dimension must be 3, got {shape[axis]}")
    et = x.element_type
    y = x
    transposed = axis + 1 == len(shape.dims)
    if transposed:
        y = transpose(y, find_permutation(layout, shape, Layout("NC...")))
    if et.is_integral:
        y = convert(y, Type.f32)
    w = const(np.asarray(weights, np.float32).reshape(1, 3, 1, 1), np.float32)
    y = make("Convolution", [y, w], strides=[1, 1], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1],
             auto_pad="explicit").output(0)
    if et.is_integral:
        y = make("Round", [y], mode="half_to_even").output(0)
        y = make("Convert", [y], destination_type=et).output(0)
    if transposed:
        y = transpose(y, find_permutation(Layout("NC..."), shape, layout))
    return y
