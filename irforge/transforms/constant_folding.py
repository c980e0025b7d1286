"""ConstantFolding: ops whose inputs are all constants (and ShapeOf of static shapes) become Constants,
computed with the ops' own reference kernels. Decompression Converts (FP16/INT8 weights) stay, as in
OpenVINO, so compressed weights remain compressed."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, Node, constant
from irforge.transforms.base import Pass
from irforge.transforms.graph_edit import erase_if_dead

_NEVER_FOLD = {"Parameter", "Result", "Constant", "RandomUniform", "ReadValue", "Assign", "FakeQuantize"}


def is_decompression(node: Node) -> bool:
    return "decompression" in node.rt_info


def _folded_values(node: Node) -> list[np.ndarray] | None:
    """The node's output values if they are known now, else None."""
    if node.type == "ShapeOf":
        shape = node.inputs[0].shape
        if not shape.is_static:
            return None
        return [np.array(shape.to_shape(), dtype=node.outputs[0].element_type.dtype)]
    values = []
    for src in node.inputs:
        if src.node.type != "Constant" or is_decompression(src.node):
            return None
        assert src.node.data is not None
        values.append(src.node.data)
    return node.op.evaluate(node, values)


class ConstantFolding(Pass):
    name = "constant_folding"
    description = "evaluate ops whose inputs are constants (incl. static ShapeOf sub-graphs) at conversion time"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            if node.type in _NEVER_FOLD or node.bodies or is_decompression(node):
                continue
            outs = _folded_values(node)
            if outs is None:
                continue
            for out, value in zip(node.outputs, outs):
                if not out.uses:
                    continue
                arr = np.asarray(value)
                if out.element_type.dtype is not None:
                    arr = arr.astype(out.element_type.dtype, copy=False)
                new = constant(arr, name=node.name if len(node.outputs) == 1 else f"{node.name}:{out.index}")
                out.replace_all_uses_with(new)
            erase_if_dead(node)
            self.count += 1
            changed = True
        return changed
