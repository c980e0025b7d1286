"""Data movement ops: Reshape, Transpose, Concat, Split, VariadicSplit, Squeeze, Unsqueeze, Tile, Broadcast.

Shape-like inputs (targets, axes, repeats) are read with `partial_value`, so outputs stay as static as the
graph allows: unknown dims stay dynamic instead of making the whole shape dynamic."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, merged_type, normalize_axis
from irforge.ir.ops.shape_ops import SymDim, as_dims, merge_dim, op_error, shape_input
from irforge.ir.shape import INF, Dimension, PartialShape, broadcast_shapes

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def const_ints(node: "Node", index: int) -> list[int] | None:
    """Input `index` as a flat list of ints when known at conversion time."""
    v = node.input_value(index)
    return None if v is None else [int(x) for x in np.asarray(v).reshape(-1)]


def const_axes(node: "Node", index: int, rank: int) -> list[int] | None:
    """Input `index` as normalized axes for `rank` (None when unknown)."""
    axes = const_ints(node, index)
    return None if axes is None else [normalize_axis(a, rank, node) for a in axes]


def _prod(dims: list[Dimension]) -> Dimension:
    """Product with bounds (unbounded when any factor is)."""
    lo = int(np.prod([d.min for d in dims], dtype=np.int64))
    hi = INF if any(d.max == INF for d in dims) else int(np.prod([d.max for d in dims], dtype=np.int64))
    return Dimension(lo, hi)


# ------------------------------------------------------------------------------------------------ Reshape
@register
class Reshape(OpSpec):
    """Target entries: a size, -1 (inferred, at most one) or, with special_zero, 0 (copy the input dim)."""

    type_name = "Reshape"
    version = "opset1"
    attrs = (Attr("special_zero", "bool"),)
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        target = shape_input(node, 1)
        if target is None:
            ts = node.inputs[1].shape
            if ts.rank_is_static and ts.rank <= 1 and (ts.rank == 0 or ts[0].is_static):
                return [(et, PartialShape.dynamic(1 if ts.rank == 0 else ts[0].min))]
            return [(et, PartialShape(None))]
        return [(et, self._infer_dims(node, target))]

    def _infer_dims(self, node: "Node", target: "list[int | SymDim]") -> PartialShape:
        data = node.inputs[0]
        shape = data.shape
        rank = shape.rank if shape.rank_is_static else None
        out: list[Dimension] = []
        matched: dict[int, int] = {}  # output index -> input axis it repeats (they cancel when inferring -1)
        minus = -1
        for i, t in enumerate(target):
            axis = None
            if isinstance(t, SymDim):
                axis = t.axis if t.source is data and rank is not None else None
                out.append(t.dim)
            elif t == -1:
                if minus >= 0:
                    raise op_error(node, f"more than one -1 in the target shape {target}")
                minus = i
                out.append(Dimension())
            elif t == 0 and node.attrs["special_zero"]:
                if rank is not None and i >= rank:
                    raise op_error(node, f"special zero at index {i} is out of range for input rank {rank}")
                axis = i if rank is not None else None
                out.append(Dimension())
            elif t < 0:
                raise op_error(node, f"invalid target dimension {t}")
            else:
                out.append(Dimension.of(t))
            if axis is not None:
                out[i] = shape[axis]
                if axis not in matched.values():
                    matched[i] = axis
        if minus >= 0:
            out[minus] = self._minus_one(node, shape, out, matched, minus)
        elif shape.is_static and all(d.is_static for d in out):
            if _prod(list(shape)).min != _prod(out).min:
                raise op_error(node, f"cannot reshape [{shape}] to {target}")
        return PartialShape(out)

    def _minus_one(self, node: "Node", shape: PartialShape, out: list[Dimension], matched: dict[int, int],
                   minus: int) -> Dimension:
        if not shape.rank_is_static:
            return Dimension()
        rest_in = [d for j, d in enumerate(shape) if j not in matched.values()]
        rest_out = [d for j, d in enumerate(out) if j != minus and j not in matched]
        if not all(d.is_static for d in rest_out):
            return Dimension()
        p_out, p_in = _prod(rest_out).min, _prod(rest_in)
        if p_out == 0:
            if p_in.min > 0:
                raise op_error(node, f"cannot reshape [{shape}] to a shape with zero elements and -1")
            return Dimension.of(0)
        if p_in.is_static and p_in.min % p_out:
            raise op_error(node, f"cannot reshape [{shape}]: {p_in.min} elements do not divide into {p_out}")
        hi = INF if p_in.max == INF else p_in.max // p_out
        return Dimension(-(-p_in.min // p_out), hi)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        target = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        if node.attrs["special_zero"]:
            target = [x.shape[i] if t == 0 else t for i, t in enumerate(target)]
        if -1 in target:
            rest = int(np.prod([t for t in target if t != -1], dtype=np.int64))
            target[target.index(-1)] = 0 if rest == 0 else x.size // rest
        return [np.reshape(x, target)]


# ------------------------------------------------------------------------------------------------ Transpose
@register
class Transpose(OpSpec):
    """Permute axes by `order` (input 1); an empty order reverses them."""

    type_name = "Transpose"
    version = "opset1"
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        order = const_ints(node, 1)
        if not shape.rank_is_static:
            return [(et, PartialShape.dynamic(len(order)) if order else PartialShape(None))]
        if order is None:
            return [(et, PartialShape.dynamic(shape.rank))]
        order = self._order(node, order, shape.rank)
        return [(et, PartialShape([shape[a] for a in order]))]

    def _order(self, node: "Node", order: list[int], rank: int) -> list[int]:
        if not order:
            return list(range(rank))[::-1]
        norm = [normalize_axis(a, rank, node) for a in order]
        if sorted(norm) != list(range(rank)):
            raise op_error(node, f"order {order} is not a permutation of {rank} axes")
        return norm

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        order = self._order(node, [int(v) for v in np.asarray(inputs[1]).reshape(-1)], x.ndim)
        return [np.array(np.transpose(x, order))]


# ------------------------------------------------------------------------------------------------ Concat
@register
class Concat(OpSpec):
    type_name = "Concat"
    version = "opset1"
    attrs = (Attr("axis", "int"),)
    min_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = merged_type(node, tuple(range(len(node.inputs))))
        shapes = [src.shape for src in node.inputs if src.shape.rank_is_static]
        if not shapes:
            return [(et, PartialShape(None))]
        rank = shapes[0].rank
        if any(s.rank != rank for s in shapes):
            raise op_error(node, "inputs have different ranks")
        axis = normalize_axis(node.attrs["axis"], rank, node)
        dims = list(shapes[0])
        for s in shapes[1:]:
            for j in range(rank):
                if j == axis:
                    dims[j] = dims[j] + s[j]
                else:
                    try:
                        dims[j] = merge_dim(dims[j], s[j])
                    except GraphError as e:
                        raise op_error(node, f"inputs differ on axis {j}: {e}") from None
        if len(shapes) < len(node.inputs):  # an input of dynamic rank adds an unknown length
            dims[axis] = Dimension(dims[axis].min, INF)
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.concatenate(inputs, axis=node.attrs["axis"])]


# ------------------------------------------------------------------------------------------------ Split
def _split_axis(node: "Node") -> int | None:
    shape = node.inputs[0].shape
    axis = const_ints(node, 1)
    if axis is None or not shape.rank_is_static:
        return None
    if len(axis) != 1:
        raise op_error(node, "axis must be a scalar")
    return normalize_axis(axis[0], shape.rank, node)


def _with_dim(shape: PartialShape, axis: int, dim: Dimension) -> PartialShape:
    dims = list(shape)
    dims[axis] = dim
    return PartialShape(dims)


@register
class Split(OpSpec):
    """Split along `axis` (input 1) into `num_splits` equal parts."""

    type_name = "Split"
    version = "opset1"
    attrs = (Attr("num_splits", "int"),)
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape, n = node.inputs[0].element_type, node.inputs[0].shape, node.attrs["num_splits"]
        if n < 1:
            raise op_error(node, f"num_splits must be positive, got {n}")
        axis = _split_axis(node)
        if axis is None:
            part = PartialShape.dynamic(shape.rank) if shape.rank_is_static else PartialShape(None)
        else:
            d = shape[axis]
            if d.is_static and d.min % n:
                raise op_error(node, f"dimension {d} on axis {axis} does not split into {n} parts")
            part = _with_dim(shape, axis, Dimension(-(-d.min // n), INF if d.max == INF else d.max // n))
        return [(et, part)] * n

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, axis = inputs[0], int(np.asarray(inputs[1]).reshape(-1)[0])
        return [np.ascontiguousarray(p) for p in np.split(x, node.attrs["num_splits"], axis=axis)]


@register
class VariadicSplit(OpSpec):
    """Split along `axis` into parts of `split_lengths` (input 2); one length may be -1 (the remainder)."""

    type_name = "VariadicSplit"
    version = "opset1"
    min_inputs = 3
    max_inputs = 3

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        ls = node.inputs[2].shape
        if not (ls.rank_is_static and ls.rank == 1 and ls[0].is_static):
            raise op_error(node, "split_lengths must be a 1-D tensor of static length (it sets the output count)")
        n = ls[0].min
        axis = _split_axis(node)
        lengths = shape_input(node, 2)
        if axis is None or lengths is None:
            part = PartialShape.dynamic(shape.rank) if shape.rank_is_static else PartialShape(None)
            if axis is not None:
                part = _with_dim(shape, axis, Dimension())
            return [(et, part)] * n
        dims = as_dims(lengths)
        if lengths.count(-1) > 1:
            raise op_error(node, "more than one -1 in split_lengths")
        if -1 in lengths:
            i = lengths.index(-1)
            rest = [d for j, d in enumerate(dims) if j != i]
            total = shape[axis]
            if total.is_static and all(d.is_static for d in rest):
                left = total.min - sum(d.min for d in rest)
                if left < 0:
                    raise op_error(node, f"split_lengths {lengths} exceed dimension {total}")
                dims[i] = Dimension.of(left)
        elif shape[axis].is_static and all(d.is_static for d in dims) and sum(d.min for d in dims) != shape[axis].min:
            raise op_error(node, f"split_lengths {lengths} do not add up to dimension {shape[axis]}")
        return [(et, _with_dim(shape, axis, d)) for d in dims]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        axis = normalize_axis(int(np.asarray(inputs[1]).reshape(-1)[0]), x.ndim, node)
        lengths = [int(v) for v in np.asarray(inputs[2]).reshape(-1)]
        if -1 in lengths:
            lengths[lengths.index(-1)] = x.shape[axis] - (sum(lengths) + 1)
        cuts = np.cumsum(lengths)[:-1]
        return [np.ascontiguousarray(p) for p in np.split(x, cuts, axis=axis)]


# ------------------------------------------------------------------------------------------------ Squeeze
@register
class Squeeze(OpSpec):
    """Remove size-1 dims: the listed `axes` (input 1; listed dims that are not 1 are kept), or every 1.

    A listed dynamic dim that may be 1 counts as squeezed; without axes such a dim makes the rank dynamic."""

    type_name = "Squeeze"
    version = "opset1"
    min_inputs = 1
    max_inputs = 2

    def skip_maybe_one(self, node: "Node") -> bool:
        """Whether a listed dynamic dim that may be 1 makes the output rank dynamic (Squeeze-15 allow_axis_skip)."""
        return False

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        if not shape.rank_is_static:
            return [(et, PartialShape(None))]
        if len(node.inputs) == 1:
            if any(d.is_dynamic and d.compatible(1) for d in shape):
                return [(et, PartialShape(None))]
            return [(et, PartialShape([d for d in shape if not (d.is_static and d.min == 1)]))]
        axes = const_axes(node, 1, shape.rank)
        if axes is None:
            return [(et, PartialShape(None))]
        keep = []
        for j, d in enumerate(shape):
            if j in axes and d.is_dynamic and d.compatible(1) and self.skip_maybe_one(node):
                return [(et, PartialShape(None))]
            if j not in axes or not d.compatible(1):
                keep.append(d)
        return [(et, PartialShape(keep))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        if len(inputs) == 1:
            return [np.squeeze(x)]
        axes = [normalize_axis(int(a), x.ndim, node) for a in np.asarray(inputs[1]).reshape(-1)]
        return [np.squeeze(x, axis=tuple(sorted({a for a in axes if x.shape[a] == 1})))]


@register
class Squeeze15(Squeeze):
    version = "opset15"
    attrs = (Attr("allow_axis_skip", "bool", False),)

    def skip_maybe_one(self, node: "Node") -> bool:
        return bool(node.attrs["allow_axis_skip"])


@register
class Unsqueeze(OpSpec):
    """Insert size-1 dims at `axes` (input 1; axes refer to the output rank)."""

    type_name = "Unsqueeze"
    version = "opset1"
    min_inputs = 2
    max_inputs = 2

    @staticmethod
    def out_axes(node: "Node", axes: list[int], rank: int) -> list[int]:
        out_rank = rank + len(axes)
        norm = sorted({normalize_axis(a, out_rank, node) for a in axes})
        if len(norm) != len(axes):
            raise op_error(node, f"repeated axes {axes}")
        return norm

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        axes = const_ints(node, 1)
        if axes is None or not shape.rank_is_static:
            return [(et, PartialShape(None))]
        dims = list(shape)
        for a in self.out_axes(node, axes, shape.rank):
            dims.insert(a, Dimension.of(1))
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        axes = self.out_axes(node, [int(a) for a in np.asarray(inputs[1]).reshape(-1)], x.ndim)
        return [np.expand_dims(x, tuple(axes))]


# ------------------------------------------------------------------------------------------------ Tile
@register
class Tile(OpSpec):
    """Repeat the data `repeats` times per axis; the shorter of rank and repeats is padded with leading 1s."""

    type_name = "Tile"
    version = "opset1"
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        repeats = shape_input(node, 1)
        rs = node.inputs[1].shape
        if repeats is None:
            if shape.rank_is_static and rs.rank_is_static and rs.rank == 1 and rs[0].is_static:
                return [(et, PartialShape.dynamic(max(shape.rank, rs[0].min)))]
            return [(et, PartialShape(None))]
        if not shape.rank_is_static:
            return [(et, PartialShape(None))]
        rank = max(shape.rank, len(repeats))
        dims = [Dimension.of(1)] * (rank - shape.rank) + list(shape)
        reps = [Dimension.of(1)] * (rank - len(repeats)) + as_dims(repeats)
        return [(et, PartialShape([_times(d, r) for d, r in zip(dims, reps)]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.tile(inputs[0], [int(r) for r in np.asarray(inputs[1]).reshape(-1)])]


def _times(a: Dimension, b: Dimension) -> Dimension:
    if (a.is_static and a.min == 1) or (b.is_static and b.min == 0):
        return b
    if (b.is_static and b.min == 1) or (a.is_static and a.min == 0):
        return a
    return _prod([a, b])


# ------------------------------------------------------------------------------------------------ Broadcast
@register
class Broadcast(OpSpec):
    """Broadcast data to `target_shape` (input 1). numpy: align right, data dims must be 1 or equal;
    bidirectional: the NumPy broadcast of both shapes; explicit: data axis i goes to target axis
    `axes_mapping[i]` (input 2)."""

    type_name = "Broadcast"
    version = "opset3"
    attrs = (Attr("mode", "str", "numpy", ("numpy", "explicit", "bidirectional")),)
    min_inputs = 2
    max_inputs = 3
    ignores_axes_mapping: ClassVar[bool] = False  # whether a non-explicit mode may carry an unused axes_mapping

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        mode = node.attrs["mode"]
        if mode == "explicit" and len(node.inputs) < 3:
            raise op_error(node, "explicit mode needs the axes_mapping input")
        if mode != "explicit" and len(node.inputs) == 3 and not self.ignores_axes_mapping:
            raise op_error(node, f"axes_mapping is only allowed in explicit mode, not {mode}")
        et, shape = node.inputs[0].element_type, node.inputs[0].shape
        target = shape_input(node, 1)
        if target is None:
            ts = node.inputs[1].shape
            if not (ts.rank_is_static and ts.rank == 1 and ts[0].is_static):
                return [(et, PartialShape(None))]
            if mode != "bidirectional":
                return [(et, PartialShape.dynamic(ts[0].min))]
            if not shape.rank_is_static:
                return [(et, PartialShape(None))]
            return [(et, _bidirectional_unknown(shape, ts[0].min))]
        dims = PartialShape(as_dims(target))
        if mode == "bidirectional":
            return [(et, broadcast_shapes(shape, dims))]
        if mode == "numpy" and shape.rank_is_static:
            if shape.rank > dims.rank:
                raise op_error(node, f"data rank {shape.rank} exceeds the target rank {dims.rank}")
            lead = dims.rank - shape.rank
            out = list(dims)
            for j, d in enumerate(shape):
                t = out[lead + j]
                if d.is_static and t.is_static and d.min not in (1, t.min):
                    raise op_error(node, f"dimension {d} cannot broadcast to {t}")
                if d.is_static and d.min != 1 and t.is_dynamic:
                    out[lead + j] = d
            return [(et, PartialShape(out))]
        return [(et, dims)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        target = tuple(int(v) for v in np.asarray(inputs[1]).reshape(-1))
        mode = node.attrs["mode"]
        if mode == "bidirectional":
            target = np.broadcast_shapes(x.shape, target)
        elif mode == "explicit":
            placed = [1] * len(target)
            for i, a in enumerate(int(v) for v in np.asarray(inputs[2]).reshape(-1)):
                placed[a] = x.shape[i] if x.ndim else 1
            x = x.reshape(placed)
        return [np.array(np.broadcast_to(x, target))]


@register
class Broadcast1(Broadcast):
    """Broadcast-1: numpy and explicit modes; OpenVINO writes numpy mode with a placeholder third input."""

    version = "opset1"
    attrs = (Attr("mode", "str", "numpy", ("numpy", "explicit")),)
    ignores_axes_mapping = True


def _bidirectional_unknown(shape: PartialShape, n: int) -> PartialShape:
    """Bidirectional broadcast of `shape` with an unknown target of length `n`: only data dims that are not 1
    (or that the target does not reach) are known."""
    rank = max(n, shape.rank)
    out = []
    for j in range(rank):
        d = shape[j - rank + shape.rank] if j >= rank - shape.rank else Dimension.of(1)
        reached = j >= rank - n
        out.append(d if not reached or (d.is_static and d.min != 1) else Dimension())
    return PartialShape(out)
