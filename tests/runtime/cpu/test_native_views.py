"""values.reshaped_strides, the native executor's no-copy reshape, against NumPy's own: on any transposed array and
any new shape of the same size it gives strides reading NumPy's reshape result, and it finds a view exactly where
NumPy does (a reshape the executor makes a view must never read the wrong elements: a class of silent bugs)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from irforge.runtime.devices.cpu.native.values import reshaped_strides


@st.composite
def _cases(draw: st.DrawFn) -> tuple[tuple[int, ...], list[int], tuple[int, ...]]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=5)))
    perm = draw(st.permutations(range(len(shape))))
    size = int(np.prod(shape))
    dims: list[int] = []
    rest = size
    while rest > 1:
        d = draw(st.sampled_from([k for k in range(2, rest + 1) if rest % k == 0]))
        dims.append(d)
        rest //= d
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    return shape, list(perm), tuple(dims) or (1,)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(_cases())
def test_reshaped_strides_agree_with_numpy(case: tuple[tuple[int, ...], list[int], tuple[int, ...]]) -> None:
    shape, perm, new = case
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    a = base.transpose(perm)
    got = reshaped_strides(a.shape, tuple(s // 4 for s in a.strides), new)
    probe = a.view()
    try:
        probe.shape = new  # NumPy raises where the reshape needs a copy
        numpy_view = True
    except AttributeError:
        numpy_view = False
    assert (got is not None) == numpy_view, (shape, perm, new, got)
    if got is not None:
        view = np.lib.stride_tricks.as_strided(base, new, tuple(s * 4 for s in got))
        np.testing.assert_array_equal(view, a.reshape(new))
