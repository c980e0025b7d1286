"""Slicing and gathering. Slice/StridedSlice with plan-time bounds become one basic-indexing view, computed with
the IR's own clamping rules (negative steps keep the reference kernel: torch has no negative-step views).
Gather with batch_dims 0 is an index_select; constant indices are normalized at plan time, runtime indices that
are negative or out of range take the reference kernel's path (zeros for out-of-range) on that inference."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from irforge.ir.graph import Node
from irforge.ir.ops._base import normalize_axis
from irforge.ir.ops.indexing import slice_bounds
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fallback import reference_kernel
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers


def _ints(value: np.ndarray | None) -> list[int]:
    assert value is not None
    return [int(v) for v in np.asarray(value).reshape(-1)]


def _slice(dim: int, begin: int, end: int, step: int, begin_masked: bool = False, end_masked: bool = False
           ) -> slice | None:
    start, stop, st = slice_bounds(dim, begin, end, step, begin_masked, end_masked)
    if st < 0:
        return None
    return slice(start, max(stop, start), st)


class _ViewLowering(NodeLowering):
    fresh = False

    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.static_shape(node.inputs[0]) is not None and \
            all(not g.is_runtime(s) for s in node.inputs[1:]) and self.index(node, g) is not None

    def index(self, node: Node, g: GraphView) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        index = self.index(node, ctx.g)
        return (lambda x: x[index]), "torch_slice"


@lowers("Slice")
class SliceLowering(_ViewLowering):
    def index(self, node: Node, g: GraphView) -> tuple[Any, ...] | None:
        shape = g.static_shape(node.inputs[0])
        assert shape is not None
        start, stop, step = (_ints(g.const(s)) for s in node.inputs[1:4])
        axes = (list(range(len(start))) if len(node.inputs) < 5
                else [normalize_axis(a, len(shape), node) for a in _ints(g.const(node.inputs[4]))])
        index: list[Any] = [slice(None)] * len(shape)
        for k, axis in enumerate(axes):
            sl = _slice(shape[axis], start[k], stop[k], step[k])
            if sl is None:
                return None
            index[axis] = sl
        return tuple(index)


@lowers("StridedSlice")
class StridedSliceLowering(_ViewLowering):
    def index(self, node: Node, g: GraphView) -> tuple[Any, ...] | None:
        shape = g.static_shape(node.inputs[0])
        assert shape is not None
        begin, end = _ints(g.const(node.inputs[1])), _ints(g.const(node.inputs[2]))
        stride = _ints(g.const(node.inputs[3])) if len(node.inputs) > 3 else [1] * len(begin)
        a = node.attrs

        def bit(mask: list[int], i: int) -> bool:
            return i < len(mask) and mask[i] == 1

        index: list[Any] = []
        for kind, axis, i in node.op.plan(node, len(shape), len(begin)):  # type: ignore[attr-defined]
            if kind == "new":
                index.append(None)
            elif kind == "full":
                index.append(slice(None))
            elif kind == "shrink":
                b = 0 if bit(a["begin_mask"], i) else begin[i]
                index.append(normalize_axis(b, shape[axis], node))
            else:
                sl = _slice(shape[axis], begin[i], end[i], stride[i], bit(a["begin_mask"], i), bit(a["end_mask"], i))
                if sl is None:
                    return None
                index.append(sl)
        return tuple(index)


@lowers("Gather")
class GatherLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or g.const(node.inputs[2]) is None or not node.inputs[0].shape.rank_is_static:
            return False
        b = node.attrs.get("batch_dims", 0)
        if b != 0 or not node.inputs[1].shape.rank_is_static or g.static_shape(node.outputs[0]) is None:
            return False
        idx = g.const(node.inputs[1])
        if idx is not None:
            dim = g.static_shape(node.inputs[0])
            if dim is None:
                return False
            ax = normalize_axis(int(g.const(node.inputs[2]).reshape(-1)[0]), len(dim), node)  # type: ignore[union-attr]
            norm = np.where(idx < 0, idx + dim[ax], idx)
            return bool(np.all((norm >= 0) & (norm < dim[ax])))
        return True

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        g = ctx.g
        rank = node.inputs[0].shape.rank
        ax = normalize_axis(int(g.const(node.inputs[2]).reshape(-1)[0]), rank, node)  # type: ignore[union-attr]
        out_shape = g.static_shape(node.outputs[0])
        idx = g.const(node.inputs[1])
        if idx is not None:
            shape = g.static_shape(node.inputs[0])
            assert shape is not None
            norm = np.where(idx < 0, idx + shape[ax], idx).astype(np.int64)
            if norm.ndim == 0:
                i = int(norm)
                return Built(lambda x: x.select(ax, i), "torch_select", fresh=False)
            flat = torch.from_numpy(norm.reshape(-1).copy())
            return Built(lambda x: torch.index_select(x, ax, flat).reshape(out_shape), "torch_gather", fresh=True)
        template = [g.const(s) for s in node.inputs]
        positions = [k for k, s in enumerate(node.inputs) if g.is_runtime(s)]
        slow = reference_kernel(node, template, positions)
        data_runtime = g.is_runtime(node.inputs[0])
        data_const = None if data_runtime else torch.from_numpy(np.array(g.const(node.inputs[0]), copy=True))
        index_select = torch.index_select

        if data_runtime:
            def fn(x: Any, i: Any) -> Any:
                try:
                    return index_select(x, ax, i.reshape(-1)).reshape(out_shape)
                except (IndexError, RuntimeError):
                    return slow(x, i)
            return Built(fn, "torch_gather", fresh=True, trace_fn=None)

        def fn_const(i: Any) -> Any:
            try:
                return index_select(data_const, ax, i.reshape(-1)).reshape(out_shape)
            except (IndexError, RuntimeError):
                return slow(i)
        return Built(fn_const, "torch_gather", fresh=True, trace_fn=None)
