"""TransposeFusion: Transpose(Transpose(x, p1), p2) becomes one Transpose(x, p1[p2]), or x itself when the
composition is the identity (OpenVINO's TransposeFuse)."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.pattern import Any, Const, Match, Op, Pattern


def _perm(value: np.ndarray) -> bool:
    """A non-empty 1-D permutation (an empty order means 'reverse the axes', left alone)."""
    return value.ndim == 1 and value.size > 0 and sorted(value.tolist()) == list(range(value.size))


class TransposeFusion(PatternPass):
    name = "transpose_fusion"
    description = "merge consecutive Transposes into one (or none when they cancel)"

    def pattern(self) -> Pattern:
        inner = Op("Transpose", Any("x"), Const("p1", where=_perm))
        return Op("Transpose", inner, Const("p2", where=_perm))

    def check(self, m: Match) -> str | None:
        return None if m["p1"].size == m["p2"].size else "permutations of different ranks"

    def rewrite(self, m: Match) -> Output:
        order = m["p1"][m["p2"]]
        if np.array_equal(order, np.arange(order.size)):
            return m["x"]
        return make("Transpose", [m["x"], constant(order.astype(np.int64))]).output(0)
