"""Structural clean-ups: dead-node elimination and common-subexpression elimination (SharedOpOptimization),
constants de-duplicated by value."""
from __future__ import annotations

import hashlib

from irforge.ir.graph import Model, Node
from irforge.transforms.base import Pass


class DeadCodeElimination(Pass):
    """Drops uses held by nodes no Result depends on, so every remaining use is live."""

    name = "dead_code_elimination"
    description = "remove nodes no output depends on"

    def run(self, model: Model) -> bool:
        live = {n.uid for n in model.nodes()}
        removed: set[int] = set()
        for node in model.nodes():
            for out in node.outputs:
                dead = [(c, i) for c, i in out.uses if c.uid not in live]
                for use in dead:
                    out.uses.remove(use)
                    removed.add(use[0].uid)
        self.count += len(removed)
        return bool(removed)


def _key(node: Node) -> tuple[object, ...] | None:
    if node.type in ("Parameter", "Result") or node.bodies or node.type in ("RandomUniform", "ReadValue", "Assign"):
        return None
    if node.type == "Constant":
        assert node.data is not None
        digest = hashlib.sha256(node.data.tobytes()).hexdigest()
        return ("Constant", str(node.attrs["element_type"]), tuple(node.attrs["shape"]), digest)
    attrs = tuple(sorted((k, repr(v)) for k, v in node.attrs.items()))
    ins = tuple((src.node.uid, src.index) for src in node.inputs)
    return (node.type, node.version, attrs, ins, tuple(sorted(node.rt_info)))


class CommonSubexpressionElimination(Pass):
    """Nodes of the same op, attributes and inputs (constants: the same bytes) are merged into one."""

    name = "common_subexpression_elimination"
    description = "merge identical nodes and identical constants"

    def run(self, model: Model) -> bool:
        seen: dict[tuple[object, ...], Node] = {}
        changed = False
        for node in model.nodes():
            key = _key(node)
            if key is None:
                continue
            first = seen.setdefault(key, node)
            if first is node:
                continue
            for a, b in zip(node.outputs, first.outputs):
                a.replace_all_uses_with(b)
            node.detach()
            self.count += 1
            changed = True
        return changed
