"""The line every benchmark prints first: the CPU model and the ISA extensions that decide kernels (read by
irforge.runtime.host from /proc/cpuinfo, the same flags `lscpu` prints)."""
from __future__ import annotations

import os

from irforge.runtime import host

_ISA_PREFIXES = ("sse4_2", "avx", "fma", "f16c", "amx")


def cpu_description() -> str:
    isa = sorted(f for f in host.cpu_flags() if f.startswith(_ISA_PREFIXES))
    return f"CPU: {host.cpu_name()}, {os.cpu_count()} logical CPUs; ISA: {' '.join(isa) or 'unknown'}"
