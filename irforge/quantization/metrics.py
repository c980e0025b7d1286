"""Validation metrics computed from model outputs (higher is better for every metric):

- `top1`, `top5`: accuracy of the first output's scores (one row per sample, classes on the last axis) against
  integer labels;
- `cosine`: mean cosine similarity of every output to the floating-point model's (1.0 = identical);
- `nmse`: minus the mean normalized squared error ||ref - out||^2 / ||ref||^2 against the floating-point model's
  outputs (0.0 = identical), so that the drop is the NMSE itself.

`item_errors` is the per-sample error the accuracy-aware search ranks on."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irforge.errors import OptionError

METRICS = ("top1", "top5", "cosine", "nmse")
NEEDS_LABELS = frozenset({"top1", "top5"})

Outputs = Sequence[Sequence[np.ndarray]]  # per sample, per model output


def check_metric(name: str, has_labels: bool) -> str:
    key = name.lower()
    if key not in METRICS:
        raise OptionError(f"metric must be one of {', '.join(METRICS)}, got {name!r}")
    if key in NEEDS_LABELS and not has_labels:
        raise OptionError(f"metric '{key}' needs labels (--labels FILE or --labels-from-folders); "
                          f"without labels use cosine or nmse")
    return key


def _scores(outputs: Outputs) -> np.ndarray:
    rows = [np.asarray(o[0], np.float64) for o in outputs]
    mats = [r.reshape(r.shape[0] if r.ndim > 1 else 1, -1) for r in rows]
    return np.concatenate(mats, axis=0)


def topk(outputs: Outputs, labels: np.ndarray, k: int) -> float:
    scores = _scores(outputs)
    if scores.shape[0] != len(labels):
        raise OptionError(f"the model gives {scores.shape[0]} score rows for {len(labels)} labels")
    k = min(k, scores.shape[1])
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(best == np.asarray(labels).reshape(-1, 1), axis=1)))


def item_errors(reference: Outputs, outputs: Outputs) -> np.ndarray:
    """Per sample: the sum over model outputs of ||ref - out||^2 / (||ref||^2 + tiny)."""
    errs = np.zeros(len(reference))
    for i, (ref, out) in enumerate(zip(reference, outputs)):
        for r, o in zip(ref, out):
            r64 = np.asarray(r, np.float64)
            o64 = np.asarray(o, np.float64)
            if np.asarray(r).dtype.kind != "f":  # integer outputs (indices, classes): the share that differs
                errs[i] += float(np.mean(r64 != o64)) if r64.shape == o64.shape else 1.0
                continue
            errs[i] += float(np.sum((r64 - o64) ** 2) / (np.sum(r64 ** 2) + 1e-12))
    return errs


def cosine(reference: Outputs, outputs: Outputs) -> float:
    sims = []
    for ref, out in zip(reference, outputs):
        r = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in ref])
        o = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in out])
        denom = np.linalg.norm(r) * np.linalg.norm(o)
        sims.append(float(r @ o / denom) if denom > 0 else float(np.array_equal(r, o)))
    return float(np.mean(sims)) if sims else 0.0


def metric_value(name: str, outputs: Outputs, reference: Outputs | None, labels: np.ndarray | None) -> float:
    if name == "top1":
        assert labels is not None
        return topk(outputs, labels, 1)
    if name == "top5":
        assert labels is not None
        return topk(outputs, labels, 5)
    assert reference is not None
    if name == "cosine":
        return cosine(reference, outputs)
    return -float(np.mean(item_errors(reference, outputs)))
