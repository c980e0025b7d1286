"""The corpus's error measure: per output, max |got - want| / max(1, max |want|).

Relative to the output's own scale (logits over a 150k vocabulary, hidden states after a LayerNorm, un-normalized
CNN features) rather than elementwise, because elementwise relative error explodes where a value crosses zero;
absolute below 1, so outputs of small magnitude are not held to a tighter bound than float32 accumulation allows."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOLERANCE = 1e-4


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """Max abs error over max(1, max abs of `want`); inf when the shapes differ or NaN appears in one only."""
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if g.shape != w.shape:
        return float("inf")
    if not w.size:
        return 0.0
    g_nan, w_nan = np.isnan(g), np.isnan(w)
    if (g_nan != w_nan).any():
        return float("inf")
    diff = np.abs(np.where(w_nan, 0.0, g - w))
    scale = max(1.0, float(np.max(np.abs(np.where(w_nan, 0.0, w)))))
    return float(np.max(diff)) / scale


def rel_errs(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> list[float]:
    """`rel_err` per output; [inf] when the output counts differ."""
    if len(got) != len(want):
        return [float("inf")]
    return [rel_err(g, w) for g, w in zip(got, want)]


def describe(errs: Sequence[float], names: Sequence[str]) -> str:
    """'logits 3.1e-06, pooler_output 2e-05' (names fall back to the output index)."""
    return ", ".join(f"{names[i] if i < len(names) else i} {e:.3g}" for i, e in enumerate(errs))
