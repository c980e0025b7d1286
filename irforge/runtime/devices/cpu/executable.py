"""CPUExecutable: the compiled form of a model on the CPU device, shared by all its runners.

A plan is specialized to concrete input shapes and an intra-op thread count (oneDNN's convolution kernels choose
their weight blocking by thread count, so weights prepacked for 2 threads would be reordered on every call by a
1-thread runner). A model whose inputs are static gets its plan for INFERENCE_NUM_THREADS at compile time;
otherwise the first inference with new input shapes (or a runner with another thread count) builds one (shape
inference re-run on a clone, weights prepacked for those shapes) and caches it, so later inferences with the same
shapes go straight to it."""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from irforge.ir.graph import Model
from irforge.runtime.devices.cpu.allocator import tune_allocator
from irforge.runtime.devices.cpu.builder import build_plan
from irforge.runtime.devices.cpu.config import CPUConfig, parse_config
from irforge.runtime.devices.cpu.plan import Plan
from irforge.runtime.devices.cpu.runner import CPURunner
from irforge.runtime.devices.cpu.specialize import specialize

PlanKey = tuple[tuple[tuple[int, ...], ...], int]  # (input shapes, threads)

MAX_PLANS = 32  # distinct input-shape sets kept (least recently built dropped first)


class CPUExecutable:
    def __init__(self, model: Model, config: Mapping[str, str]) -> None:
        self.model = model
        self.config: CPUConfig = parse_config(config)
        tune_allocator()
        self.properties: Mapping[str, str] = self.config.properties()
        self._plans: dict[PlanKey, Plan] = {}
        self._lock = threading.Lock()
        if all(p.shape.is_static for p in model.inputs):
            key = (tuple(p.shape.to_shape() for p in model.inputs), self.config.threads)
            previous = torch.get_num_threads()
            torch.set_num_threads(self.config.threads)
            try:
                self._plans[key] = self._build(key)
            finally:
                torch.set_num_threads(previous)

    def _build(self, key: PlanKey) -> Plan:
        """A plan for `key`; called in a thread whose torch thread count is key's."""
        return build_plan(specialize(self.model, [list(s) for s in key[0]]), self.config)

    def plan_for(self, inputs: Sequence[np.ndarray], threads: int) -> Plan:
        """The plan for these inputs' shapes and `threads` (the calling thread runs with that many)."""
        key = (tuple(np.shape(a) for a in inputs), threads)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = self._build(key)
                if len(self._plans) >= MAX_PLANS:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = plan
        return plan

    @property
    def plans(self) -> dict[PlanKey, Plan]:
        return dict(self._plans)

    def create_runner(self, profile: bool = False, threads: int | None = None) -> CPURunner:
        return CPURunner(self, profile, threads or self.config.threads)
