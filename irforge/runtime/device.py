"""The contract between the runtime API (`core.py`) and a device (`devices/<name>`).

A device is a factory `make(model, config) -> Executable`, called once per `compile_model`. The Executable holds
everything computed at compile time (the execution plan, prepacked weights, chosen precisions) and is shared by
all infer requests of the compiled model. Per-request state (intermediate buffers, profiling counters) lives in a
Runner: `create_runner()` is called once per infer request (and per stream), and different runners of one
Executable may run at the same time in different threads.

`config` holds the compile_model configuration as strings under OpenVINO's property names:
PERFORMANCE_HINT (LATENCY | THROUGHPUT), INFERENCE_PRECISION_HINT (f32 | bf16), NUM_STREAMS,
INFERENCE_NUM_THREADS. A device ignores keys it has no use for and raises `OptionError` for values it cannot
honour. `properties` reports what the device chose, under the same names (strings).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import numpy as np


@dataclass
class PerfCount:
    """One executed step of a runner's last profiled inference (OpenVINO's ProfilingInfo)."""

    node_name: str
    node_type: str
    exec_type: str  # how it ran, e.g. "onednn_conv+relu_f32", "ref"
    seconds: float

    # OpenVINO's ProfilingInfo fields
    @property
    def real_time(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    @property
    def cpu_time(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    status = "EXECUTED"


class Runner(Protocol):
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Inputs in the model's Parameter order (already checked); outputs in Result order. The returned arrays
        belong to the caller (a later run must not overwrite them)."""
        ...

    def perf_counts(self) -> list[PerfCount]:
        """Per-step timings of the last run made while profiling was on (empty when it was off)."""
        ...


class Executable(Protocol):
    properties: Mapping[str, str]

    def create_runner(self, profile: bool = False, threads: int | None = None) -> Runner:
        """A new runner. `threads`: how many intra-op threads its runs may use (None: the executable's
        INFERENCE_NUM_THREADS); the runner applies it itself in whatever thread calls `run` (THROUGHPUT streams
        each own one runner with their share of the cores)."""
        ...
