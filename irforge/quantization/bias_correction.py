"""Fast bias correction: quantizing a layer's weights shifts the mean of its output per channel by
E[op(x, Wq)] - E[op(x, W)] = op(E[x], Wq - W) (the layer is linear in its weights and its input), computed exactly
from the mean input the statistics pass kept; the shift is subtracted from the layer's bias. One evaluation of
the layer's reference kernel per layer, on one representative input."""
from __future__ import annotations

import numpy as np

from irforge.quantization.placement import WeightTarget


def bias_shift(target: WeightTarget, mean_input: np.ndarray, w: np.ndarray, w_q: np.ndarray) -> np.ndarray | None:
    """The per-channel shift of the layer's output mean (None when it cannot be computed)."""
    node = target.node
    dtype = node.inputs[target.data_index].element_type.dtype or np.float32
    x = np.asarray(mean_input, dtype)
    args: list[np.ndarray] = [x, x]
    args[target.index] = np.asarray(w, dtype)
    try:
        ref = node.op.evaluate(node, list(args))[0].astype(np.float64)
        args[target.index] = np.asarray(w_q, dtype)
        quant = node.op.evaluate(node, list(args))[0].astype(np.float64)
    except Exception:  # noqa: BLE001 - a representative input the kernel refuses: no correction
        return None
    if ref.ndim <= target.channel_axis:
        return None
    axes = tuple(a for a in range(ref.ndim) if a != target.channel_axis)
    shift = (quant - ref).mean(axis=axes)
    return shift if np.all(np.isfinite(shift)) else None


def corrected_bias(bias: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`bias` (one value per output channel, in any broadcastable shape) minus `shift`, in bias's shape/type."""
    return (bias.astype(np.float64) - shift.reshape(bias.shape)).astype(bias.dtype)
