"""Runs a model over samples for statistics and validation, with consecutive samples stacked into one inference
along the batch axis when the model's inputs allow it and a first check shows stacking changes nothing.

Device ("auto"): the CPU device when it runs the model (else REF, with a note saying why), except when REF would
finish the whole pass within `REF_BUDGET_S` anyway: REF needs no compilation and no per-shape specialization, so
for small models and small passes it is the faster choice. The per-sample REF time is probed once (one sample of
the first model) and reused for every later pass of the same quantization."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

import time

from irforge.errors import InferenceError
from irforge.ir.graph import Model
from irforge.quantization.progress import Progress
from irforge.quantization.samples import Sample, rows
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.core import Core


REF_BUDGET_S = 2.0
STACK_BYTES = 256 << 20  # outputs of one stacked inference (an instrumented model returns many activations)


@dataclass
class DevicePolicy:
    """Which device runs the models of one quantization, and what happened (notes for the report)."""

    device: str = "auto"
    notes: list[str] = field(default_factory=list)
    cpu_failed: bool = False
    used: list[str] = field(default_factory=list)  # the devices models actually ran on
    ref_seconds_per_sample: float | None = None  # probed once in "auto" mode

    def record(self, device: str) -> None:
        if device not in self.used:
            self.used.append(device)

    def describe(self) -> str:
        return ", ".join(self.used) or (self.device if self.device != "auto" else "?")

    def candidates(self) -> list[str]:
        if self.device != "auto":
            return [self.device]
        if self.cpu_failed or "CPU" not in Core().available_devices:
            return ["REF"]
        return ["CPU", "REF"]


# Statistics, validation and the accuracy-aware search compare the FP32 and INT8 models in f32 on every device: the
# CPU device's own default is bf16 on CPUs with native bf16 (AVX512-BF16, AMX), which would make the ranges, the bias
# corrections and the metrics depend on the CPU they were computed on (and the "bf16" fallback precision is simulated
# in the model itself, not by the runtime).
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def compile_for(model: Model, device: str) -> CompiledModel:
    return Core().compile_model(model, device, F32)


class ModelRunner:
    """`run(samples)` yields (start index, sample count, outputs of the stacked inference, rows per sample)."""

    def __init__(self, model: Model, policy: DevicePolicy, batch_size: int = 32, total: int | None = None) -> None:
        self.model = model
        self.policy = policy
        self.total = total  # samples this runner will see (for the device choice)
        per_row = _bytes_per_row(model)
        self.batch_size = max(1, min(batch_size, STACK_BYTES // per_row)) if _batchable(model) else 1
        self.compiled: CompiledModel | None = None
        self.device = ""
        self._verified = False
        self._stacked_before = False

    def _infer(self, sample: Sample) -> list[np.ndarray]:
        while True:
            if self.compiled is None:
                self._compile(sample)
            assert self.compiled is not None
            try:
                return self.compiled(sample).values_list()
            except InferenceError:  # the data does not fit the model: the user's mistake, on any device
                raise
            except Exception as e:  # noqa: BLE001 - a device failure: fall back to the next device
                if not self._fall_back(e):
                    raise

    def _compile(self, sample: Sample) -> None:
        candidates = self.policy.candidates()
        if candidates[0] == "CPU" and self.policy.device == "auto" and self.ref_is_enough(sample):
            candidates = ["REF"]
        for device in candidates:
            try:
                self.compiled = compile_for(self.model, device)
                self.device = device
                self.policy.record(device)
                return
            except Exception as e:  # noqa: BLE001
                if device == candidates[-1]:
                    raise
                self._note_failure(device, e)

    def ref_is_enough(self, sample: Sample) -> bool:
        """Whether REF would run this runner's samples within the budget (probing REF's speed once)."""
        policy = self.policy
        if policy.ref_seconds_per_sample is None:
            try:
                compiled = compile_for(self.model, "REF")
                t0 = time.perf_counter()
                compiled(sample)
                policy.ref_seconds_per_sample = (time.perf_counter() - t0) / max(rows(sample), 1)
            except InferenceError:
                raise
            except Exception:  # noqa: BLE001 - REF cannot even run it: leave the choice to the CPU device
                policy.ref_seconds_per_sample = float("inf")
        return policy.ref_seconds_per_sample * max(self.total or 1, 1) <= REF_BUDGET_S

    def _fall_back(self, error: Exception) -> bool:
        if self.device != "CPU" or self.policy.device != "auto":
            return False
        self._note_failure("CPU", error)
        self.compiled = None
        return True

    def _note_failure(self, device: str, error: Exception) -> None:
        if device == "CPU":
            self.policy.cpu_failed = True
        self.policy.notes.append(f"the {device} device failed on model '{self.model.name}' "
                                 f"({type(error).__name__}: {str(error)[:200]}); using REF")

    def run(self, samples: Iterable[Sample], progress: Progress | None = None
            ) -> Iterator[tuple[int, int, list[np.ndarray], list[int]]]:
        """Consumes `samples` lazily (a dataset is decoded as it is used, never held whole)."""
        index = 0
        for chunk in self._chunks(iter(samples)):
            pieces = [chunk]
            if len(chunk) > 1:
                counts = [rows(s) for s in chunk]
                # a short last chunk is padded to the usual batch (repeating its last sample), so the device sees
                # one input shape (a device may specialize per shape), and the padding rows are dropped after
                pad = self.batch_size - sum(counts) if self._stacked_before and all(c == 1 for c in counts) else 0
                padded = chunk + [chunk[-1]] * max(pad, 0)
                stacked = [np.concatenate([s[k] for s in padded]) for k in range(len(chunk[0]))]
                outs = self._infer(stacked)
                if pad > 0 and all(o.ndim and o.shape[0] == self.batch_size for o in outs):
                    outs = [o[:sum(counts)] for o in outs]
                if self._check_stacked(outs, chunk, sum(counts)):
                    self._stacked_before = True
                    measured = sum(o.nbytes for o in outs) // max(sum(counts), 1)
                    self.batch_size = max(1, min(self.batch_size, STACK_BYTES // max(measured, 1)))
                    pieces = []
                    yield index, len(chunk), outs, counts
                else:
                    self.batch_size = 1
                    pieces = [[s] for s in chunk]  # this chunk again, one sample at a time
            for piece in pieces:
                yield index, 1, self._infer(piece[0]), [rows(piece[0])]
                index += 1
            if not pieces:
                index += len(chunk)
            if progress is not None:
                progress.advance(len(chunk))

    def _chunks(self, it: Iterator[Sample]) -> Iterator[list[Sample]]:
        pending: Sample | None = None
        while True:
            first = pending if pending is not None else next(it, None)
            pending = None
            if first is None:
                return
            chunk, total = [first], rows(first)
            while len(chunk) < self.batch_size:
                s = next(it, None)
                if s is None:
                    break
                same = all(a.shape[1:] == b.shape[1:] and a.dtype == b.dtype for a, b in zip(s, first))
                if not same or total + rows(s) > self.batch_size:
                    pending = s
                    break
                chunk.append(s)
                total += rows(s)
            yield chunk

    def _check_stacked(self, outs: list[np.ndarray], chunk: list[Sample], total: int) -> bool:
        """Stacking is kept when every output splits along the batch axis and, on the first stacked run, the first
        sample alone gives the same outputs as its rows of the stacked run."""
        if any(o.ndim == 0 or o.shape[0] != total for o in outs):
            self.policy.notes.append(f"model '{self.model.name}': outputs do not follow the batch axis; "
                                     f"samples run one at a time")
            return False
        if self._verified:
            return True
        self._verified = True
        alone = self._infer(chunk[0])
        n = rows(chunk[0])
        for a, b in zip(alone, outs):
            scale = 1.0 + float(np.abs(a).max(initial=0.0)) if a.dtype.kind == "f" else 1.0
            if a.shape != b[:n].shape or not np.allclose(a, b[:n], rtol=1e-3, atol=1e-5 * scale):
                self.policy.notes.append(f"model '{self.model.name}': stacking samples changes its outputs; "
                                         f"samples run one at a time")
                return False
        return True


def split_rows(outs: list[np.ndarray], counts: list[int]) -> list[list[np.ndarray]]:
    """Per-sample outputs of a stacked inference."""
    if len(counts) == 1:
        return [outs]
    bounds = np.cumsum([0, *counts])
    return [[o[bounds[j]:bounds[j + 1]] for o in outs] for j in range(len(counts))]


def _bytes_per_row(model: Model) -> int:
    """Bytes of all outputs per batch row, from the static dimensions (dynamic ones count as 1)."""
    total = 0
    for out in model.outputs:
        if not out.shape.rank_is_static:
            continue
        count = 1
        for d in out.shape.dims[1:]:
            count *= d.min if d.is_static else 1
        total += count * max(out.element_type.bits // 8, 1)
    return max(total, 1)


def _batchable(model: Model) -> bool:
    for p in model.inputs:
        s = p.shape
        if not s.rank_is_static or s.rank == 0 or s[0].is_static:
            return False
    return True
