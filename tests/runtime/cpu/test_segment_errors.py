"""A step that fails inside a traced segment is named in the error (node name, op type, exec type), whether the
segment runs eagerly or compiled: the plan used to name the segment's first step."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from irforge.errors import GraphError
from irforge.runtime.devices.cpu import segments as seg
from irforge.runtime.devices.cpu.plan import OutputSpec, Plan, Step


def _step(name: str, type_: str, exec_type: str, fn: Callable[..., Any], ins: tuple[int, ...], out: int) -> Step:
    return Step(name, type_, exec_type, fn, ins, (out,), False, trace_fn=fn)


def _plan() -> Plan:
    """x (slot 0), idx (slot 1) -> relu -> *2 -> index_select(., 0, idx) -> +1: the 3rd step fails when idx is out
    of range, which a trace made with valid indices cannot know."""
    steps = [
        _step("conv", "Convolution", "onednn_conv_f32", torch.relu, (0,), 2),
        _step("scale", "Multiply", "torch_multiply", lambda a: a * 2.0, (2,), 3),
        _step("pick", "Gather", "torch_gather", lambda a, i: torch.index_select(a, 0, i), (3, 1), 4),
        _step("shift", "Add", "torch_add", lambda a: a + 1.0, (4,), 5),
    ]
    segments = seg.find_segments(steps, {5})
    assert [(s.start, s.stop) for s in segments] == [(0, 4)]
    return Plan(steps, 6, [0, 1], [OutputSpec(5, None, True, np.dtype(np.float32))], segments)


X = np.arange(12, dtype=np.float32).reshape(4, 3) - 5
GOOD = np.array([3, 0], np.int64)
BAD = np.array([1, 7], np.int64)


@pytest.fixture(autouse=True)
def _graph_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRFORGE_CPU_GRAPH", raising=False)
    # a tiny segment may time slower compiled than eager: keep the compiled path whatever the timing
    monkeypatch.setattr(seg, "SLOWER_LIMIT", float("inf"))


def _expect_third_step(plan: Plan, inputs: list[np.ndarray]) -> None:
    with torch.inference_mode(), pytest.raises(GraphError) as info:
        plan.run(inputs)
    message = str(info.value)
    assert message.startswith("node 'pick' (Gather, torch_gather) failed"), message
    assert "index" in message.lower(), message


def test_failing_step_is_named_when_the_segment_runs_compiled() -> None:
    plan = _plan()
    with torch.inference_mode():
        (y,) = plan.run([X, GOOD])
    np.testing.assert_array_equal(y, np.maximum(X, 0)[[3, 0]] * 2 + 1)
    (segment,) = plan.segments
    assert segment.state == "compiled" and segment.pieces is not None
    assert any(p.eager is None for p in segment.pieces)
    _expect_third_step(plan, [X, BAD])
    with torch.inference_mode():  # the failed run left nothing behind: the plan still runs
        np.testing.assert_array_equal(plan.run([X, GOOD])[0], y)


def test_failing_step_is_named_when_the_segment_runs_eagerly() -> None:
    plan = _plan()
    _expect_third_step(plan, [X, BAD])  # the first run: tracing fails, the segment stays eager
    (segment,) = plan.segments
    assert segment.state == "eager"
    _expect_third_step(plan, [X, BAD])


def test_failing_step_is_named_in_a_profiled_run() -> None:
    plan = _plan()
    with torch.inference_mode(), pytest.raises(GraphError, match=r"^node 'pick' \(Gather, torch_gather\) failed"):
        plan.run_profiled([X, BAD])
