"""The streaming observers equal the same statistics computed on all the data at once."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.quantization.ranges import estimate
from irforge.quantization.statistics import MeanObserver, RangeObserver, StreamingHistogram


def _batches(seed: int = 0, size: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    # widening spread, so the histogram's range has to grow several times
    return [(rng.standard_normal((4, 3, size, size)) * (1 + i)).astype(np.float32) + i * 0.1 for i in range(12)]


def test_minmax_and_mean_minmax_per_sample() -> None:
    batches = _batches()
    obs = RangeObserver()
    for b in batches:
        obs.update(b, samples=len(b))  # 4 samples stacked
    data = np.concatenate(batches)
    per = data.reshape(len(data), -1)
    assert obs.min == data.min() and obs.max == data.max()
    assert obs.samples == len(data)
    assert obs.mean_min() == pytest.approx(per.min(1).mean(), rel=1e-6)
    assert obs.mean_max() == pytest.approx(per.max(1).mean(), rel=1e-6)


def test_one_sample_per_update_equals_stacked() -> None:
    one, stacked = RangeObserver(), RangeObserver()
    for b in _batches(1):
        stacked.update(b, len(b))
        for row in b:
            one.update(row[None], 1)
    assert (one.min, one.max, one.samples) == (stacked.min, stacked.max, stacked.samples)
    assert one.mean_max() == pytest.approx(stacked.mean_max(), rel=1e-6)


@pytest.mark.parametrize("q", [1e-3, 0.01, 0.5, 0.99, 1 - 1e-3])
def test_streaming_histogram_quantiles(q: float) -> None:
    batches = _batches(2, size=40)  # 230k values
    hist = StreamingHistogram()
    for b in batches:
        hist.update(b)
    data = np.concatenate([b.reshape(-1) for b in batches])
    width = (hist.hi - hist.lo) / hist.bins
    assert hist.total == data.size and hist.counts.sum() == data.size
    # growth re-bins old counts by bin centre: a few bins of slack per growth
    assert abs(hist.quantile(q) - np.quantile(data, q)) <= 8 * width


def test_quantile_estimator_clips_outliers() -> None:
    rng = np.random.default_rng(3)
    obs = RangeObserver(histogram=True)
    for _ in range(10):
        x = rng.standard_normal((1, 10000)).astype(np.float32)
        x[0, 0] = 1000.0  # one outlier per sample
        obs.update(x, 1)
    low, high = estimate(obs, "quantile", 1e-4)
    assert obs.max == 1000.0 and 2.5 < high < 6.0 and -6.0 < low < -2.5
    assert estimate(obs, "minmax") == (obs.min, 1000.0)


def test_mean_observer_per_position_and_per_channel() -> None:
    batches = _batches(4)
    obs = MeanObserver(channel_axis=1)
    for b in batches:
        obs.update(b)
    rep = obs.representative()
    assert rep is not None and rep.shape == (1, 3, 5, 5)
    np.testing.assert_allclose(rep[0], np.concatenate(batches).mean(0), rtol=1e-6, atol=1e-6)
    varying = MeanObserver(channel_axis=1)
    varying.update(batches[0])
    varying.update(batches[1][:, :, :4, :4])  # another spatial size: only the per-channel mean stays usable
    rep = varying.representative()
    assert rep is not None and rep.shape == (1, 3, 5, 5)
    flat = np.concatenate([batches[0].transpose(1, 0, 2, 3).reshape(3, -1),
                           batches[1][:, :, :4, :4].transpose(1, 0, 2, 3).reshape(3, -1)], axis=1)
    np.testing.assert_allclose(rep[0, :, 2, 2], flat.mean(1), rtol=1e-6)
