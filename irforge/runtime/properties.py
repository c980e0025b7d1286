"""compile_model configuration: OpenVINO's property names, their accepted values, and the stream plan the
runtime derives from them (how many streams, how many threads each)."""
from __future__ import annotations

import difflib
import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from irforge.errors import OptionError
from irforge.runtime import host

PERFORMANCE_HINT = "PERFORMANCE_HINT"
INFERENCE_PRECISION_HINT = "INFERENCE_PRECISION_HINT"
NUM_STREAMS = "NUM_STREAMS"
INFERENCE_NUM_THREADS = "INFERENCE_NUM_THREADS"
PERF_COUNT = "PERF_COUNT"
CACHE_DIR = "CACHE_DIR"
OPTIMAL_NUMBER_OF_INFER_REQUESTS = "OPTIMAL_NUMBER_OF_INFER_REQUESTS"

HINTS = ("LATENCY", "THROUGHPUT")
PRECISIONS = ("f32", "bf16")
_ACCEPTED = {
    PERFORMANCE_HINT: "LATENCY or THROUGHPUT",
    INFERENCE_PRECISION_HINT: "f32 or bf16",
    NUM_STREAMS: "a positive integer or AUTO",
    INFERENCE_NUM_THREADS: "a non-negative integer (0: all cores)",
    PERF_COUNT: "True/False (or YES/NO)",
    CACHE_DIR: "a directory path (empty: no cache)",
}
CONFIG_KEYS = tuple(_ACCEPTED)
_PRECISION_ALIASES = {"f32": "f32", "fp32": "f32", "float32": "f32", "bf16": "bf16", "bfloat16": "bf16"}


@dataclass(frozen=True)
class CompileConfig:
    """A validated compile_model configuration; None where the user left the choice to the runtime/device."""

    hint: str = "LATENCY"
    precision: str | None = None
    num_streams: int | None = None  # None: from the hint (AUTO)
    num_threads: int | None = None  # None: every physical core
    perf_count: bool = False
    cache_dir: str = ""  # CACHE_DIR: where compiled forms are kept ("" : nowhere)

    def merged(self, other: "CompileConfig", given: set[str]) -> "CompileConfig":
        """This config with the keys in `given` taken from `other` (Core.set_property defaults + call config)."""
        fields = {PERFORMANCE_HINT: "hint", INFERENCE_PRECISION_HINT: "precision", NUM_STREAMS: "num_streams",
                  INFERENCE_NUM_THREADS: "num_threads", PERF_COUNT: "perf_count", CACHE_DIR: "cache_dir"}
        values = {f: getattr(self, f) for f in fields.values()}
        values.update({fields[k]: getattr(other, fields[k]) for k in given})
        return CompileConfig(**values)


def _bad(key: str, value: object) -> OptionError:
    return OptionError(f"config {key}: expected {_ACCEPTED[key]}, got {value!r}")


def _text(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.name)
    return str(getattr(value, "name", value)) if not isinstance(value, (str, int, float)) else str(value)


def _int(key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool):
        raise _bad(key, value)
    if isinstance(value, (int, np.integer)):
        n = int(value)
    else:
        try:
            n = int(str(value).strip())
        except ValueError:
            raise _bad(key, value) from None
    if n < minimum:
        raise _bad(key, value)
    return n


def _precision(value: object) -> str:
    """f32/bf16 from a string (f32, FP32, float32, bf16, bfloat16), an irforge element type or a NumPy dtype."""
    if not isinstance(value, str) and not hasattr(value, "is_float"):
        try:
            from irforge.ir.types import Type

            value = Type.from_dtype(np.dtype(value)).name  # type: ignore[call-overload]
        except (TypeError, ValueError):
            pass
    name = _PRECISION_ALIASES.get(_text(value).strip().lower())
    if name is None:
        raise _bad(INFERENCE_PRECISION_HINT, value)
    return name


def _bool(key: str, value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().upper()
    if text in ("YES", "TRUE", "1", "ON"):
        return True
    if text in ("NO", "FALSE", "0", "OFF"):
        return False
    raise _bad(key, value)


def parse_config(config: Mapping[Any, Any] | None) -> tuple[CompileConfig, set[str]]:
    """Validate a compile_model/set_property config; returns it and the keys it set. Keys are OpenVINO's property
    names (strings, case-sensitive like OpenVINO's); hint values are case-insensitive."""
    values: dict[str, Any] = {}
    given: set[str] = set()
    for raw_key, value in (config or {}).items():
        key = str(raw_key)
        if key not in _ACCEPTED:
            close = difflib.get_close_matches(key.upper(), CONFIG_KEYS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise OptionError(f"config: unknown key '{key}' (accepted: {', '.join(CONFIG_KEYS)}){hint}")
        given.add(key)
        if key == PERFORMANCE_HINT:
            hint_value = _text(value).strip().upper()
            if hint_value not in HINTS:
                raise _bad(key, value)
            values["hint"] = hint_value
        elif key == INFERENCE_PRECISION_HINT:
            values["precision"] = _precision(value)
        elif key == NUM_STREAMS:
            auto = isinstance(value, str) and value.strip().upper() == "AUTO"
            values["num_streams"] = None if auto else _int(key, value, 1)
        elif key == INFERENCE_NUM_THREADS:
            n = _int(key, value, 0)
            values["num_threads"] = n or None
        elif key == CACHE_DIR:
            if not isinstance(value, (str, os.PathLike)):
                raise _bad(key, value)
            values["cache_dir"] = os.fspath(value).strip()
        else:
            values["perf_count"] = _bool(key, value)
    return CompileConfig(**values), given


@dataclass(frozen=True)
class StreamPlan:
    """How a compiled model runs: `len(shares)` streams, stream i running with `shares[i]` threads."""

    threads: int
    shares: tuple[int, ...]

    @property
    def streams(self) -> int:
        return len(self.shares)


def throughput_streams(threads: int, cores: int) -> int:
    """The number of streams OpenVINO's CPU plugin picks for the THROUGHPUT hint on one socket when it has no
    model-specific preference (cpu_streams_calculation.cpp): threads per stream 4, 5 or 3 when the cores divide
    by it (else all), halved while that leaves fewer than twice as many streams as threads per stream. 2 cores
    give 2 streams of 1 thread, 4 give 2x2, 8 give 4x2, 16 give 4x4. (OpenVINO further adjusts the
    threads per stream with an estimate of the model's memory-bandwidth pressure; irforge does not.)"""
    n_proc = max(1, min(threads, cores))
    per_stream = next((k for k in (4, 5, 3) if n_proc % k == 0), n_proc)
    streams = max(1, threads // per_stream)
    while streams * 2 <= per_stream and per_stream > 1:
        per_stream //= 2
        streams = max(1, threads // per_stream)
    return streams


def plan_streams(config: CompileConfig, cores: int | None = None) -> StreamPlan:
    """Streams and threads: an explicit NUM_STREAMS wins over the hint; LATENCY is one stream with every thread;
    THROUGHPUT as `throughput_streams`. Every stream gets threads // streams threads (at least one)."""
    cores = cores or host.physical_cores()
    threads = config.num_threads or cores
    if config.num_streams is not None:
        streams = config.num_streams
    elif config.hint == "THROUGHPUT":
        streams = throughput_streams(threads, cores)
    else:
        streams = 1
    # Equal shares, as OpenVINO gives (threads // streams each, the remainder unused): torch's and OpenMP's
    # thread count is process-wide, so streams asking for different counts would undo each other.
    share = max(1, threads // streams)
    return StreamPlan(threads, (share,) * streams)


def device_config(config: CompileConfig, plan: StreamPlan) -> dict[str, str]:
    """The configuration a device receives (irforge/runtime/device.py): strings under OpenVINO's names, with the
    stream plan resolved; INFERENCE_PRECISION_HINT only when the user chose one (else the device decides)."""
    out = {PERFORMANCE_HINT: config.hint, NUM_STREAMS: str(plan.streams), INFERENCE_NUM_THREADS: str(plan.threads)}
    if config.precision is not None:
        out[INFERENCE_PRECISION_HINT] = config.precision
    if config.cache_dir:
        out[CACHE_DIR] = config.cache_dir
    return out
