"""REF: evaluates the graph with the ops' NumPy kernels. The semantic oracle other devices are tested against."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from irforge.ir.evaluate import Plan
from irforge.ir.graph import Model
from irforge.runtime.device import PerfCount


class ReferenceRunner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.plan.run(inputs)

    def perf_counts(self) -> list[PerfCount]:
        return []


class ReferenceExecutable:
    def __init__(self, model: Model, config: Mapping[str, str]) -> None:
        self.plan = Plan(model)
        self.properties: Mapping[str, str] = {"INFERENCE_PRECISION_HINT": "f32"}

    def create_runner(self, profile: bool = False, threads: int | None = None) -> ReferenceRunner:
        return ReferenceRunner(self.plan)
