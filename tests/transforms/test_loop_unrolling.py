"""UnrollSmallLoops: a Loop/TensorIterator with a small known iteration count becomes copies of its body (the CPU
device runs the pass on each plan); the unrolled graph computes what the op computes, on REF, and a loop whose
count is unknown, zero or above the limit is left alone."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.ir.clone import clone_model
from irforge.ir.graph import Model
from irforge.transforms import loop_unrolling
from irforge.transforms.loop_unrolling import UnrollSmallLoops
from tests.ir.test_ops_control import _tensor_iterator
from tests.util import assert_close, run_ref


def _loops(model: Model) -> int:
    return sum(n.type in ("Loop", "TensorIterator") for n in model.nodes())


@pytest.mark.parametrize("stride", [1, -1])
def test_tensor_iterator_unrolls_to_its_body_copies(stride: int) -> None:
    model = _tensor_iterator(stride)
    inputs = [np.random.default_rng(1).standard_normal(tuple(p.get_shape())).astype(np.float32)
              for p in model.inputs]
    want = run_ref(model, inputs)
    unrolled, _ = clone_model(model)
    assert UnrollSmallLoops().run(unrolled)
    assert _loops(unrolled) == 0
    assert sum(n.type == "Add" for n in unrolled.nodes()) == 5  # one body copy per slice of the 5-step input
    assert_close(run_ref(unrolled, inputs), want, rtol=0, atol=0)


def test_above_the_limit_the_loop_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_unrolling, "MAX_ITERATIONS", 4)
    model = _tensor_iterator(1)
    assert not UnrollSmallLoops().run(model)
    assert _loops(model) == 1
