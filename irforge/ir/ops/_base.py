"""Shared building blocks for op definitions: base classes for element-wise ops and shape helpers."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec
from irforge.ir.shape import PartialShape, broadcast_shapes
from irforge.ir.types import ElementType, Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node

TypedShape = tuple[ElementType, PartialShape]

AUTO_BROADCAST = Attr("auto_broadcast", "str", "numpy", ("none", "numpy", "pdpd"))


def same_as_input(node: "Node", index: int = 0) -> list[TypedShape]:
    """One output with the type and shape of input `index`."""
    src = node.inputs[index]
    return [(src.element_type, src.shape)]


def normalize_axis(axis: int, rank: int, node: "Node | None" = None) -> int:
    """Map a negative axis into [0, rank); error naming the node when out of range."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < max(rank, 1):
        where = f"node '{node.name}' ({node.type}): " if node is not None else ""
        raise GraphError(f"{where}axis {axis} is out of range for rank {rank}")
    return a


def merged_type(node: "Node", indexes: tuple[int, ...] = (0, 1)) -> ElementType:
    """The common element type of the given inputs (dynamic ones yield to static ones); error on mismatch."""
    t = Type.dynamic
    for i in indexes:
        if i >= len(node.inputs):
            continue
        et = node.inputs[i].element_type
        if et.is_dynamic:
            continue
        if not t.is_dynamic and et != t:
            raise GraphError(f"node '{node.name}' ({node.type}): input element types differ ({t} vs {et})")
        t = et
    return t


def as_dtype(arr: np.ndarray, et: ElementType) -> np.ndarray:
    """`arr` as the NumPy storage dtype of `et` (no copy when it already is)."""
    if et.dtype is None or arr.dtype == et.dtype:
        return arr
    return arr.astype(et.dtype)


def to_compute(arr: np.ndarray, et: ElementType) -> np.ndarray:
    """`arr` in a dtype NumPy computes well and exactly enough: 16/8-bit floats -> f32, integers -> int64."""
    if et.is_float and arr.dtype.itemsize < 4:  # f16 and the ml_dtypes bf16/f8 types
        return arr.astype(np.float32)
    if arr.dtype.kind in "iub" and arr.dtype != np.uint64:
        return arr.astype(np.int64)
    return arr


def accumulate(arr: np.ndarray, et: ElementType) -> np.ndarray:
    """`arr` in the dtype the sum-of-products kernels (Convolution, MatMul) accumulate in: f64 for floats, so
    equal weights give bit-equal outputs whatever blocking BLAS uses, then rounded once; else `to_compute`."""
    if et.is_float:
        return arr.astype(np.float64)
    return to_compute(arr, et)


def from_compute(res: np.ndarray, et: ElementType) -> np.ndarray:
    """A result of `to_compute` arithmetic back in `et`'s dtype."""
    return as_dtype(np.asarray(res), et)


def reject_strings(node: "Node") -> None:
    """Element-wise arithmetic and logic take numbers (OpenVINO refuses such an op on a string tensor)."""
    for i, src in enumerate(node.inputs):
        if src.element_type == Type.string:
            raise GraphError(f"node '{node.name}' ({node.type}): input {i} is a string tensor; this op takes numbers")


class UnaryOp(OpSpec):
    """y = fn(x), same type and shape. Subclasses set `fn` (a NumPy function) or override `evaluate`."""

    min_inputs = 1
    max_inputs = 1
    fn: ClassVar[Callable[[np.ndarray], np.ndarray] | None] = None

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        reject_strings(node)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        assert type(self).fn is not None, self.type_name
        x = inputs[0]
        return [as_dtype(np.asarray(type(self).fn(x)), node.outputs[0].element_type)]


class BinaryElementwise(OpSpec):
    """z = fn(x, y) with NumPy broadcasting (`auto_broadcast`). Comparisons set `result_boolean`."""

    attrs = (AUTO_BROADCAST,)
    min_inputs = 2
    max_inputs = 2
    result_boolean: ClassVar[bool] = False
    accepts_string: ClassVar[bool] = False  # comparisons of strings (Equal) are fine; arithmetic and logic are not
    fn: ClassVar[Callable[[np.ndarray, np.ndarray], np.ndarray] | None] = None

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        if not self.accepts_string:
            reject_strings(node)
        et = merged_type(node)
        a, b = node.inputs[0].shape, node.inputs[1].shape
        if node.attrs.get("auto_broadcast", "numpy") == "none":
            if a.rank_is_static and b.rank_is_static and a != b and a.is_static and b.is_static:
                raise GraphError(f"node '{node.name}' ({node.type}): shapes {a} and {b} differ and auto_broadcast is none")
            shape = a if a.rank_is_static else b
        else:
            shape = broadcast_shapes(a, b)
        return [(Type.boolean if self.result_boolean else et, shape)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        assert type(self).fn is not None, self.type_name
        out = np.asarray(type(self).fn(inputs[0], inputs[1]))
        return [as_dtype(out, node.outputs[0].element_type)]
