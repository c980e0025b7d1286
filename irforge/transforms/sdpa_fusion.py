"""SDPAFusion: the attention block exporters write,

    softmax(MatMul(q, k^T) * scale + mask) @ v        (scale a one-element constant or a division by one)

becomes one ScaledDotProductAttention-13 (OpenVINO's SDPAFusion), which the CPU device runs as a single fused
attention kernel. q, k and v must have the same static rank (3 or 4), a static head size shared by q and k, and a
float type; k^T may be a Transpose swapping the two last axes (k is then its input), the MatMul's transpose_b, or
anything else (k is then made by a Transpose inserted here, which TransposeFusion may merge with k's producer).
Every intermediate value must be used by the pattern alone."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.pattern import Any, Const, Match, OneOf, Op, Pattern


def _one(v: np.ndarray) -> bool:
    return v.size == 1 and v.dtype.kind == "f" and bool(np.isfinite(v).all()) and float(v.reshape(-1)[0]) != 0


def _swap_last_two(rank: int) -> np.ndarray:
    order = np.arange(rank, dtype=np.int64)
    order[-2], order[-1] = order[-1], order[-2]
    return order


def _not_transposed(name: str) -> Op:
    return Op("MatMul", Any("q"), Any("kt"), name=name,
              where=lambda n: not n.attrs["transpose_a"])


class SDPAFusion(PatternPass):
    name = "sdpa_fusion"
    description = "softmax(q @ k^T * scale + mask) @ v -> ScaledDotProductAttention"

    def pattern(self) -> Pattern:
        scores = _not_transposed("qk")
        scaled = OneOf(Op("Multiply", scores, Const("scale", where=_one)),
                       Op("Divide", scores, Const("divisor", where=_one)), scores)
        masked = OneOf(Op("Add", scaled, Any("mask"), name="add"), scaled)
        probs = Op("Softmax", masked, name="softmax")
        return Op("MatMul", probs, Any("v"), name="qkv",
                  where=lambda n: not n.attrs["transpose_a"] and not n.attrs["transpose_b"])

    def check(self, m: Match) -> str | None:
        q, kt, v = m["q"], m["kt"], m["v"]
        ranks = {t.shape.rank if t.shape.rank_is_static else None for t in (q, kt, v)}
        if len(ranks) != 1 or ranks.pop() not in (3, 4):
            return "q, k and v need one static rank, 3 or 4"
        if not q.element_type.is_float or len({q.element_type, kt.element_type, v.element_type}) != 1:
            return "not one float type"
        rank = q.shape.rank
        axis = m["softmax"].attrs["axis"]
        if axis not in (-1, rank - 1):
            return "softmax not over the last axis"
        head = kt.shape[-1] if m["qk"].attrs["transpose_b"] else kt.shape[-2]
        if not (q.shape[-1].is_static and head.is_static and q.shape[-1].min == head.min):
            return "head size not static or not shared by q and k"
        if "mask" in m:
            mask = m["mask"]
            if mask.element_type != q.element_type or not mask.shape.rank_is_static or mask.shape.rank > rank:
                return "mask of another type or a higher rank"
            if m["add"].outputs[0].shape != m["qk"].outputs[0].shape:
                return "the mask broadcasts the scores"
        return None

    def rewrite(self, m: Match) -> Output:
        q, kt, v = m["q"], m["kt"], m["v"]
        et, rank = q.element_type, q.shape.rank
        if m["qk"].attrs["transpose_b"]:
            k = kt
        elif kt.node.type == "Transpose" and kt.node.input_value(1) is not None \
                and np.array_equal(kt.node.input_value(1), _swap_last_two(rank)):
            k = kt.node.inputs[0]
        else:
            k = make("Transpose", [kt, constant(_swap_last_two(rank))]).output(0)
        if "scale" in m:
            scale = float(m["scale"].reshape(-1)[0])
        elif "divisor" in m:
            scale = 1.0 / float(m["divisor"].reshape(-1)[0])
        else:
            scale = 1.0
        if "mask" in m:
            mask = m["mask"]
            if mask.shape.rank < rank:
                axes = np.arange(rank - mask.shape.rank, dtype=np.int64)
                mask = make("Unsqueeze", [mask, constant(axes)]).output(0)
        else:
            mask = constant(np.zeros((), et.dtype))
        inputs = [q, k, v, mask, constant(np.array(scale, et.dtype))]
        return make("ScaledDotProductAttention", inputs, causal=False).output(0)
