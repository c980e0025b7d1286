"""FakeQuantize on REF equals the operation spec's formula, written out per element in plain Python:
x <= min(il, ih) -> ol; x > max(il, ih) -> oh; else round((x - il) / (ih - il) * (levels - 1)) / (levels - 1)
* (oh - ol) + ol (round: halves to even). Also checked against OpenVINO where no value sits on a rounding tie."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from tests.util import run_openvino, run_ref


def _spec(x: float, il: float, ih: float, ol: float, oh: float, levels: int) -> float:
    if x <= min(il, ih):
        return ol
    if x > max(il, ih):
        return oh
    return round((x - il) / (ih - il) * (levels - 1)) / (levels - 1) * (oh - ol) + ol


def _model(shape: tuple[int, ...], ranges: list[np.ndarray], levels: int, et: Type = Type.f32) -> Model:
    x = parameter(et, list(shape), "x")
    consts = [constant(np.asarray(r, et.dtype)) for r in ranges]
    fq = make("FakeQuantize", [x.output(0), *consts], levels=levels)
    return Model([result(fq.output(0))], [x])


CASES = {
    "u8": ((0.0, 6.0, 0.0, 6.0), 256),
    "i8 symmetric": ((-2.0 * 128 / 127, 2.0, -2.0 * 128 / 127, 2.0), 256),
    "narrow weights": ((-1.0, 1.0, -1.0, 1.0), 255),
    "binary": ((-0.5, 0.5, -1.0, 1.0), 2),
    "output range differs": ((-1.0, 3.0, 10.0, 20.0), 17),
    "inverted output": ((0.0, 4.0, 1.0, -1.0), 9),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_tensor_matches_spec(case: str) -> None:
    (il, ih, ol, oh), levels = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.uniform(min(il, ih) - 1.5, max(il, ih) + 1.5, (4, 64)).astype(np.float32)
    above = np.nextafter(np.float32(max(il, ih)), np.float32(np.inf))
    below = np.nextafter(np.float32(min(il, ih)), np.float32(-np.inf))
    x[0, :4] = [il, ih, above, below]
    ranges = [np.float32(v) for v in (il, ih, ol, oh)]
    got = run_ref(_model(x.shape, ranges, levels), [x])[0]
    want = np.array([_spec(float(v), *(float(r) for r in ranges), levels) for v in x.reshape(-1)]).reshape(x.shape)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * max(abs(ol), abs(oh), 1.0))
    assert len(np.unique(got)) <= levels
    ov = run_openvino(_model(x.shape, ranges, levels), [x])[0]
    step = abs(oh - ol) / (levels - 1)
    assert np.mean(np.abs(ov - got) > 1e-5 * max(abs(oh), abs(ol), 1)) < 0.02  # ties may round the other way
    assert np.all(np.abs(ov - got) <= step + 1e-5)


def test_per_channel_ranges_match_spec() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (2, 3, 4, 4)).astype(np.float32)
    il = np.array([-1.0, -2.0, 0.0], np.float32).reshape(3, 1, 1)
    ih = np.array([1.0, 2.5, 0.5], np.float32).reshape(3, 1, 1)
    ol, oh = il * 2, ih * 2
    got = run_ref(_model(x.shape, [il, ih, ol, oh], 256), [x])[0]
    want = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        c = idx[1]
        want[idx] = _spec(float(x[idx]), float(il[c, 0, 0]), float(ih[c, 0, 0]), float(ol[c, 0, 0]),
                          float(oh[c, 0, 0]), 256)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_ties_round_half_to_even_and_f16_data() -> None:
    # il 0, ih 4, levels 5: integers are levels, x = k + 0.5 is a tie
    x = np.array([0.5, 1.5, 2.5, 3.5, 1.49, 2.51], np.float32)
    got = run_ref(_model(x.shape, [np.float32(v) for v in (0, 4, 0, 4)], 5), [x])[0]
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, 4.0, 1.0, 3.0])
    xh = x.astype(np.float16)
    got16 = run_ref(_model(x.shape, [np.float16(v) for v in (0, 4, 0, 4)], 5, Type.f16), [xh])[0]
    assert got16.dtype == np.float16
    np.testing.assert_array_equal(got16, [0.0, 2.0, 2.0, 4.0, 1.0, 3.0])
