"""Structural clean-ups: dead-node elimination and common-subexpression elimination (SharedOpOptimization),
constants de-duplicated by value."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, Node, Output
from irforge.transforms.base import Pass


def feeds_result(out: Output) -> bool:
    return any(c.type == "Result" for c, _ in out.uses)


def keeps_io_names(old: Output, new: Output) -> bool:
    """Whether `old` may be replaced by `new` without merging a model output's tensor names into a model input
    or into another model output (OpenVINO's replace_output_update_name refuses the same cases): the two tensors
    would become one, so the IR could no longer tell the inputs/outputs apart by name."""
    if not feeds_result(old):
        return True
    return new.node.type != "Parameter" and not feeds_result(new)


class DeadCodeElimination(Pass):
    """Drops the nodes no Result depends on (left by cut outputs or unused frontend nodes): their uses of live
    values go, so every remaining use is live and patterns see the true fan-out. `count` is the dead nodes
    found."""

    name = "dead_code_elimination"
    description = "remove nodes no output depends on"

    def run(self, model: Model) -> bool:
        nodes = model.nodes()
        live = {n.uid for n in nodes}
        dead: dict[int, Node] = {}
        stack = [c for n in nodes for out in n.outputs for c, _ in out.uses if c.uid not in live]
        while stack:  # whatever a dead node feeds is dead too
            n = stack.pop()
            if n.uid in dead:
                continue
            dead[n.uid] = n
            stack.extend(c for out in n.outputs for c, _ in out.uses if c.uid not in dead)
        for n in dead.values():
            n.detach()
        self.count += len(dead)
        return bool(dead)


class _Content:
    """A constant's bytes as a dict key: hashed from the size and a few bytes at both ends (cheap for weights of
    hundreds of MB), compared in full only when two keys collide."""

    __slots__ = ("raw", "_hash")

    def __init__(self, data: np.ndarray) -> None:
        self.raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        self._hash = hash((self.raw.size, self.raw[:64].tobytes(), self.raw[-64:].tobytes()))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Content) and bool(np.array_equal(self.raw, other.raw))


def _key(node: Node) -> tuple[object, ...] | None:
    if node.type in ("Parameter", "Result") or node.bodies or node.type in ("RandomUniform", "ReadValue", "Assign"):
        return None
    marks = tuple(sorted(node.rt_info))
    if node.type == "Constant":
        assert node.data is not None
        return ("Constant", str(node.attrs["element_type"]), tuple(node.attrs["shape"]), marks, _Content(node.data))
    attrs = tuple(sorted((k, repr(v)) for k, v in node.attrs.items()))
    ins = tuple((src.node.uid, src.index) for src in node.inputs)
    return (node.type, node.version, attrs, ins, marks)


class CommonSubexpressionElimination(Pass):
    """Nodes of the same op, attributes, rt_info marks and inputs (constants: the same type, shape and bytes)
    are merged into one, unless that would merge a model output with a model input or another output."""

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
            if first is node or not all(keeps_io_names(a, b) for a, b in zip(node.outputs, first.outputs)):
                continue
            for a, b in zip(node.outputs, first.outputs):
                a.replace_all_uses_with(b)
            node.detach()
            self.count += 1
            changed = True
        return changed
