"""NopElimination: ops that return their input unchanged are bypassed (Reshape/Squeeze/Unsqueeze/Broadcast to
the same static shape, identity Transpose, Convert to the same type, zero Pad, one-input Concat, Tile by ones,
Multiply/Divide by 1, Add/Subtract of 0). A nop between a model input and a model output, or whose input is
already a model output, stays: removing it would give two model ports one tensor name set."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, Node, Output
from irforge.transforms.base import Pass
from irforge.transforms.cleanup import keeps_io_names
from irforge.transforms.graph_edit import erase_if_dead

_SAME_SHAPE_OPS = {"Reshape", "Squeeze", "Unsqueeze", "Broadcast"}


def _const(out: Output) -> np.ndarray | None:
    return out.node.data if out.node.type == "Constant" else None


def _all_equal(value: np.ndarray | None, scalar: float) -> bool:
    return value is not None and value.size > 0 and bool(np.all(value == scalar))


def _keeps_shape(node: Node, data: Output) -> bool:
    """The output has the data input's shape (both static), so an element-wise identity really is one."""
    out = node.outputs[0]
    return data.shape.is_static and out.shape == data.shape and out.element_type == data.element_type


def passthrough(node: Node) -> Output | None:
    """The input `node` merely forwards, or None."""
    t = node.type
    x = node.inputs[0] if node.inputs else None
    if x is None:
        return None
    if t in _SAME_SHAPE_OPS:
        return x if _keeps_shape(node, x) else None
    if t == "Transpose":
        order = _const(node.inputs[1])
        return x if order is not None and order.size and np.array_equal(order, np.arange(order.size)) else None
    if t == "Convert":
        return x if node.attrs["destination_type"] == x.element_type else None
    if t == "ConvertLike":
        return x if node.inputs[1].element_type == x.element_type else None
    if t == "Pad":
        pads = [_const(i) for i in node.inputs[1:3]]
        ok = all(p is not None and not np.any(p) for p in pads)
        return x if ok and _keeps_shape(node, x) else None
    if t == "Concat":
        return x if len(node.inputs) == 1 else None
    if t == "Tile":
        return x if _all_equal(_const(node.inputs[1]), 1) and _keeps_shape(node, x) else None
    if t in ("Multiply", "Add"):
        neutral = 1 if t == "Multiply" else 0
        for data, other in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
            if _all_equal(_const(other), neutral) and _keeps_shape(node, data):
                return data
        return None
    if t in ("Divide", "Subtract"):
        neutral = 1 if t == "Divide" else 0
        return x if _all_equal(_const(node.inputs[1]), neutral) and _keeps_shape(node, x) else None
    return None


class NopElimination(Pass):
    name = "nop_elimination"
    description = "bypass ops that return their input unchanged (identity reshapes/transposes/converts, x*1, x+0...)"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            src = passthrough(node)
            if src is None or src.node is node or not keeps_io_names(node.outputs[0], src):
                continue
            node.outputs[0].replace_all_uses_with(src)
            erase_if_dead(node)
            self.count += 1
            changed = True
        return changed
