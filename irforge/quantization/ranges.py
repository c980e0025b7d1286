"""Activation ranges: the estimator picks (low, high) from a tensor's statistics, the preset turns them into a
256-level FakeQuantize range.

- a non-negative tensor (observed min >= 0): u8 levels over [0, high];
- performance preset (symmetric): i8 levels step = s / 127 from -128 to 127 steps, s = max(|low|, |high|),
  i.e. [-s * 128/127, s], as NNCF writes them;
- mixed preset (asymmetric): [low, high] widened so that zero falls exactly on a level."""
from __future__ import annotations

from dataclasses import dataclass

from irforge.quantization.statistics import RangeObserver

LEVELS = 256
_TINY = 1e-8


@dataclass(frozen=True)
class FQRange:
    low: float
    high: float
    levels: int = LEVELS

    @property
    def signed(self) -> bool:
        return self.low < 0.0


def estimate(obs: RangeObserver, estimator: str, outlier_prob: float = 1e-4) -> tuple[float, float]:
    """(low, high) of the tensor for `estimator` (minmax, mean_minmax, quantile)."""
    if not obs.seen:
        return 0.0, 0.0
    if estimator == "minmax":
        return obs.min, obs.max
    if estimator == "mean_minmax":
        return obs.mean_min(), obs.mean_max()
    assert obs.histogram is not None, "quantile needs the histogram"
    lo = obs.histogram.quantile(outlier_prob)
    hi = obs.histogram.quantile(1.0 - outlier_prob)
    return min(lo, 0.0) if obs.min < 0 else max(lo, 0.0), hi


def fq_range(low: float, high: float, preset: str, nonnegative: bool) -> FQRange:
    """The FakeQuantize range for estimated (low, high)."""
    if nonnegative or (low >= 0.0 and high >= 0.0):
        return FQRange(0.0, max(high, _TINY))
    if preset == "performance":
        s = max(abs(low), abs(high), _TINY)
        return FQRange(-s * 128.0 / 127.0, s)
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low < _TINY:
        high = low + _TINY
    step = (high - low) / (LEVELS - 1)
    zero_point = round(-low / step)
    low = -zero_point * step
    return FQRange(low, low + (LEVELS - 1) * step)


def unify(ranges: list[tuple[float, float, bool]], preset: str) -> FQRange:
    """One range covering several tensors' (low, high, nonnegative) (the inputs of a Concat)."""
    low = min(r[0] for r in ranges)
    high = max(r[1] for r in ranges)
    return fq_range(low, high, preset, all(r[2] for r in ranges))
