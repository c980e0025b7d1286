"""Data movement. Shapes are static in a plan, so Reshape/Squeeze/Unsqueeze are a reshape to the known output
shape and Broadcast an expand (views where the memory allows); Transpose is a permuted view, Split a tuple of
narrowed views, Concat one copy. Logical axes never change: a channels-last tensor stays NCHW to every op, so
axis arguments apply as written and torch picks the memory order of each result."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.ir.ops._base import normalize_axis
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Match, NodeLowering, lowers
from irforge.runtime.devices.cpu.tensors import constant_tensor


def _ints(value: np.ndarray | None) -> list[int] | None:
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


class _ViewLowering(NodeLowering):
    fresh = False


@lowers("Reshape", "Squeeze", "Unsqueeze")
class ReshapeLowering(_ViewLowering):
    """Any of these is a reshape to the output's static shape."""

    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.static_shape(node.outputs[0]) is not None and \
            all(not g.is_runtime(s) for s in node.inputs[1:])

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        shape = ctx.g.static_shape(node.outputs[0])

        def reshape(x: Any) -> Any:
            y = x.reshape(shape)
            # a channels-last tensor reshaped across its axes is a transposed view: reorder once here rather than
            # let every op after it stride through memory
            return y if y.is_contiguous() or x.is_contiguous() else y.contiguous()
        return reshape, "torch_reshape"


@lowers("Transpose")
class TransposeLowering(_ViewLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.const(node.inputs[1]) is not None and node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        rank = node.inputs[0].shape.rank
        order = _ints(ctx.g.const(node.inputs[1])) or list(range(rank))[::-1]
        order = [normalize_axis(a, rank, node) for a in order]
        return (lambda x: x.permute(order)), "torch_permute"


@lowers("Concat")
class ConcatLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.outputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        g = ctx.g
        axis = normalize_axis(node.attrs["axis"], node.outputs[0].shape.rank, node)
        parts = [None if g.is_runtime(s) else constant_tensor(g.const(s)) for s in node.inputs]  # type: ignore[arg-type]
        cat = torch.cat
        if all(p is None for p in parts):
            return (lambda *xs: cat(xs, axis)), "torch_concat"
        slots = [k for k, p in enumerate(parts) if p is None]

        def fn(*xs: Any) -> Any:
            items = list(parts)
            for k, v in zip(slots, xs):
                items[k] = v
            return cat(items, axis)
        return fn, "torch_concat"


@lowers("Split", "VariadicSplit")
class SplitLowering(_ViewLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and all(g.static_shape(o) is not None for o in node.outputs) and \
            all(not g.is_runtime(s) for s in node.inputs[1:])

    def match(self, node: Node, g: GraphView) -> Match | None:
        if not self.supports(node, g):
            return None
        return Match(self, [node], [node.inputs[0]], list(node.outputs))

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        rank = node.inputs[0].shape.rank
        axis = normalize_axis(int(ctx.g.const(node.inputs[1]).reshape(-1)[0]), rank, node)  # type: ignore[union-attr]
        sizes = [ctx.g.static_shape(o)[axis] for o in node.outputs]  # type: ignore[index]
        if len(sizes) == 1:  # one output: a one-output step returns the value itself, not a tuple
            return (lambda x: x), "torch_split"
        split = torch.split
        return (lambda x: split(x, sizes, axis)), "torch_split"


@lowers("Broadcast")
class BroadcastLowering(_ViewLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.static_shape(node.outputs[0]) is not None and \
            all(not g.is_runtime(s) for s in node.inputs[1:]) and node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        out = ctx.g.static_shape(node.outputs[0])
        assert out is not None
        if node.attrs["mode"] == "explicit":
            x_rank = node.inputs[0].shape.rank
            mapping = _ints(ctx.g.const(node.inputs[2])) or []
            x_shape = ctx.g.static_shape(node.inputs[0]) or ()
            placed = [1] * len(out)
            for i, a in enumerate(mapping[:x_rank]):
                placed[a] = x_shape[i]
            return (lambda x: x.reshape(placed).expand(out)), "torch_expand"
        return (lambda x: x.expand(out)), "torch_expand"


@lowers("Tile")
class TileLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.const(node.inputs[1]) is not None and node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        reps = _ints(ctx.g.const(node.inputs[1])) or []
        rank = node.inputs[0].shape.rank
        reps = [1] * (rank - len(reps)) + reps
        return (lambda x: x.repeat(reps)), "torch_tile"


@lowers("Pad")
class PadLowering(NodeLowering):
    """Constant-mode Pad (negative pads crop), edge and reflect modes on the last 1-3 axes (torch pads those for
    a tensor of one more axis: the leading axes are merged into it, and split again after)."""

    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or not node.inputs[0].shape.rank_is_static:
            return False
        if any(g.is_runtime(s) for s in node.inputs[1:]):
            return False
        mode = node.attrs["pad_mode"]
        if mode == "constant":
            return True
        pb, pe = _ints(g.const(node.inputs[1])) or [], _ints(g.const(node.inputs[2])) or []
        padded = [i for i, (b, e) in enumerate(zip(pb, pe)) if b or e]
        rank = node.inputs[0].shape.rank
        shape = g.static_shape(node.inputs[0])
        return mode in ("edge", "reflect") and all(p >= 0 for p in pb + pe) and shape is not None and \
            node.inputs[0].element_type.name in ("f32", "f64") and bool(padded) and \
            all(i >= 1 and i >= rank - 3 for i in padded) and \
            (mode == "edge" or all(max(pb[i], pe[i]) < shape[i] for i in padded))

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        g = ctx.g
        rank = node.inputs[0].shape.rank
        pb, pe = _ints(g.const(node.inputs[1])) or [0] * rank, _ints(g.const(node.inputs[2])) or [0] * rank
        mode = node.attrs["pad_mode"]
        amounts: list[int] = []
        first = min(i for i, (b, e) in enumerate(zip(pb, pe)) if b or e) if mode != "constant" else 0
        for b, e in reversed(list(zip(pb, pe))[first:]):
            amounts += [b, e]
        if mode == "constant":
            value = 0.0
            if len(node.inputs) > 3:
                value = np.asarray(g.const(node.inputs[3])).reshape(-1)[0].item()
            # constant_pad_nd takes the value as a Scalar (F.pad's is a double: a large int64 value would round)
            pad_nd = torch.constant_pad_nd
            return (lambda x: pad_nd(x, amounts, value)), "torch_pad"
        torch_mode = "replicate" if mode == "edge" else "reflect"
        shape = g.static_shape(node.inputs[0])
        assert shape is not None
        merged = (-1,) + shape[first:]  # the padded axes and one before them (torch's "channels")
        out = g.static_shape(node.outputs[0])

        def pad(x: Any) -> Any:
            return F.pad(x.reshape(merged), amounts, torch_mode).reshape(out)
        return pad, f"torch_pad_{torch_mode}"
