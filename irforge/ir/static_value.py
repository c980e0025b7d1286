"""Values known at conversion time: Constants, ShapeOf of a static shape, and small sub-graphs over those
(the ShapeOf -> Gather -> Concat -> Reshape chains exporters emit), evaluated with the reference kernels.
Type/shape inference uses this to resolve shape inputs; it never evaluates anything large: no input above
MAX_ELEMENTS elements, and no node whose inferred output has more (a ConstantOfShape/Expand/Tile/Range of a
few bytes can ask for gigabytes; its value then simply stays unknown)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from irforge.ir.graph import Output
    from irforge.ir.shape import PartialShape

MAX_ELEMENTS = 1 << 12  # inputs or outputs larger than this are not evaluated during inference
_NEVER = {"Parameter", "Result", "RandomUniform", "ReadValue", "Assign"}


def static_value(out: "Output") -> np.ndarray | None:
    """The value of `out` if it is known now, else None. Depth first over the producers, without recursion (a
    deep chain must not exhaust Python's stack); stops at the first input whose value is unknown."""
    memo: dict[int, np.ndarray | None] = {}
    stack = [out]
    while stack:
        o = stack[-1]
        if id(o) in memo:
            stack.pop()
            continue
        direct = _direct_value(o)
        if direct is not _EVALUATE:
            memo[id(o)] = direct  # type: ignore[assignment]
            stack.pop()
            continue
        values: list[np.ndarray] = []
        for src in o.node.inputs:
            if id(src) not in memo:
                stack.append(src)
                break
            v = memo[id(src)]
            if v is None or v.size > MAX_ELEMENTS:
                memo[id(o)] = None
                break
            values.append(v)
        else:
            memo[id(o)] = _evaluate(o, values)
        if id(o) in memo:
            stack.pop()
    return memo[id(out)]


_EVALUATE = object()  # _direct_value: the value needs the node's inputs


def _direct_value(out: "Output") -> object:
    """The value of `out` when it needs no input values (a Constant, ShapeOf of a static shape), None when it
    cannot be known (or would be too large), else _EVALUATE."""
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
    if any(too_large(o.shape, MAX_ELEMENTS) for o in node.outputs):
        return None
    return _EVALUATE


def _evaluate(out: "Output", values: list[np.ndarray]) -> np.ndarray | None:
    try:
        return out.node.op.evaluate(out.node, values)[out.index]
    except Exception:  # a kernel that cannot run on these values simply leaves the value unknown
        return None


def too_large(shape: "PartialShape", limit: int) -> bool:
    """Whether a value of `shape` has more than `limit` elements for sure (its static dims and the lower
    bounds of dynamic ones already multiply past it). Exact for static shapes."""
    if not shape.rank_is_static:
        return False
    count = 1
    for d in shape.dims:
        count *= d.min
    return count > limit
