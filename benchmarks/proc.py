"""The process's own memory figures, from /proc/self/status (standard library only: a benchmark child imports it
before it starts timing its runtime's import)."""
from __future__ import annotations


def status_mib(key: str) -> float:
    """A /proc/self/status field in MiB (VmRSS, VmHWM); NaN where the field is absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")
