"""The line every benchmark prints first: the CPU model and the ISA extensions that decide kernels (read by
irforge.runtime.host from /proc/cpuinfo, the same flags `lscpu` prints)."""
from __future__ import annotations

import os

from irforge.runtime import host

_ISA_PREFIXES = ("sse4_2", "avx", "fma", "f16c", "amx")


def threads_description() -> str:
    """GNU OpenMP's waiting settings (irforge's and torch's threads) and the load average: what decides how
    2-thread runs fare on a shared machine."""
    return (f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}, "
            f"load average at start {os.getloadavg()}")


def cpu_description() -> str:
    isa = sorted(f for f in host.cpu_flags() if f.startswith(_ISA_PREFIXES))
    return f"CPU: {host.cpu_name()}, {os.cpu_count()} logical CPUs; ISA: {' '.join(isa) or 'unknown'}"
