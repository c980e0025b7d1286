"""Small graph edits shared by passes."""
from __future__ import annotations

from irforge.ir.graph import Node


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
