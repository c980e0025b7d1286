"""ScaledDotProductAttention-13 (the op OpenVINO's own conversion fuses transformer attention into)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, from_compute, to_compute
from irforge.ir.shape import PartialShape, broadcast_shapes

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def _softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


@register
class ScaledDotProductAttention(OpSpec):
    """softmax(Q K^T * scale + bias) V; bias from `causal`, or a boolean/additive mask (input 3)."""

    type_name = "ScaledDotProductAttention"
    version = "opset13"
    attrs = (Attr("causal", "bool"),)
    min_inputs = 3
    max_inputs = 5

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        q, k, v = (i.shape for i in node.inputs[:3])
        et = node.inputs[0].element_type
        if not (q.rank_is_static and k.rank_is_static and v.rank_is_static):
            return [(et, PartialShape(None))]
        batch = broadcast_shapes(PartialShape(q.dims[:-2]), PartialShape(k.dims[:-2]), PartialShape(v.dims[:-2]))
        return [(et, PartialShape([*batch.dims, q.dims[-2], v.dims[-1]]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        q, k, v = (to_compute(x, et).astype(np.float64) for x in inputs[:3])
        scale = float(np.asarray(inputs[4]).reshape(-1)[0]) if len(inputs) > 4 else 1.0 / np.sqrt(q.shape[-1])
        weight = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
        length, source = q.shape[-2], k.shape[-2]
        if node.attrs["causal"]:
            weight = weight + np.triu(np.full((length, source), -np.inf), k=1)
        elif len(inputs) > 3:
            mask = inputs[3]
            if mask.dtype == np.bool_:
                weight = weight + np.where(mask, 0.0, -np.inf)
            else:
                weight = weight + to_compute(mask, et).astype(np.float64)
        return [from_compute(np.matmul(_softmax(weight), v), et)]
