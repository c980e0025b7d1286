"""LRN-1: local response normalization over a window of `size` along the given axes."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, from_compute, normalize_axis, same_as_input, to_compute

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def window_sum(sq: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Sum of `sq` over [i - size//2, i + size//2] along `axis` (clipped at the edges), via a prefix sum."""
    half = size // 2
    n = sq.shape[axis]
    csum = np.cumsum(sq, axis=axis)
    zero = np.zeros_like(np.take(csum, [0], axis=axis))
    csum = np.concatenate([zero, csum], axis=axis)
    idx = np.arange(n)
    hi = np.minimum(n, idx + half + 1)
    lo = np.maximum(0, idx - half)
    return np.take(csum, hi, axis=axis) - np.take(csum, lo, axis=axis)


@register
class LRN(OpSpec):
    """data / (bias + alpha / size^len(axes) * sum of squares over the window) ^ beta (OpenVINO's LRN-1 spec:
    the window along each axis is [i - size/2, i + size/2], integer division)."""

    type_name = "LRN"
    attrs = (Attr("alpha", "float"), Attr("beta", "float"), Attr("bias", "float"), Attr("size", "int"))
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        x = to_compute(inputs[0], et).astype(np.float64)
        axes = sorted({normalize_axis(int(a), x.ndim, node) for a in np.asarray(inputs[1]).reshape(-1)})
        a = node.attrs
        acc = x * x
        for axis in axes:
            acc = window_sum(acc, axis, a["size"])
        y = x / (a["bias"] + a["alpha"] / a["size"] ** len(axes) * acc) ** a["beta"]
        return [from_compute(y, et)]
