"""Small graph edits shared by passes."""
from __future__ import annotations

from irforge.ir.graph import Model, Node


def erase_if_dead(node: Node) -> None:
    """If no output of `node` is used, drop its uses of its inputs, and cascade to producers left unused.
    Parameters and Results are never erased."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in ("Parameter", "Result") or any(o.uses for o in n.outputs):
            continue
        producers = [src.node for src in n.inputs]
        n.detach()
        n.inputs = []
        stack.extend(producers)


def refresh_shapes(model: Model) -> None:
    """Re-run type and shape inference in topological order, after a pass gave some node inputs values that are
    now known (a folded constant can make a consumer's output shape more precise)."""
    for node in model.nodes():
        node.infer()
