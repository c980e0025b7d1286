"""The measuring loop of `irforge benchmark`, shared by every runtime it compares: one first inference, a warm-up
of every request, then N inferences or T seconds (synchronous with one request, asynchronous with several),
latency statistics, and a textual progress bar on stderr."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import numpy as np


class Engine(Protocol):
    """One runtime ready to run the benchmark's inputs."""

    label: str
    nireq: int

    def infer(self) -> None:
        """One synchronous inference."""

    def start(self, done: Callable[[float], None]) -> None:
        """Start one asynchronous inference (blocking while every request is busy); `done(latency_seconds)`
        is called when it finished."""

    def wait_all(self) -> None:
        """Wait for every started inference; re-raise an error one of them raised."""

    def begin(self) -> None:
        """Called once the warm-up is over, before the measured inferences."""

    def outputs(self) -> list[np.ndarray]:
        """The outputs of one inference of the benchmark's inputs, in irforge's output order."""


@dataclass
class Measurement:
    first_s: float
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    batch: int = 1

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    def latency_ms(self) -> dict[str, float]:
        ms = np.asarray(self.latencies_s, np.float64) * 1000.0
        if ms.size == 0:
            return {k: float("nan") for k in ("median", "average", "min", "max", "p90", "p99")}
        return {"median": float(np.median(ms)), "average": float(ms.mean()), "min": float(ms.min()),
                "max": float(ms.max()), "p90": float(np.percentile(ms, 90)), "p99": float(np.percentile(ms, 99))}

    @property
    def fps(self) -> float:
        """Inputs (batch items) per second over the measured run: count * batch / duration."""
        return self.count * self.batch / self.duration_s if self.duration_s > 0 else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "duration_ms": self.duration_s * 1000.0, "first_inference_ms": self.first_s * 1000.0,
                "latency_ms": self.latency_ms(), "throughput_fps": self.fps, "batch": self.batch}


class Progress:
    """`label [#######.............]  35%  7/20` on one stderr line, redrawn at most ten times a second."""

    def __init__(self, label: str, iterations: int | None, seconds: float | None, stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.label, self.iterations, self.seconds, self.width = label, iterations, seconds, width
        self.stream = stream or sys.stderr
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())  # redraws only on a terminal
        self._last = 0.0

    def update(self, done: int, elapsed: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and (not self._live or now - self._last < 0.1):
            return
        self._last = now
        if self.iterations:
            frac, detail = done / self.iterations, f"{done}/{self.iterations}"
        else:
            frac, detail = elapsed / (self.seconds or 1.0), f"{elapsed:.1f}/{self.seconds:g} s, {done} done"
        frac = min(1.0, max(0.0, frac))
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        prefix = "\r" if self._live else ""
        self.stream.write(f"{prefix}{self.label} [{bar}] {frac * 100:3.0f}%  {detail}")
        self.stream.flush()

    def finish(self, done: int, elapsed: float) -> None:
        self.update(done, elapsed, force=True)
        self.stream.write("\n")
        self.stream.flush()


def measure(engine: Engine, iterations: int | None, seconds: float | None, batch: int,
            progress: Progress | None = None) -> Measurement:
    """Run `engine` for `iterations` inferences or `seconds` (after the first inference and a warm-up of each
    request, neither counted)."""
    t = time.perf_counter()
    engine.infer()
    first = time.perf_counter() - t
    if engine.nireq > 1:
        for _ in range(engine.nireq):
            engine.start(lambda _: None)
        engine.wait_all()
    engine.begin()
    latencies: list[float] = []
    started = 0
    start = time.perf_counter()

    def more() -> bool:
        return started < iterations if iterations else time.perf_counter() - start < (seconds or 0.0)

    if engine.nireq == 1:
        while more():
            t = time.perf_counter()
            engine.infer()
            latencies.append(time.perf_counter() - t)
            started += 1
            if progress:
                progress.update(started, time.perf_counter() - start)
    else:
        while more():
            engine.start(latencies.append)
            started += 1
            if progress:
                progress.update(started, time.perf_counter() - start)
        engine.wait_all()
    duration = time.perf_counter() - start
    if progress:
        progress.finish(started, duration)
    return Measurement(first, duration, latencies, batch)
