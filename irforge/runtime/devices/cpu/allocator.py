"""Keeping activation memory mapped between inferences.

torch allocates CPU tensors with malloc. glibc serves large blocks with mmap, or from the heap and trims the freed
top of the heap back to the OS; either way a model whose activations are megabytes each pays a page fault per 4 KiB
on every inference (YOLO at 640x640: ~4600 faults, ~15% of its time). OpenVINO avoids this with its own static
memory plan. Here the CPU device raises glibc's mmap threshold to its maximum (32 MiB) and its trim threshold to
1 GiB once, process-wide, so freed activations stay mapped and the next inference reuses them. Set
IRFORGE_CPU_MALLOPT=0 to leave malloc alone (e.g. where the process must return memory to the OS)."""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator() -> bool:
    """Apply the malloc settings once (glibc on Linux only); True when they are in effect."""
    global _done
    if _done:
        return True
    if os.environ.get("IRFORGE_CPU_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok
