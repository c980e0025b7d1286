"""Streaming statistics of the tensors to quantize: each observer folds in one batch of samples at a time and
keeps a few numbers (or one histogram, or one mean tensor), never the activations themselves.

- `RangeObserver`: global min/max, the sums of per-sample min/max (for the mean min-max estimator) and, for the
  quantile estimator, a `StreamingHistogram`.
- `MeanObserver`: the mean input of a biased layer (per position when every sample has the same shape, else per
  channel), for the fast bias correction.
"""
from __future__ import annotations

import numpy as np


class StreamingHistogram:
    """A fixed number of equal bins over a range that grows (by at least doubling its width, re-binning the counts)
    as new data falls outside it."""

    def __init__(self, bins: int = 2048) -> None:
        self.bins = bins
        self.lo = 0.0
        self.hi = 0.0
        self.counts = np.zeros(bins, np.float64)
        self.total = 0

    def update(self, x: np.ndarray) -> None:
        x = x[np.isfinite(x)] if x.dtype.kind == "f" else x
        if x.size == 0:
            return
        xmin, xmax = float(x.min()), float(x.max())
        if self.total == 0:
            self.lo, self.hi = xmin, xmax if xmax > xmin else xmin + 1e-12
        elif xmin < self.lo or xmax > self.hi:
            self._grow(xmin, xmax)
        width = (self.hi - self.lo) / self.bins
        idx = np.clip(((x.astype(np.float64) - self.lo) / width).astype(np.int64), 0, self.bins - 1)
        self.counts += np.bincount(idx.reshape(-1), minlength=self.bins)
        self.total += x.size

    def _grow(self, xmin: float, xmax: float) -> None:
        old_lo, old_width = self.lo, (self.hi - self.lo) / self.bins
        lo, hi = min(self.lo, xmin), max(self.hi, xmax)
        span = max(hi - lo, 2.0 * (self.hi - self.lo))
        if xmin < self.lo:
            lo = hi - span
        else:
            hi = lo + span
        centers = old_lo + (np.arange(self.bins) + 0.5) * old_width
        idx = np.clip(((centers - lo) / (span / self.bins)).astype(np.int64), 0, self.bins - 1)
        counts = np.zeros(self.bins, np.float64)
        np.add.at(counts, idx, self.counts)
        self.lo, self.hi, self.counts = lo, hi, counts

    def quantile(self, q: float) -> float:
        """The value below which a fraction `q` of the data lies (linear inside a bin)."""
        if self.total == 0:
            return 0.0
        target = q * self.total
        cum = np.cumsum(self.counts)
        k = int(np.searchsorted(cum, target, side="left"))
        k = min(k, self.bins - 1)
        before = cum[k - 1] if k > 0 else 0.0
        inside = self.counts[k]
        frac = (target - before) / inside if inside > 0 else 0.0
        width = (self.hi - self.lo) / self.bins
        return float(self.lo + (k + min(max(frac, 0.0), 1.0)) * width)


class RangeObserver:
    """Min/max statistics of one tensor over the calibration samples."""

    def __init__(self, histogram: bool = False) -> None:
        self.min = np.inf
        self.max = -np.inf
        self.sum_min = 0.0
        self.sum_max = 0.0
        self.samples = 0
        self.histogram = StreamingHistogram() if histogram else None

    def update(self, x: np.ndarray, samples: int) -> None:
        """`x` holds `samples` samples stacked on axis 0 (samples=1: the whole tensor is one sample)."""
        if x.size == 0:
            return
        data = x.astype(np.float32, copy=False) if x.dtype.itemsize < 4 else x
        if samples > 1:
            flat = data.reshape(samples, -1)
            mins, maxs = flat.min(axis=1), flat.max(axis=1)
        else:
            mins, maxs = np.array([data.min()]), np.array([data.max()])
        mins = mins[np.isfinite(mins)]
        maxs = maxs[np.isfinite(maxs)]
        if mins.size:
            self.min = min(self.min, float(mins.min()))
            self.sum_min += float(mins.sum(dtype=np.float64))
        if maxs.size:
            self.max = max(self.max, float(maxs.max()))
            self.sum_max += float(maxs.sum(dtype=np.float64))
        self.samples += max(mins.size, maxs.size)
        if self.histogram is not None:
            self.histogram.update(data)

    @property
    def seen(self) -> bool:
        return self.samples > 0

    def mean_min(self) -> float:
        return self.sum_min / self.samples if self.samples else 0.0

    def mean_max(self) -> float:
        return self.sum_max / self.samples if self.samples else 0.0


class MeanObserver:
    """The mean of a layer's input over the samples: per position when every sample has the same shape (rows of
    the batch axis averaged), and always per channel (`channel_axis`) as the fallback."""

    def __init__(self, channel_axis: int) -> None:
        self.channel_axis = channel_axis
        self.sum: np.ndarray | None = None
        self.rows = 0
        self.stable = True
        self.first_shape: tuple[int, ...] | None = None
        self.channel_sum: np.ndarray | None = None
        self.channel_count = 0

    def update(self, x: np.ndarray) -> None:
        if x.ndim < 2 or not 0 < self.channel_axis < x.ndim:
            self.stable = False
            return
        x64 = x.astype(np.float64)
        rest = tuple(a for a in range(x.ndim) if a != self.channel_axis)
        csum = x64.sum(axis=rest)
        if self.first_shape is None:
            self.first_shape = tuple(x.shape[1:])
            self.sum = x64.sum(axis=0)
            self.channel_sum = csum
        else:
            if self.stable and tuple(x.shape[1:]) == self.first_shape and self.sum is not None:
                self.sum += x64.sum(axis=0)
            else:
                self.stable = False
                self.sum = None
            if self.channel_sum is not None and csum.shape == self.channel_sum.shape:
                self.channel_sum += csum
            else:
                self.channel_sum = None
        self.rows += x.shape[0]
        self.channel_count += x.size // max(x.shape[self.channel_axis], 1)

    def representative(self) -> np.ndarray | None:
        """A batch-1 input whose layer output averages like the real outputs (None when nothing usable)."""
        if self.first_shape is None or self.rows == 0:
            return None
        if self.stable and self.sum is not None:
            return (self.sum / self.rows)[None]
        if self.channel_sum is None or self.channel_count == 0:
            return None
        mean = self.channel_sum / self.channel_count
        shape = [1, *self.first_shape]
        view = [1] * len(shape)
        view[self.channel_axis] = mean.size
        return np.broadcast_to(mean.reshape(view), shape).copy()
