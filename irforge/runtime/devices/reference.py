"""REF: evaluates the graph with the ops' NumPy kernels. The semantic oracle other devices are tested against.
It computes in the model's own element types (INFERENCE_PRECISION_HINT f32 only) and ignores thread counts."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from irforge.errors import OptionError
from irforge.ir.evaluate import Plan
from irforge.ir.graph import Model, Node
from irforge.runtime.device import PerfCount


class ReferenceRunner:
    def __init__(self, plan: Plan, profile: bool = False) -> None:
        self.plan = plan
        self.profile = profile
        self._perf: list[PerfCount] = []

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        outputs = self._run_profiled(inputs) if self.profile else self.plan.run(inputs)
        # Results reading a Constant would hand out the model's own array: give the caller a copy.
        return [o.copy() if r.node.type == "Constant" else o for o, r in zip(outputs, self.plan.model.outputs)]

    def perf_counts(self) -> list[PerfCount]:
        return list(self._perf)

    def _run_profiled(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        timings: list[tuple[Node, float]] = []
        outputs = self.plan.run(inputs, timings)
        self._perf = [PerfCount(node.name, node.type, "ref", seconds) for node, seconds in timings]
        return outputs


class ReferenceExecutable:
    def __init__(self, model: Model, config: Mapping[str, str]) -> None:
        precision = config.get("INFERENCE_PRECISION_HINT", "f32")
        if precision != "f32":
            raise OptionError(f"INFERENCE_PRECISION_HINT: the REF device computes in the model's own element types "
                              f"(accepted: f32), got {precision!r}")
        self.plan = Plan(model)
        self.properties: Mapping[str, str] = {"INFERENCE_PRECISION_HINT": "f32"}

    def create_runner(self, profile: bool = False, threads: int | None = None) -> ReferenceRunner:
        return ReferenceRunner(self.plan, profile)
