"""Conversion-time values of weight sub-graphs (a Constant, an f16 Constant -> Convert decompression, a
Constant -> Transpose, ...), of any size: `Output.constant_value` stops at small tensors, weights are large."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output

_NEVER = {"Parameter", "Result", "RandomUniform", "ReadValue", "Assign", "ShapeOf"}


class StaticValues:
    """Memoized `value(out)`: the array when `out` depends on Constants only, else None."""

    def __init__(self) -> None:
        self._cache: dict[int, np.ndarray | None] = {}

    def value(self, out: Output) -> np.ndarray | None:
        key = id(out)
        if key in self._cache:
            return self._cache[key]
        # iterative post-order (activation chains can be thousands of nodes deep)
        stack: list[tuple[Output, bool]] = [(out, False)]
        while stack:
            cur, ready = stack.pop()
            if id(cur) in self._cache:
                continue
            node = cur.node
            if ready or node.type in _NEVER or node.type == "Constant" or node.bodies or not node.inputs:
                self._cache[id(cur)] = self._compute(cur)
                continue
            stack.append((cur, True))
            stack.extend((src, False) for src in node.inputs if id(src) not in self._cache)
        return self._cache[key]

    def is_static(self, out: Output) -> bool:
        node = out.node
        if node.type == "Constant":
            return True
        if node.type == "ShapeOf":
            return out.constant_value() is not None
        return self.value(out) is not None

    def _compute(self, out: Output) -> np.ndarray | None:
        node = out.node
        if node.type == "Constant":
            assert node.data is not None
            return node.data
        if node.type == "ShapeOf":
            return out.constant_value()
        if node.type in _NEVER or node.bodies or not node.inputs:
            return None
        values = []
        for src in node.inputs:
            v = self._cache.get(id(src))
            if v is None:
                return None
            values.append(v)
        try:
            return np.asarray(node.op.evaluate(node, values)[out.index])
        except Exception:  # noqa: BLE001 - a sub-graph that does not evaluate is simply not static
            return None
