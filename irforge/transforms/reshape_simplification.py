"""SimplifyReshapeTarget: a Reshape whose target shape is computed at run time from ShapeOf sub-graphs (the
`x.view(x.size(0), x.size(1), heads, -1)` chains exporters write) gets a constant target instead, using Reshape's
special zero (0 = keep the input's dimension at that index) and -1 (OpenVINO's SimplifySecondInputOfReshape, with
the symbolic tracking of `irforge.ir.ops.shape_ops.partial_value`). The ShapeOf/Gather/Unsqueeze/Concat chain then
dies, and the reshape becomes a plain view for the runtime.

An element of the target that is dimension i of the Reshape's own input, at position i, becomes 0. When exactly
one element is still unknown and the target holds no -1, it becomes -1: the element count of a valid reshape
determines it. Anything else leaves the Reshape as it is."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, Node, constant, make
from irforge.ir.ops.shape_ops import SymDim, shape_input
from irforge.ir.shape import PartialShape
from irforge.transforms.base import Pass
from irforge.transforms.graph_edit import erase_if_dead, refresh_shapes


def constant_target(node: Node) -> list[int] | None:
    """The constant (special_zero) target equivalent to Reshape `node`'s computed one, or None."""
    data = node.inputs[0]
    if node.inputs[1].node.type == "Constant" or not data.shape.rank_is_static:
        return None
    target = shape_input(node, 1)
    if target is None or not any(isinstance(t, SymDim) for t in target):
        return None
    special_zero = node.attrs["special_zero"]
    out: list[int | None] = []
    for i, t in enumerate(target):
        if isinstance(t, SymDim):
            out.append(0 if t.source is data and t.axis == i < data.shape.rank else None)
        elif t == 0 and not special_zero:
            return None  # a literal zero-sized dimension would turn into "copy the input's"
        else:
            out.append(t)
    unknown = [i for i, t in enumerate(out) if t is None]
    if len(unknown) > 1 or (unknown and -1 in out):
        return None
    return [-1 if t is None else t for t in out]


def _agree(a: PartialShape, b: PartialShape) -> bool:
    """Same static rank, and equal wherever both dimensions are static."""
    return (a.rank_is_static and b.rank_is_static and a.rank == b.rank
            and all(x == y for x, y in zip(a.dims, b.dims) if x.is_static and y.is_static))


class SimplifyReshapeTarget(Pass):
    name = "simplify_reshape_target"
    description = "replace ShapeOf-computed Reshape targets by constants with special zeros / -1"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            if node.type != "Reshape":
                continue
            target = constant_target(node)
            if target is None:
                continue
            new = make("Reshape", [node.inputs[0], constant(np.array(target, np.int64))], name=node.name,
                       special_zero=True)
            old = node.outputs[0]
            if not _agree(new.outputs[0].shape, old.shape):
                new.detach()
                continue
            old.replace_all_uses_with(new.outputs[0])
            erase_if_dead(node)
            self.count += 1
            changed = True
        if changed:
            refresh_shapes(model)
        return changed
