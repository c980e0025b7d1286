"""CPURunner: runs plans of one CPUExecutable in the calling thread with its own intra-op thread count.

torch keeps the intra-op (OpenMP) thread count per OS thread once that thread has run a parallel op, so the
runner sets it in the thread that calls `run`, before each run, when it differs (see the package docstring): the
runner's own count, or 1 for a plan too small to split (executable.py). Inference mode is per OS thread too: each
run enters it (with torch's C++ guard, a third of the cost of the `torch.inference_mode()` wrapper around it)
unless the calling thread already is in it (a body plan run by an If or Loop step of an outer plan).

A model of a few hundred microseconds pays the runner's fixed cost on every call, so `run` keeps the plan of the
last input shapes and compares shapes instead of building the executable's dict key. A runner may be shared by
threads (a control-flow body's runner serves every stream of the outer plan): the (shapes, plan) pair is one
tuple, read and replaced whole.

A native plan (native/) runs through a NativeRunner of this runner's own (its activation buffers and oneDNN
memory objects), made on the plan's first run here; torch is imported only when a torch plan runs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.runtime.device import PerfCount

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.executable import AnyPlan, CPUExecutable
    from irforge.runtime.devices.cpu.native.plan import NativeRunner
    from irforge.runtime.devices.cpu.plan import Plan


class _Torch:
    """torch's per-thread controls, bound on the first torch plan's run."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        # torch's C++ inference-mode guard as a context manager (what torch.inference_mode() wraps in Python)
        self.InferenceMode: Any = getattr(torch._C, "_InferenceMode", None) or (
            lambda enabled: torch.inference_mode(enabled))
        self.in_inference_mode = torch.is_inference_mode_enabled
        self.get_threads = torch.get_num_threads


_torch: _Torch | None = None


def _bind_torch() -> _Torch:
    global _torch
    _torch = _Torch()
    return _torch


class CPURunner:
    def __init__(self, executable: "CPUExecutable", profile: bool, threads: int) -> None:
        self.executable = executable
        self.profile = profile
        self.threads = max(1, int(threads))
        self._counts: list[PerfCount] = []
        self._last: tuple[tuple[Any, ...] | None, "AnyPlan | None"] = (None, None)  # the last input shapes, their plan
        self._native: dict[int, tuple["AnyPlan", "NativeRunner"]] = {}  # id(plan) -> (plan, its runner here)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        try:
            shapes = tuple([a.shape for a in inputs])
        except AttributeError:  # a Python value among them (np.shape reads it as an array)
            shapes = tuple([np.shape(a) for a in inputs])
        last_shapes, plan = self._last
        if shapes != last_shapes or plan is None:
            plan = self.executable.plan_for_shapes(shapes, self.threads)
            self._last = (shapes, plan)
        if plan.native:
            return self._run_native(plan, inputs)
        t = _torch or _bind_torch()
        if t.get_threads() != plan.threads:  # the runner's count, or 1 for a small plan (executable.py)
            t.torch.set_num_threads(plan.threads)
        if self.profile:
            with t.InferenceMode(True):
                outs, self._counts = plan.run_profiled(inputs)
            return outs
        if t.in_inference_mode():
            return plan.run(inputs)
        with t.InferenceMode(True):
            return plan.run(inputs)

    def _run_native(self, plan: "AnyPlan", inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        entry = self._native.get(id(plan))
        if entry is None or entry[0] is not plan:
            from irforge.runtime.devices.cpu.native.plan import NativeRunner

            entry = (plan, NativeRunner(plan))  # type: ignore[arg-type]
            if len(self._native) >= 4:  # runners of plans no longer used by this runner go (their buffers too)
                self._native.clear()
            self._native[id(plan)] = entry
        runner = entry[1]
        outs = runner.run(inputs, self.profile)
        if self.profile:
            self._counts = runner.counts
        return outs

    def perf_counts(self) -> list[PerfCount]:
        return list(self._counts)
