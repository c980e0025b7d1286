"""Reductions over the axes given by input 1: ReduceSum/Mean/Max/Min/Prod (opset1), ReduceL1/L2 (opset4) and
ReduceLogicalAnd/Or (opset1). An empty axes list means no reduction (identity), as the OpenVINO specs say."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype, normalize_axis
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def reduction_axes(node: "Node", rank: int, axes: np.ndarray) -> tuple[int, ...]:
    """The sorted, normalized axes of a Reduce* node; duplicates are an error (the spec wants unique axes)."""
    norm = [normalize_axis(int(a), rank, node) for a in np.asarray(axes).reshape(-1)]
    if len(set(norm)) != len(norm):
        raise GraphError(f"node '{node.name}' ({node.type}): repeated reduction axes {norm}")
    return tuple(sorted(norm))


def reduced_shape(shape: PartialShape, axes: tuple[int, ...], keep_dims: bool) -> PartialShape:
    """`shape` with `axes` set to 1 (keep_dims) or removed."""
    if keep_dims:
        return PartialShape([Dimension(1, 1) if i in axes else d for i, d in enumerate(shape.dims)])
    return PartialShape([d for i, d in enumerate(shape.dims) if i not in axes])


def _extreme(dtype: np.dtype, highest: bool) -> object:
    """The identity of min (highest) or max (not highest) for `dtype`: +-inf, True/False or the integer bounds.
    The ml_dtypes floats (bf16, f8; NumPy kind 'V' or 'f') use their own +-inf, or their largest finite value
    where the type has no infinity (f8e4m3fn turns -inf into NaN)."""
    if dtype.kind == "f" or dtype.kind == "V":
        if dtype.itemsize >= 4 or dtype == np.float16:
            return np.inf if highest else -np.inf
        inf = np.array(np.inf if highest else -np.inf).astype(dtype)
        if np.isinf(inf):
            return inf
        import ml_dtypes  # on first use: importing it costs ~1 s

        info = ml_dtypes.finfo(dtype)
        return info.max if highest else info.min
    if dtype.kind == "b":
        return highest
    info = np.iinfo(dtype)
    return info.max if highest else info.min


def _float_acc(x: np.ndarray) -> np.dtype | None:
    """Accumulator dtype: f16 sums in f32 (as OpenVINO's CPU does); other types keep their own."""
    return np.dtype(np.float32) if x.dtype == np.float16 else None


class Reduction(OpSpec):
    """Base of the Reduce* ops: `data`, `axes` inputs and the `keep_dims` attribute. Subclasses implement
    `reduce(x, axes)` with keepdims semantics (the kernel drops the axes afterwards when keep_dims is false)."""

    version = "opset1"
    attrs = (Attr("keep_dims", "bool", False),)
    min_inputs = 2
    max_inputs = 2
    logical: ClassVar[bool] = False

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        data, axes_in = node.inputs
        et = data.element_type
        if self.logical and not (et.is_dynamic or et == Type.boolean):
            raise GraphError(f"node '{node.name}' ({node.type}): data must be boolean, got {et}")
        if not (axes_in.element_type.is_dynamic or axes_in.element_type.is_integral):
            raise GraphError(f"node '{node.name}' ({node.type}): axes must be integers, got {axes_in.element_type}")
        keep = node.attrs["keep_dims"]
        if not data.shape.rank_is_static:
            return [(et, PartialShape(None))]
        rank = data.shape.rank
        axes = node.input_value(1)
        if axes is not None:
            return [(et, reduced_shape(data.shape, reduction_axes(node, rank, axes), keep))]
        if keep:  # unknown axes: every dim may become 1
            return [(et, PartialShape([d if d == Dimension(1, 1) else Dimension() for d in data.shape.dims]))]
        ashape = axes_in.shape
        if ashape.rank_is_static and ashape.rank <= 1 and ashape.is_static:
            count = ashape.to_shape()[0] if ashape.rank == 1 else 1
            return [(et, PartialShape.dynamic(max(rank - count, 0)))]
        return [(et, PartialShape(None))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axes = reduction_axes(node, x.ndim, inputs[1])
        if not axes:
            return [x.copy()]
        with np.errstate(all="ignore"):
            out = np.asarray(self.reduce(x, axes))
        if not node.attrs["keep_dims"]:
            out = out.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        return [as_dtype(out, node.outputs[0].element_type)]

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


@register
class ReduceSum(Reduction):
    type_name = "ReduceSum"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.sum(x, axis=axes, keepdims=True, dtype=_float_acc(x))


@register
class ReduceMean(Reduction):
    """Integer means divide the integer sum by the count, truncating (OpenVINO's integer division)."""

    type_name = "ReduceMean"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod([x.shape[a] for a in axes]))
        total = np.sum(x, axis=axes, keepdims=True, dtype=_float_acc(x))  # integers widen to 64 bits
        if x.dtype.kind in "iu":
            return np.sign(total) * (np.abs(total) // max(count, 1))
        return total / total.dtype.type(count)


@register
class ReduceMax(Reduction):
    """Over an empty axis the result is the type's lowest value (-inf for floats; the spec leaves it undefined)."""

    type_name = "ReduceMax"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.max(x, axis=axes, keepdims=True, initial=_extreme(x.dtype, highest=False))


@register
class ReduceMin(Reduction):
    """Over an empty axis the result is the type's highest value (+inf for floats)."""

    type_name = "ReduceMin"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.min(x, axis=axes, keepdims=True, initial=_extreme(x.dtype, highest=True))


@register
class ReduceProd(Reduction):
    type_name = "ReduceProd"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.prod(x, axis=axes, keepdims=True, dtype=_float_acc(x))


@register
class ReduceL1(Reduction):
    type_name = "ReduceL1"
    version = "opset4"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.sum(np.abs(x), axis=axes, keepdims=True, dtype=_float_acc(x))


@register
class ReduceL2(Reduction):
    type_name = "ReduceL2"
    version = "opset4"

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        acc = x.astype(np.float64) if x.dtype.kind in "iu" else x.astype(_float_acc(x) or x.dtype)
        return np.sqrt(np.sum(acc * acc, axis=axes, keepdims=True))


@register
class ReduceLogicalAnd(Reduction):
    type_name = "ReduceLogicalAnd"
    logical = True

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.all(x, axis=axes, keepdims=True)


@register
class ReduceLogicalOr(Reduction):
    type_name = "ReduceLogicalOr"
    logical = True

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.any(x, axis=axes, keepdims=True)
