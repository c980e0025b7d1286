"""Reductions over constant axes (floating data; the logical ones on booleans). Empty axes are an identity."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.ir.ops.reduction import reduction_axes
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers


def _l2(x: Any, dims: tuple[int, ...], keep: bool) -> Any:
    return torch.sqrt(torch.sum(x * x, dim=dims, keepdim=keep))


_REDUCE: dict[str, Callable[[Any, tuple[int, ...], bool], Any]] = {
    "ReduceSum": lambda x, d, k: torch.sum(x, dim=d, keepdim=k),
    "ReduceMean": lambda x, d, k: torch.mean(x, dim=d, keepdim=k),
    "ReduceMax": lambda x, d, k: torch.amax(x, dim=d, keepdim=k),
    "ReduceMin": lambda x, d, k: torch.amin(x, dim=d, keepdim=k),
    "ReduceProd": lambda x, d, k: _prod(x, d, k),
    "ReduceL1": lambda x, d, k: torch.sum(torch.abs(x), dim=d, keepdim=k),
    "ReduceL2": _l2,
    "ReduceLogicalAnd": lambda x, d, k: torch.all(x, dim=d, keepdim=k),
    "ReduceLogicalOr": lambda x, d, k: torch.any(x, dim=d, keepdim=k),
}


def _prod(x: Any, dims: tuple[int, ...], keep: bool) -> Any:
    for d in sorted(dims, reverse=True):
        x = torch.prod(x, dim=d, keepdim=keep)
    return x


@lowers(*_REDUCE)
class ReduceLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or g.const(node.inputs[1]) is None or not node.inputs[0].shape.rank_is_static:
            return False
        et = node.inputs[0].element_type.name
        if node.type.startswith("ReduceLogical"):
            return et == "boolean"
        shape = g.static_shape(node.inputs[0])
        axes = reduction_axes(node, node.inputs[0].shape.rank, g.const(node.inputs[1]))  # type: ignore[arg-type]
        if shape is not None and any(shape[a] == 0 for a in axes):
            return False  # reductions over nothing: the reference's identities
        return et in ("f32", "f64", "f16", "bf16")

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        fn, exec_type = self.kernel(ctx, node)
        return Built(fn, exec_type, fresh=True, trace_fn=_spatial_mean_trace(ctx, node) or fn)

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        rank = node.inputs[0].shape.rank
        axes = reduction_axes(node, rank, ctx.g.const(node.inputs[1]))  # type: ignore[arg-type]
        keep = bool(node.attrs["keep_dims"])
        if not axes:
            return (lambda x: x.clone()), "torch_copy"
        fn = _REDUCE[node.type]
        if node.inputs[0].element_type.name in ("f16", "bf16"):
            # computed in f32 and rounded once, as REF does: f16's squares (ReduceL2) and partial sums and products
            # overflow where the result does not
            dt = torch.float16 if node.inputs[0].element_type.name == "f16" else torch.bfloat16
            return (lambda x: fn(x.float(), axes, keep).to(dt)), f"torch_{node.type.lower()}"
        return (lambda x: fn(x, axes, keep)), f"torch_{node.type.lower()}"


def _spatial_mean_trace(ctx: BuildContext, node: Node) -> Callable[[Any], Any] | None:
    """A global average pool (ReduceMean over H and W of an f32 NCHW value) written as avg_pool2d for traced
    segments: oneDNN Graph takes it as an AvgPool partition, so the value before it keeps its opaque layout
    (aten::mean would make the producing partition write a strided copy for it)."""
    shape = ctx.g.static_shape(node.inputs[0])
    if node.type != "ReduceMean" or shape is None or len(shape) != 4 or \
            node.inputs[0].element_type.name != "f32":
        return None
    axes = reduction_axes(node, 4, ctx.g.const(node.inputs[1]))  # type: ignore[arg-type]
    if tuple(sorted(axes)) != (2, 3):
        return None
    window = (shape[2], shape[3])
    if node.attrs["keep_dims"]:
        return lambda x: F.avg_pool2d(x, window, window, 0)
    flat = (shape[0], shape[1])
    return lambda x: F.avg_pool2d(x, window, window, 0).reshape(flat)
