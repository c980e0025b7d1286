"""Values known at conversion time: Constants, ShapeOf of a static shape, and small sub-graphs over those
(the ShapeOf -> Gather -> Concat -> Reshape chains exporters emit), evaluated with the reference kernels.
Type/shape inference uses this to resolve shape inputs; it never evaluates anything large."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from irforge.ir.graph import Output

MAX_ELEMENTS = 1 << 12  # inputs larger than this are not evaluated during inference
_NEVER = {"Parameter", "Result", "RandomUniform", "ReadValue", "Assign"}


def static_value(out: "Output") -> np.ndarray | None:
    node = out.node
    if node.type == "Constant":
        assert node.data is not None
        return node.data
    if node.type in _NEVER or node.bodies:
        return None
    if node.type == "ShapeOf":
        shape = node.inputs[0].shape
        if not shape.is_static:
            return None
        return np.array(shape.to_shape(), dtype=out.element_type.dtype)
    values = []
    for src in node.inputs:
        v = static_value(src)
        if v is None or v.size > MAX_ELEMENTS:
            return None
        values.append(v)
    try:
        return node.op.evaluate(node, values)[out.index]
    except Exception:  # a kernel that cannot run on these values simply leaves the value unknown
        return None
