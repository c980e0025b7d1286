"""CPURunner: runs plans of one CPUExecutable in the calling thread with its own intra-op thread count.

torch keeps the intra-op (OpenMP) thread count per OS thread once that thread has run a parallel op, so the
runner sets it in the thread that calls `run`, before each run, when it differs (see the package docstring): the
runner's own count, or 1 for a plan too small to split (executable.py)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from irforge.runtime.device import PerfCount

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.executable import CPUExecutable


class CPURunner:
    def __init__(self, executable: "CPUExecutable", profile: bool, threads: int) -> None:
        self.executable = executable
        self.profile = profile
        self.threads = max(1, int(threads))
        self._counts: list[PerfCount] = []

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        plan = self.executable.plan_for(inputs, self.threads)
        if torch.get_num_threads() != plan.threads:  # the runner's count, or 1 for a small plan (executable.py)
            torch.set_num_threads(plan.threads)
        with torch.inference_mode():
            if self.profile:
                outs, self._counts = plan.run_profiled(inputs)
                return outs
            return plan.run(inputs)

    def perf_counts(self) -> list[PerfCount]:
        return list(self._counts)
