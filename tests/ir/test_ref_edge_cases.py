"""REF kernels on edge cases the CPU device's differential test (tests/runtime/cpu/test_lowering_differential.py)
found: the output dtype and shape are the IR's, not what NumPy's promotion or broadcasting makes of them."""
from __future__ import annotations

import ml_dtypes
import numpy as np

from tests.runtime.cpu.helpers import graph, op
from tests.util import run_ref


def test_clamp_keeps_bf16() -> None:
    x = np.array([[-3, 0.5, 3]], ml_dtypes.bfloat16)
    (got,) = run_ref(graph(lambda v: op("Clamp", v, min=-1.0, max=1.0), x), [x])
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got.astype(np.float32), [[-1, 0.5, 1]])


def test_prelu_slope_of_higher_rank_keeps_the_data_shape() -> None:
    x = np.array(-2.0, np.float32)
    (got,) = run_ref(graph(lambda v: op("PRelu", v, np.array([0.5], np.float32)), x), [x])
    assert got.shape == () and got == -1.0


def test_gather_with_empty_indices() -> None:
    x = np.ones((3, 4), np.float32)
    (got,) = run_ref(graph(lambda v: op("Gather", v, np.zeros((0, 2), np.int64), np.array(0)), x), [x])
    assert got.shape == (0, 2, 4)
