"""Indexing ops: StridedSlice, Slice, Gather, GatherElements, GatherND, ScatterNDUpdate, ScatterElementsUpdate,
NonZero.

Slicing follows OpenVINO's clamping (checked against its CPU plugin): after adding the dim to a negative
index, a positive step clamps begin and end to [0, dim]; a negative step clamps begin to [0, dim - 1] and end
to [-1, dim - 1]. (Python differs in one corner: a begin below -dim with a negative step selects element 0
here, nothing in Python.)"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, merged_type, normalize_axis, same_as_input
from irforge.ir.ops.movement import const_axes, const_ints
from irforge.ir.ops.shape_ops import merge_dim, op_error
from irforge.ir.shape import INF, Dimension, PartialShape
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node


# ------------------------------------------------------------------------------------------------ slicing
def slice_bounds(dim: int, begin: int, end: int, step: int, begin_masked: bool = False,
                 end_masked: bool = False) -> tuple[int, int, int]:
    """(start, stop, step) of one sliced axis after OpenVINO's negative-index adjustment and clamping;
    `range(start, stop, step)` are the selected positions (stop may be -1 for a backward slice)."""
    if step == 0:
        raise GraphError("slice step must not be zero")
    norm = lambda v: v + dim if v < 0 else v  # noqa: E731
    if step > 0:
        start = 0 if begin_masked else min(max(norm(begin), 0), dim)
        stop = dim if end_masked else min(max(norm(end), 0), dim)
    else:
        start = dim - 1 if begin_masked else min(max(norm(begin), 0), dim - 1)
        stop = -1 if end_masked else min(max(norm(end), -1), dim - 1)
    return start, stop, step


def _as_slice(dim: int, *args: int | bool) -> slice:
    start, stop, step = slice_bounds(dim, *args)  # type: ignore[arg-type]
    return slice(start, stop if stop >= 0 else None, step)


def _slice_len(dim: int, *args: int | bool) -> int:
    start, stop, step = slice_bounds(dim, *args)  # type: ignore[arg-type]
    return max(0, -((start - stop) // step) if step > 0 else -((stop - start) // -step))


_HUGE_DIM = (1 << 31) - 1  # no real dimension reaches this


def slice_dim(dim: Dimension, begin: int, end: int, step: int, begin_masked: bool = False,
              end_masked: bool = False) -> Dimension:
    """The sliced length of `dim`, with bounds when `dim` is dynamic: the length never decreases as the dim
    grows, except when only the begin of a forward slice counts from the back, or the end of a backward one
    does while its begin is non-negative or not above it; then just 0..dim is known. An unbounded dim is
    assumed below 2**31."""
    if dim.is_static:
        return Dimension.of(_slice_len(dim.min, begin, end, step, begin_masked, end_masked))
    # a begin/end beyond every possible dim (INT64_MAX "to the end") acts as its mask
    limit = _HUGE_DIM if dim.max == INF else dim.max
    begin_masked |= begin <= -limit if step > 0 else begin >= limit
    end_masked |= end >= limit if step > 0 else end < -limit
    args = (begin, end, step, begin_masked, end_masked)
    if not begin_masked and not end_masked and (
            (step > 0 and begin < 0 <= end) or (step < 0 and end < 0 and (begin >= 0 or begin <= end))):
        return Dimension(0, dim.max)
    lo = _slice_len(dim.min, *args)
    if dim.max != INF:
        return Dimension(lo, _slice_len(dim.max, *args))
    big = 1 << 62
    hi = _slice_len(big, *args)
    return Dimension(lo, hi if _slice_len(2 * big, *args) == hi else INF)


def _bit(mask: list[int], i: int) -> bool:
    return i < len(mask) and mask[i] == 1


@register
class StridedSlice(OpSpec):
    """NumPy-style basic indexing: begin/end/stride (inputs 1-3) with begin/end masks (use the full range),
    new_axis (np.newaxis), shrink_axis (an integer index) and ellipsis masks."""

    type_name = "StridedSlice"
    version = "opset1"
    attrs = (Attr("begin_mask", "ints"), Attr("end_mask", "ints"), Attr("new_axis_mask", "ints", []),
             Attr("shrink_axis_mask", "ints", []), Attr("ellipsis_mask", "ints", []))
    min_inputs = 3
    max_inputs = 4

    def plan(self, node: "Node", rank: int, m: int) -> list[tuple[str, int, int]]:
        """Per output-producing step: (kind, input axis, slicing entry); kind is new/shrink/slice/full."""
        a = node.attrs
        sizes = {len(a["begin_mask"]), len(a["end_mask"])}
        sizes |= {len(a[k]) for k in ("new_axis_mask", "shrink_axis_mask", "ellipsis_mask") if a[k]}
        if len(sizes) > 1:  # as OpenVINO checks: begin/end masks alike, the others empty or of that size
            raise op_error(node, "all masks must have the same size")
        ellipsis = [i for i in range(m) if _bit(a["ellipsis_mask"], i)]
        if len(ellipsis) > 1:
            raise op_error(node, "more than one ellipsis")
        consuming = sum(1 for i in range(m) if not _bit(a["new_axis_mask"], i) and i not in ellipsis)
        if consuming > rank:
            raise op_error(node, f"{consuming} slicing entries for an input of rank {rank}")
        steps: list[tuple[str, int, int]] = []
        axis = 0
        for i in range(m):
            if i in ellipsis:
                for _ in range(rank - consuming):
                    steps.append(("full", axis, i))
                    axis += 1
            elif _bit(a["new_axis_mask"], i):
                steps.append(("new", axis, i))
            else:
                steps.append(("shrink" if _bit(a["shrink_axis_mask"], i) else "slice", axis, i))
                axis += 1
        steps += [("full", j, -1) for j in range(axis, rank)]
        return steps

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        bs = node.inputs[1].shape
        if not shape.rank_is_static or not (bs.rank_is_static and bs.rank == 1 and bs[0].is_static):
            return [(et, PartialShape(None))]
        m = bs[0].min
        values = [const_ints(node, i) for i in (1, 2)] + [const_ints(node, 3) if len(node.inputs) > 3 else [1] * m]
        a = node.attrs
        dims: list[Dimension] = []
        for kind, axis, i in self.plan(node, shape.rank, m):
            if kind == "new":
                dims.append(Dimension.of(1))
            elif kind == "full":
                dims.append(shape[axis])
            elif kind == "slice":
                if any(v is None for v in values):
                    dims.append(Dimension(0, shape[axis].max))
                else:
                    b, e, s = (v[i] for v in values)  # type: ignore[index]
                    dims.append(slice_dim(shape[axis], b, e, s, _bit(a["begin_mask"], i), _bit(a["end_mask"], i)))
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        begin, end = (np.asarray(v).reshape(-1).tolist() for v in inputs[1:3])
        stride = np.asarray(inputs[3]).reshape(-1).tolist() if len(inputs) > 3 else [1] * len(begin)
        a = node.attrs
        index: list[object] = []
        for kind, axis, i in self.plan(node, x.ndim, len(begin)):
            if kind == "new":
                index.append(np.newaxis)
            elif kind == "full":
                index.append(slice(None))
            elif kind == "shrink":
                b = 0 if _bit(a["begin_mask"], i) else int(begin[i])
                index.append(normalize_axis(b, x.shape[axis], node))
            else:
                index.append(_as_slice(x.shape[axis], int(begin[i]), int(end[i]), int(stride[i]),
                                       _bit(a["begin_mask"], i), _bit(a["end_mask"], i)))
        return [np.array(x[tuple(index)])]


@register
class Slice(OpSpec):
    """start/stop/step (inputs 1-3) on `axes` (input 4, default 0..n-1); other axes pass whole."""

    type_name = "Slice"
    version = "opset8"
    min_inputs = 4
    max_inputs = 5

    def _axes(self, node: "Node", rank: int) -> list[int] | None:
        if len(node.inputs) == 5:
            axes = const_axes(node, 4, rank)
            if axes is not None and len(set(axes)) != len(axes):
                raise op_error(node, f"repeated axes {axes}")
            return axes
        ss = node.inputs[1].shape
        known = ss.rank_is_static and ss.rank == 1 and ss[0].is_static
        return list(range(ss[0].min)) if known else None

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        if not shape.rank_is_static:
            return [(et, PartialShape(None))]
        values = [const_ints(node, i) for i in (1, 2, 3)]
        axes = self._axes(node, shape.rank)
        dims = list(shape)
        if axes is None:
            return [(et, PartialShape([Dimension(0, d.max) for d in dims]))]
        for k, axis in enumerate(axes):
            if any(v is None for v in values):
                dims[axis] = Dimension(0, dims[axis].max)
            else:
                dims[axis] = slice_dim(dims[axis], *(v[k] for v in values))  # type: ignore[index]
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        start, stop, step = (np.asarray(v).reshape(-1).tolist() for v in inputs[1:4])
        axes = (list(range(len(start))) if len(inputs) < 5
                else [normalize_axis(int(v), x.ndim, node) for v in np.asarray(inputs[4]).reshape(-1)])
        index = [slice(None)] * x.ndim
        for k, axis in enumerate(axes):
            index[axis] = _as_slice(x.shape[axis], int(start[k]), int(stop[k]), int(step[k]))
        return [np.array(x[tuple(index)])]


# ------------------------------------------------------------------------------------------------ gathers
def _normalize_indices(idx: np.ndarray, dim: "int | np.ndarray") -> np.ndarray:
    idx = idx.astype(np.int64)
    return np.where(idx < 0, idx + dim, idx)


@register
class Gather(OpSpec):
    """Take `indices` (input 1) along `axis` (input 2); the first `batch_dims` dims of data and indices are
    matched batches. Negative indices count from the back; out-of-range ones give zeros."""

    type_name = "Gather"
    version = "opset8"
    attrs = (Attr("batch_dims", "int", 0),)
    min_inputs = 3
    max_inputs = 3

    def batch_dims(self, node: "Node", indices_rank: int) -> int:
        b = node.attrs["batch_dims"]
        return b + indices_rank if b < 0 else b

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        data, idx = node.inputs[0].shape, node.inputs[1].shape
        axis = const_ints(node, 2)
        if not data.rank_is_static or not idx.rank_is_static:
            return [(et, PartialShape(None))]
        b = self.batch_dims(node, idx.rank)
        if axis is None:
            return [(et, PartialShape.dynamic(data.rank - 1 + idx.rank - b))]
        if len(axis) != 1:
            raise op_error(node, "axis must be a scalar")
        ax = normalize_axis(axis[0], data.rank, node)
        if not 0 <= b <= min(ax, idx.rank):
            raise op_error(node, f"batch_dims {node.attrs['batch_dims']} must be in [0, min(axis, indices rank)]")
        head = [merge_dim(data[j], idx[j]) if j < b else data[j] for j in range(ax)]
        return [(et, PartialShape(head + list(idx.dims[b:]) + list(data.dims[ax + 1:])))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        data, idx = inputs[0], np.asarray(inputs[1])
        ax = normalize_axis(int(np.asarray(inputs[2]).reshape(-1)[0]), data.ndim, node)
        b = self.batch_dims(node, idx.ndim)
        dim = data.shape[ax]
        batch = data.shape[:b]
        out_shape = batch + data.shape[b:ax] + idx.shape[b:] + data.shape[ax + 1:]
        idx = _normalize_indices(idx, dim)
        outside = (idx < 0) | (idx >= dim)
        if dim == 0 or data.size == 0 or idx.size == 0:
            return [np.zeros(out_shape, data.dtype)]
        flat_data = data.reshape((-1,) + data.shape[b:])
        flat_idx = np.where(outside, 0, idx).reshape((-1,) + idx.shape[b:])
        parts = [np.take(flat_data[k], flat_idx[k], axis=ax - b) for k in range(flat_data.shape[0])]
        out = np.stack(parts).reshape(out_shape)
        if outside.any():
            mask = outside.reshape(batch + (1,) * (ax - b) + idx.shape[b:] + (1,) * (data.ndim - ax - 1))
            out = np.where(mask, np.zeros((), out.dtype), out)
        return [out]


@register
class Gather7(Gather):
    version = "opset7"


@register
class Gather1(Gather):
    version = "opset1"
    attrs = ()

    def batch_dims(self, node: "Node", indices_rank: int) -> int:
        return 0


@register
class GatherElements(OpSpec):
    """out[i][j][k] = data[..][indices[i][j][k]][..] along `axis`; the output has the indices' shape."""

    type_name = "GatherElements"
    version = "opset6"
    attrs = (Attr("axis", "int"),)
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        data, idx = node.inputs[0].shape, node.inputs[1].shape
        if data.rank_is_static and idx.rank_is_static and data.rank != idx.rank:
            raise op_error(node, f"data rank {data.rank} != indices rank {idx.rank}")
        rank = data.rank if data.rank_is_static else idx.rank if idx.rank_is_static else None
        if rank is not None:
            normalize_axis(node.attrs["axis"], rank, node)
        return [(node.inputs[0].element_type, idx)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        data, idx = inputs[0], np.asarray(inputs[1])
        ax = normalize_axis(node.attrs["axis"], data.ndim, node)
        # the output has the indices' shape: indices smaller than the data on another axis read its first rows
        # (take_along_axis alone would broadcast them to the data's shape)
        data = data[tuple(slice(None) if k == ax else slice(0, n) for k, n in enumerate(idx.shape))]
        return [np.take_along_axis(data, _normalize_indices(idx, data.shape[ax]), axis=ax)]


@register
class GatherND(OpSpec):
    """Each innermost indices row addresses a slice of data (after `batch_dims` matched batch dims); the
    output is indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:]."""

    type_name = "GatherND"
    version = "opset8"
    attrs = (Attr("batch_dims", "int", 0),)
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        data, idx = node.inputs[0].shape, node.inputs[1].shape
        b = node.attrs["batch_dims"]
        if not data.rank_is_static or not idx.rank_is_static or idx.dims[-1:] == () or idx[-1].is_dynamic:
            return [(et, PartialShape(None))]
        k = idx[-1].min
        if b + k > data.rank:
            raise op_error(node, f"indices address {b} + {k} dims of a rank-{data.rank} input")
        head = [merge_dim(idx[j], data[j]) if j < b else idx[j] for j in range(idx.rank - 1)]
        return [(et, PartialShape(head + list(data.dims[b + k:])))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        data, idx = inputs[0], np.asarray(inputs[1])
        b, k = node.attrs["batch_dims"], idx.shape[-1]
        idx = _normalize_indices(idx, np.array(data.shape[b:b + k]))
        flat_data = data.reshape((-1,) + data.shape[b:])
        flat_idx = idx.reshape((-1,) + idx.shape[b:])
        parts = [flat_data[n][tuple(np.moveaxis(flat_idx[n], -1, 0))] for n in range(flat_data.shape[0])]
        out_shape = idx.shape[:-1] + data.shape[b + k:]
        return [np.stack(parts).reshape(out_shape) if parts else np.zeros(out_shape, data.dtype)]


# ------------------------------------------------------------------------------------------------ scatters
_BOOL_UFUNCS = {"sum": np.logical_or, "sub": np.logical_xor, "prod": np.logical_and,
                "min": np.logical_and, "max": np.logical_or}
_UFUNCS = {"sum": np.add, "sub": np.subtract, "prod": np.multiply, "min": np.minimum, "max": np.maximum,
           "mean": np.add}


def _ufunc(reduction: str, dtype: np.dtype) -> Callable[..., None]:
    return (_BOOL_UFUNCS if dtype == np.bool_ else _UFUNCS)[reduction].at


def _identity(reduction: str, dtype: np.dtype) -> object:
    """The value a reduction starts from when the data's own values are not used."""
    if reduction in ("prod",):
        return 1
    if reduction in ("min", "max"):
        info = _finfo(dtype) if dtype.kind in "fV" else np.iinfo(dtype) if dtype.kind in "iu" else None
        if info is None:
            return reduction == "min"
        return info.max if reduction == "min" else info.min
    return 0


def _scatter(data: np.ndarray, key: tuple[np.ndarray, ...], updates: np.ndarray, reduction: str,
             use_init_val: bool = True) -> np.ndarray:
    """Apply `updates` at positions `key` of a copy of `data`, combining per `reduction`."""
    out = np.array(data)
    if reduction == "none":
        out[key] = updates
        return out
    if not use_init_val:
        out[key] = _identity(reduction, out.dtype)
    _ufunc(reduction, out.dtype)(out, key, updates)
    if reduction == "mean":
        counts = np.zeros(data.shape, np.int64)
        np.add.at(counts, key, 1)
        touched = counts > 0
        counts += int(use_init_val)
        div = np.floor_divide if out.dtype.kind in "iu" else np.true_divide
        out[touched] = div(out[touched], counts[touched].astype(out.dtype))
    return out


@register
class ScatterNDUpdate(OpSpec):
    """out = copy of data; out[indices[i]] = updates[i] for each innermost indices row (a full index or the
    prefix of one, updating a slice)."""

    type_name = "ScatterNDUpdate"
    version = "opset4"
    min_inputs = 3
    max_inputs = 3

    def reduction(self, node: "Node") -> str:
        return "none"

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        merged_type(node, (0, 2))
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        data, idx, updates = inputs[0], np.asarray(inputs[1]), inputs[2]
        k = idx.shape[-1]
        rows = _normalize_indices(idx.reshape(-1, k), np.array(data.shape[:k]))
        updates = np.asarray(updates).reshape((rows.shape[0],) + data.shape[k:])
        return [_scatter(data, tuple(rows.T), updates, self.reduction(node))]


@register
class ScatterNDUpdate15(ScatterNDUpdate):
    version = "opset15"
    attrs = (Attr("reduction", "str", "none", ("none", "sum", "sub", "prod", "min", "max")),)

    def reduction(self, node: "Node") -> str:
        return node.attrs["reduction"]


@register
class ScatterElementsUpdate(OpSpec):
    """out[..., indices[i, j, ...], ...] (index replaced along `axis`, input 3) combined with updates[i, j, ...]
    per `reduction`; `use_init_val` false starts touched positions from the reduction's identity."""

    type_name = "ScatterElementsUpdate"
    version = "opset12"
    attrs = (Attr("reduction", "str", "none", ("none", "sum", "prod", "min", "max", "mean")),
             Attr("use_init_val", "bool", True))
    min_inputs = 4
    max_inputs = 4

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        merged_type(node, (0, 2))
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        data, idx, updates = inputs[0], np.asarray(inputs[1]), np.asarray(inputs[2])
        ax = normalize_axis(int(np.asarray(inputs[3]).reshape(-1)[0]), data.ndim, node)
        key = list(np.indices(idx.shape, sparse=True))
        key[ax] = _normalize_indices(idx, data.shape[ax])
        reduction = node.attrs.get("reduction", "none")
        return [_scatter(data, tuple(key), updates, reduction, node.attrs.get("use_init_val", True))]


@register
class ScatterElementsUpdate3(ScatterElementsUpdate):
    version = "opset3"
    attrs = ()


# ------------------------------------------------------------------------------------------------ NonZero
@register
class NonZero(OpSpec):
    """[rank, count] indices of the non-zero elements, in row-major order."""

    type_name = "NonZero"
    version = "opset3"
    attrs = (Attr("output_type", "type", Type.i64),)
    min_inputs = 1
    max_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.attrs["output_type"]
        if et not in (Type.i32, Type.i64):
            raise op_error(node, f"output_type must be i32 or i64, got {et}")
        shape = node.inputs[0].shape
        if not shape.rank_is_static:
            return [(et, PartialShape.dynamic(2))]
        dims = list(shape)
        most = INF if any(d.max == INF for d in dims) else int(np.prod([d.max for d in dims], dtype=np.int64))
        return [(et, PartialShape([max(shape.rank, 1), Dimension(0, most)]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.atleast_1d(inputs[0])
        return [np.array(np.nonzero(x), dtype=node.outputs[0].element_type.dtype).reshape(x.ndim, -1)]


def _finfo(dtype: np.dtype) -> object:
    """NumPy's finfo for its own floats, ml_dtypes' for bf16 and f8 (imported only then: it costs ~1 s)."""
    if dtype in (np.float16, np.float32, np.float64):
        return np.finfo(dtype)
    import ml_dtypes

    return ml_dtypes.finfo(dtype)
