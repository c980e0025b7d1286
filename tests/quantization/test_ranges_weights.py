"""Range and weight arithmetic: the FakeQuantize ranges each preset writes and the i8 weights."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.ir.ops.quantization import fake_quantize
from irforge.quantization.ranges import LEVELS, fq_range, unify
from irforge.quantization.weights import quantize_weight


def test_nonnegative_tensor_gets_u8_range() -> None:
    r = fq_range(0.0, 6.0, "performance", nonnegative=True)
    assert (r.low, r.high, r.levels) == (0.0, 6.0, 256)


def test_symmetric_range_has_zero_on_grid() -> None:
    r = fq_range(-1.0, 3.0, "performance", nonnegative=False)
    assert r.high == 3.0 and r.low == pytest.approx(-3.0 * 128 / 127)
    step = (r.high - r.low) / (LEVELS - 1)
    assert (0.0 - r.low) / step == pytest.approx(128.0)
    x = np.array([0.0, 3.0, -3.0 * 128 / 127, 1e-9], np.float32)
    out = fake_quantize(x, *(np.float32(v) for v in (r.low, r.high, r.low, r.high)), levels=256)
    assert abs(out[0]) < 1e-6 and abs(out[3]) < 1e-6  # zero is a level (up to f32 rounding of the range)


@pytest.mark.parametrize("low,high", [(-0.3, 5.0), (-4.0, 0.7), (-1e-3, 1e-3)])
def test_asymmetric_range_puts_zero_on_a_level(low: float, high: float) -> None:
    r = fq_range(low, high, "mixed", nonnegative=False)
    step = (r.high - r.low) / (LEVELS - 1)
    assert abs(r.low - low) <= step and abs(r.high - high) <= step  # the zero point is rounded: < 1 step moves
    zero_level = -r.low / step
    assert zero_level == pytest.approx(round(zero_level), abs=1e-6)


def test_unify_covers_every_input() -> None:
    r = unify([(0.0, 2.0, True), (0.0, 5.0, True), (0.0, 1.0, True)], "performance")
    assert (r.low, r.high) == (0.0, 5.0)
    r = unify([(0.0, 2.0, True), (-1.0, 1.0, False)], "performance")
    assert r.low < 0.0 and r.high == 2.0


def test_weights_per_output_channel_narrow_range() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32) * np.arange(1, 9, dtype=np.float32).reshape(8, 1, 1, 1)
    w[5] = 0.0  # an all-zero channel
    qw = quantize_weight(w, (0,))
    assert qw.q.dtype == np.int8 and qw.scale.shape == (8, 1, 1, 1) and qw.levels == 255
    assert qw.q.min() >= -127 and qw.q.max() <= 127
    live = [c for c in range(8) if c != 5]
    assert np.all(np.abs(qw.q[live]).reshape(7, -1).max(1) == 127)
    assert np.all(qw.q[5] == 0) and np.all(np.isfinite(qw.scale))
    assert np.all(np.abs(qw.dequantized() - w) <= qw.scale / 2 + 1e-7)


def test_half_range_weights_and_matmul_axes() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 10)).astype(np.float32)  # MatMul B [K, N]: channels on the last axis
    qw = quantize_weight(w, (1,), half_range=True)
    assert qw.scale.shape == (1, 10) and qw.levels == 127
    assert np.all(np.abs(qw.q).max(0) == 63)


@pytest.mark.parametrize(("vnni", "want"), [(True, "first_layer"), (False, "enable")])
def test_overflow_fix_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch, vnni: bool, want: str) -> None:
    """auto: 7-bit weights everywhere where INT8 kernels saturate 8-bit products (no VNNI/AMX), NNCF's
    first-layer fix elsewhere; an explicit choice is kept."""
    from irforge.quantization.options import QuantizationOptions
    from irforge.runtime import host

    monkeypatch.setattr(host, "has_int8_dot_product", lambda: vnni)
    assert QuantizationOptions().overflow_fix == want
    assert QuantizationOptions(overflow_fix="disable").overflow_fix == "disable"
