"""What every pre/post-processing step shares: the error type, argument coercion, the step context (current
layout, color format, the model's expectations) and the axis lookups by layout name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irforge.errors import OptionError
from irforge.ir.graph import Output, constant
from irforge.ir.layout import Layout
from irforge.ir.shape import INF, Dimension, PartialShape
from irforge.ir.types import ElementType, Type
from irforge.preprocess.enums import ColorFormat


class PreprocessError(OptionError, RuntimeError):
    """A wrong PrePostProcessor argument or step (names it). Also a RuntimeError, which OpenVINO raises, so scripts
    written for `openvino` catch it."""


def as_type(value: Any, what: str) -> ElementType:
    """An element type from an irforge Type (also a NumPy dtype or a type name such as 'u8')."""
    if isinstance(value, ElementType):
        return value
    try:
        if isinstance(value, str):
            return Type.from_name(value)
        return Type.from_dtype(value)
    except (TypeError, ValueError):
        raise PreprocessError(f"{what}: expected an element type such as Type.f32, got {value!r}") from None


def as_floats(values: Any, what: str) -> list[float]:
    """One float or a sequence of floats as a list."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise PreprocessError(f"{what}: expected a number or a list of numbers, got {values!r}") from None
    if arr.size == 0:
        raise PreprocessError(f"{what}: no values given")
    return [float(v) for v in arr]


def as_ints(values: Any, what: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise PreprocessError(f"{what}: expected a list of integers, got {values!r}") from None


def as_shape(shape: Any, what: str) -> PartialShape:
    """A PartialShape from an irforge PartialShape, a list of dims (-1 / None / '?' dynamic) or a text."""
    if isinstance(shape, PartialShape):
        return shape
    try:
        if isinstance(shape, str):
            return PartialShape.parse(shape)
        return PartialShape([d if isinstance(d, (Dimension, str)) or d is None else int(d) for d in shape])
    except (TypeError, ValueError) as e:
        raise PreprocessError(f"{what}: expected a shape such as [1,3,224,224], got {shape!r} ({e})") from None


# ---------------------------------------------------------------- formatting, as OpenVINO prints
def fmt_shape(shape: PartialShape) -> str:
    return "[" + ",".join(str(d) for d in shape.dims) + "]" if shape.rank_is_static else "[...]"


def fmt_values(values: list[float] | list[int]) -> str:
    return "(" + ",".join(f"{v:g}" for v in values) + ")"


def fmt_tensor(shape: PartialShape, layout: Layout, et: ElementType, color: ColorFormat = ColorFormat.UNDEFINED) -> str:
    text = f"{fmt_shape(shape)}, {'<no layout>' if layout.empty else layout.to_string()}, {et.name}"
    return text if color is ColorFormat.UNDEFINED else f"{text}, {color.label}"


# ---------------------------------------------------------------- shapes
def _dims_compatible(a: Dimension, b: Dimension) -> bool:
    lo = max(a.min, b.min)
    hi = b.max if a.max == INF else a.max if b.max == INF else min(a.max, b.max)
    return hi == INF or lo <= hi


def shapes_compatible(a: PartialShape, b: PartialShape) -> bool:
    """OpenVINO's PartialShape::compatible: some static shape fits both."""
    if not a.rank_is_static or not b.rank_is_static:
        return True
    return a.rank == b.rank and all(_dims_compatible(x, y) for x, y in zip(a.dims, b.dims))


def axis_index(layout: Layout, shape: PartialShape, name: str, word: str, step: str) -> int:
    """The (non-negative) axis named `name` ('C', 'H', 'W') in a tensor of `shape` with `layout`; `step` names
    the step asking, for the error."""
    if not layout.has_name(name):
        raise PreprocessError(f"{step}: layout {layout} has no `{word}` dimension; set the layout (e.g. "
                              "tensor().set_layout('NCHW') or model().set_layout('NCHW'))")
    if not shape.rank_is_static:
        raise PreprocessError(f"{step}: cannot find the {word} axis of a tensor of dynamic rank")
    rank = len(shape.dims)
    idx = layout.get_index_by_name(name)
    if idx < 0:
        idx += rank
    if not 0 <= idx < rank:
        raise PreprocessError(f"{step}: the {word} axis of layout {layout} is out of the bounds of shape "
                              f"{fmt_shape(shape)}")
    return idx


def channels_index(layout: Layout, shape: PartialShape, step: str) -> int:
    return axis_index(layout, shape, "C", "channels", step)


def height_index(layout: Layout, shape: PartialShape, step: str) -> int:
    return axis_index(layout, shape, "H", "height", step)


def width_index(layout: Layout, shape: PartialShape, step: str) -> int:
    return axis_index(layout, shape, "W", "width", step)


def const(values: Any, dtype: Any) -> Output:
    """A Constant of `values` as `dtype` (a NumPy dtype or an element type)."""
    if isinstance(dtype, ElementType):
        dtype = dtype.dtype
    return constant(np.asarray(values, dtype=dtype))


# ---------------------------------------------------------------- the context each step sees
@dataclass
class Context:
    """The state a chain of steps threads through: the current layout and color format, and what the model
    expects at the end (the target layout and element type; for inputs, the model's shape)."""

    layout: Layout
    target_layout: Layout = field(default_factory=Layout)
    target_element_type: ElementType = Type.dynamic
    color_format: ColorFormat = ColorFormat.UNDEFINED
    model_shape: PartialShape = field(default_factory=lambda: PartialShape(None))

    def model_spatial_size(self, name: str, word: str) -> int:
        """The model's height or width, for `resize` without a size."""
        idx = axis_index(self.target_layout, self.model_shape, name, word, "resize (to the model's size)")
        dim = self.model_shape[idx]
        if not dim.is_static:
            raise PreprocessError(f"resize: the model's {word} is dynamic; give the size (resize(alg, height, width))")
        return dim.get_length()


def mark_preprocessing(out: Output) -> Output:
    """Tag a node as OpenVINO tags its mean/scale/reverse nodes (rt_info `preprocessing`)."""
    out.node.rt_info["preprocessing"] = {"version": "0"}
    return out
