"""A textual progress bar on stderr: `label [#######.............]  35%  7/20  1.2s`, redrawn in place at most ten
times a second on a terminal, written once when done otherwise (logs stay readable)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and self._tty:
            now = time.perf_counter()
            if now - self._last >= 0.1:
                self._last = now
                self._draw("\r")

    def close(self) -> None:
        if self.enabled:
            self._draw("\r" if self._tty else "")
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, prefix: str) -> None:
        elapsed = time.perf_counter() - self.start
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 20) + "." * (20 - int(frac * 20))
            text = f"{self.label} [{bar}] {frac * 100:3.0f}%  {self.done}/{self.total}  {elapsed:.1f}s"
        else:
            text = f"{self.label}  {self.done}  {elapsed:.1f}s"
        self.stream.write(prefix + text)
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
