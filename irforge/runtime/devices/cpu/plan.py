"""An execution plan: a flat list of prebound steps over a list of slots, computed once per input shapes.

Each step is a small closure that reads its input slots, calls its prepared function (a torch/oneDNN call with
constants and attributes already bound) and stores its outputs; running a plan is one loop over those closures.
No graph walk, no dict lookups, no shape logic happens per inference."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from irforge.errors import GraphError, IRForgeError
from irforge.runtime.device import PerfCount
from irforge.runtime.devices.cpu.segments import Segment, StepFailed
from irforge.runtime.devices.cpu.tensors import owned_numpy, tensor_numpy, to_torch, torch_of_numpy

Run = Callable[[list[Any]], None]


@dataclass
class Step:
    name: str  # the root node's name
    type: str  # the root node's op type
    exec_type: str  # how it runs, e.g. "onednn_conv+bias+relu_f32", "torch_add", "ref"
    fn: Callable[..., Any]
    ins: tuple[int, ...]  # slots read
    outs: tuple[int, ...]  # slots written (a multi-output step returns a tuple)
    multi: bool
    fused: tuple[str, ...] = ()  # names of the other nodes this step computes
    trace_fn: Callable[..., Any] | None = None  # the step in plain ATen ops for segments (None: not traceable)


@dataclass
class OutputSpec:
    slot: int  # -1: a plan-time constant
    constant: np.ndarray | None
    must_copy: bool  # the value may share memory with an input, a constant or another output
    dtype: np.dtype | None  # the IR output's NumPy dtype (a cast at the edge if the tensor differs)


def _segment_run(seg: Segment, eager: list[Run]) -> Run:
    def run_segment(env: list[Any]) -> None:
        seg.run(env, eager)
    return run_segment


def bind(step: Step) -> Run:
    """The closure running one step on an env list (specialized for the common arities)."""
    fn, ins, outs = step.fn, step.ins, step.outs
    if step.multi:
        def run_multi(env: list[Any]) -> None:
            res = fn(*[env[i] for i in ins])
            for o, r in zip(outs, res):
                env[o] = r
        return run_multi
    (o,) = outs
    if len(ins) == 1:
        (a,) = ins

        def run1(env: list[Any]) -> None:
            env[o] = fn(env[a])
        return run1
    if len(ins) == 2:
        a, b = ins

        def run2(env: list[Any]) -> None:
            env[o] = fn(env[a], env[b])
        return run2
    if not ins:
        def run0(env: list[Any]) -> None:
            env[o] = fn()
        return run0

    def run_n(env: list[Any]) -> None:
        env[o] = fn(*[env[i] for i in ins])
    return run_n


def _plain_dtype(spec: OutputSpec) -> torch.dtype | None:
    """The torch dtype of an output `Plan._finish` may hand over as `tensor.numpy()` (see there), or None."""
    if spec.slot < 0 or spec.must_copy or spec.dtype is None:
        return None
    dt = torch_of_numpy(spec.dtype)
    return None if dt is None or dt is torch.bfloat16 else dt


class Plan:
    """Running the plan walks `runs`: one closure per step, except that a traced segment (segments.py) is one
    closure for all its steps. A profiled run walks the steps one by one (`eager`), so each op is timed."""

    clock = staticmethod(time.perf_counter)  # what profiled runs time steps with
    native = False  # a torch plan (native/plan.py's NativePlan says True)

    def __init__(self, steps: list[Step], n_slots: int, param_slots: list[int], outputs: list[OutputSpec],
                 segments: Sequence[Segment] = ()) -> None:
        self.steps = steps
        self.eager = [bind(s) for s in steps]
        self.n_slots = n_slots
        self.param_slots = param_slots
        self.outputs = outputs
        self.segments = list(segments)
        self.threads = torch.get_num_threads()  # intra-op threads it was built for and runs with (executable.py)
        # per output, the torch dtype for which `_finish` hands the tensor's own memory over without the general
        # conversion (a runtime value that needs no copy, of a type torch computes with, bf16 aside); else None
        self._plain_outputs = [_plain_dtype(o) for o in outputs]
        self.runs: list[Run] = []
        self.run_steps: list[Step] = []  # the step of each run (a segment's first), for error messages
        by_start = {seg.start: seg for seg in self.segments}
        i = 0
        while i < len(steps):
            seg = by_start.get(i)
            if seg is None:
                self.runs.append(self.eager[i])
                self.run_steps.append(steps[i])
                i += 1
                continue
            self.runs.append(_segment_run(seg, self.eager[seg.start:seg.stop]))
            self.run_steps.append(steps[i])
            i = seg.stop

    def _start(self, inputs: Sequence[np.ndarray]) -> list[Any]:
        env: list[Any] = [None] * self.n_slots
        for s, value in zip(self.param_slots, inputs):
            env[s] = to_torch(value)
        return env

    def _finish(self, env: list[Any]) -> list[np.ndarray]:
        outs = []
        for spec, plain in zip(self.outputs, self._plain_outputs):
            if plain is not None:  # a fresh tensor of the output's own type: its memory is the caller's as is
                value = env[spec.slot]
                if value.__class__ is torch.Tensor and value.dtype is plain:
                    arr = tensor_numpy(value)
                    if arr.flags.c_contiguous:
                        outs.append(arr)
                        continue
            if spec.slot < 0:
                assert spec.constant is not None
                outs.append(np.array(spec.constant, copy=True))
                continue
            arr = owned_numpy(env[spec.slot], spec.must_copy)
            if spec.dtype is not None and arr.dtype != spec.dtype:
                arr = arr.astype(spec.dtype)
            outs.append(arr)
        return outs

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        env = self._start(inputs)
        k = 0
        try:
            for k, r in enumerate(self.runs):
                r(env)
        except IRForgeError:
            raise
        except StepFailed as e:  # a step inside a segment: the segment names it
            s = e.step
            note = f" ({e.note})" if e.note else ""
            raise GraphError(f"node '{s.name}' ({s.type}, {s.exec_type}) failed{note}: {e.cause}") from e.cause
        except Exception as e:  # noqa: BLE001 - a failing step names its node
            s = self.run_steps[k]
            raise GraphError(f"node '{s.name}' ({s.type}, {s.exec_type}) failed: {e}") from e
        return self._finish(env)

    def run_profiled(self, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[PerfCount]]:
        env = self._start(inputs)
        counts = []
        clock = self.clock
        for s, r in zip(self.steps, self.eager):
            t0 = clock()
            try:
                r(env)
            except IRForgeError:
                raise
            except Exception as e:  # noqa: BLE001
                raise GraphError(f"node '{s.name}' ({s.type}, {s.exec_type}) failed: {e}") from e
            counts.append(PerfCount(s.name, s.type, s.exec_type, clock() - t0))
        return self._finish(env), counts
