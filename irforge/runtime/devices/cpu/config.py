"""The CPU device's reading of the compile_model configuration, and what it reports back in `properties`.

INFERENCE_PRECISION_HINT: f32 or bf16 (aliases fp32/float32/bfloat16). Default: bf16 where the CPU has native
bf16 arithmetic (avx512_bf16 or AMX, as OpenVINO decides), else f32. An explicit bf16 on a CPU where oneDNN has no
bf16 kernels at all (AVX2 only) falls back to f32 and is reported as f32, as OpenVINO's CPU plugin does: bf16 there
could only be emulated (bf16-rounded values, f32 arithmetic), slower than f32 and less accurate. IRFORGE_CPU_BF16=
emulate keeps the emulation (to see bf16 numerics on such a machine; the tests use it). INFERENCE_NUM_THREADS: threads for one
inference (0 or absent: every core this process may run on). PERFORMANCE_HINT (LATENCY | THROUGHPUT) and
NUM_STREAMS (a positive integer or AUTO) are validated and reported; the runtime (core.py) owns streams. CACHE_DIR:
a directory for the native executor's packed weights (native/cache.py; empty: none)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from irforge.errors import OptionError
from irforge.runtime import host

_PRECISIONS = {"f32": "f32", "fp32": "f32", "float32": "f32", "bf16": "bf16", "bfloat16": "bf16"}
_HINTS = ("LATENCY", "THROUGHPUT")


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of this machine (host.py reads them once; empty where unknown). Read through `host` at
    every call, so one place decides what the CPU has (the tests simulate other CPUs by patching host.cpu_flags)."""
    return host.cpu_flags()


def has_native_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (OpenVINO's condition for defaulting to bf16)."""
    if host.has_native_bf16():
        return True
    if cpu_flags():  # the flags are known and name neither avx512_bf16 nor amx_bf16
        return False
    import torch

    try:  # no /proc/cpuinfo: ask torch's CPU capability probe
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


@lru_cache(maxsize=1)
def onednn_bf16_kernels() -> bool:
    """Whether torch's oneDNN kernels accept bf16 tensors here (avx512bw/vl/dq or avx_ne_convert); without them
    bf16 is emulated: bf16-rounded weights and activations, f32 arithmetic."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_emulation_requested() -> bool:
    """IRFORGE_CPU_BF16=emulate: honour the bf16 hint on CPUs without bf16 kernels by emulating it."""
    return os.environ.get("IRFORGE_CPU_BF16", "").strip().lower() == "emulate"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CPUConfig:
    precision: str  # "f32" | "bf16"
    threads: int
    hint: str
    streams: int
    cache_dir: str = ""  # CACHE_DIR: where native plans keep their packed weights ("" : no cache)

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    @property
    def bf16_native(self) -> bool:
        """bf16 kernels (True) or emulation with f32 kernels on bf16-rounded values (False)."""
        return self.bf16 and onednn_bf16_kernels()

    def properties(self) -> dict[str, str]:
        return {"INFERENCE_PRECISION_HINT": self.precision, "INFERENCE_NUM_THREADS": str(self.threads),
                "PERFORMANCE_HINT": self.hint, "NUM_STREAMS": str(self.streams)}


def _positive_int(key: str, text: str, minimum: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise OptionError(f"CPU config {key}: expected an integer, got '{text}'") from None
    if value < minimum:
        raise OptionError(f"CPU config {key}: expected an integer >= {minimum}, got {value}")
    return value


def parse_config(config: Mapping[str, str]) -> CPUConfig:
    """Read the keys the CPU device uses (others are ignored); OptionError names a bad key and value."""
    cfg = {str(k): str(v) for k, v in config.items()}
    raw = cfg.get("INFERENCE_PRECISION_HINT", "").strip().lower()
    if raw:
        if raw not in _PRECISIONS:
            raise OptionError(f"CPU config INFERENCE_PRECISION_HINT: expected f32 or bf16, got '{raw}'")
        precision = _PRECISIONS[raw]
        if precision == "bf16" and not onednn_bf16_kernels() and not bf16_emulation_requested():
            precision = "f32"
    else:
        precision = "bf16" if has_native_bf16() else "f32"
    threads = _positive_int("INFERENCE_NUM_THREADS", cfg.get("INFERENCE_NUM_THREADS", "0"), 0) or available_cores()
    hint = cfg.get("PERFORMANCE_HINT", "LATENCY").strip().upper() or "LATENCY"
    if hint not in _HINTS:
        raise OptionError(f"CPU config PERFORMANCE_HINT: expected LATENCY or THROUGHPUT, got '{hint}'")
    raw_streams = cfg.get("NUM_STREAMS", "").strip().upper()
    if raw_streams and raw_streams != "AUTO":
        streams = _positive_int("NUM_STREAMS", raw_streams, 1)
    elif hint == "THROUGHPUT" or raw_streams == "AUTO":
        streams = max(1, min(threads, available_cores()))
    else:
        streams = 1
    return CPUConfig(precision, threads, hint, streams, cfg.get("CACHE_DIR", "").strip())
