"""ReverseInputChannelsFusion: a channel permutation (Gather on axis 1 with constant indices, as
`--reverse-input-channels` emits) feeding a Convolution with constant weights is folded into the weights'
input-channel axis, so the reversal costs nothing at run time."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.pattern import Any, Const, Match, Op


def _is_permutation(idx: np.ndarray) -> bool:
    return idx.ndim == 1 and np.array_equal(np.sort(idx), np.arange(idx.size))


class ReverseInputChannelsFusion(PatternPass):
    name = "reverse_input_channels_fusion"
    description = "fold a channel permutation (e.g. RGB<->BGR) into the next convolution's weights"

    def pattern(self) -> Op:
        gather = Op("Gather", Any("x"), Const("idx"), Const("axis"), name="gather")
        return Op("Convolution", gather, Const("w"), name="conv")

    def check(self, m: Match) -> str | None:
        if int(m["axis"]) != 1 or m["gather"].attrs.get("batch_dims", 0) != 0:
            return "not a gather over the channel axis"
        if not _is_permutation(np.asarray(m["idx"])) or m["idx"].size != m["w"].shape[1]:
            return "indices are not a permutation of the input channels"
        return None

    def rewrite(self, m: Match) -> Output:
        inverse = np.argsort(np.asarray(m["idx"]))
        w = np.take(m["w"], inverse, axis=1)
        conv = m["conv"]
        return make("Convolution", [m["x"], constant(w)], **conv.attrs).output(0)
