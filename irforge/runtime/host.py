"""Facts about the host CPU the runtime plans for: usable cores, ISA flags, name (Linux /proc/cpuinfo, with
portable fallbacks). Read once and cached."""
from __future__ import annotations

import functools
import os
import platform


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> list[dict[str, str]]:
    """One dict per logical processor of /proc/cpuinfo (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    procs = []
    for block in text.split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                entry[key.strip()] = value.strip()
        if "processor" in entry:
            procs.append(entry)
    return procs


def _usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


@functools.lru_cache(maxsize=1)
def logical_cpus() -> int:
    """Logical processors this process may run on."""
    return max(1, len(_usable_cpus()))


@functools.lru_cache(maxsize=1)
def physical_cores() -> int:
    """Physical cores among the usable processors (hyper-threads not counted, as OpenVINO's CPU plugin does by
    default); the logical count where the topology is unknown."""
    usable = _usable_cpus()
    cores = set()
    for p in _cpuinfo():
        try:
            if int(p["processor"]) not in usable:
                continue
        except (KeyError, ValueError):
            continue
        if "core id" not in p:
            return logical_cpus()
        cores.add((p.get("physical id", "0"), p["core id"]))
    return max(1, len(cores)) if cores else logical_cpus()


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """ISA flags of the first processor (e.g. avx2, avx512f, avx512_bf16, amx_bf16)."""
    procs = _cpuinfo()
    return frozenset(procs[0].get("flags", "").split()) if procs else frozenset()


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    procs = _cpuinfo()
    name = procs[0].get("model name", "") if procs else ""
    return name or platform.processor() or platform.machine() or "CPU"


def has_native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16): where OpenVINO's CPU plugin makes bf16
    its default inference precision."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def has_int8_dot_product() -> bool:
    """Whether the CPU multiplies u8 x s8 pairs without 16-bit saturation (AVX512-VNNI, AVX-VNNI or AMX-INT8).
    Without it, x86 INT8 kernels (oneDNN's, fbgemm's, OpenVINO's) saturate products of 8-bit weights. An unknown
    CPU (no flags readable) counts as having it."""
    flags = cpu_flags()
    return not flags or bool({"avx512_vnni", "avx_vnni", "amx_int8"} & flags)
