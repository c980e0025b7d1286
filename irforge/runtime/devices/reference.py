"""REF: evaluates the graph with the ops' NumPy kernels. The semantic oracle other devices are tested against."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irforge.ir.evaluate import Plan
from irforge.ir.graph import Model


class ReferenceExecutable:
    def __init__(self, model: Model, config: dict[str, str]) -> None:
        self.plan = Plan(model)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.plan.run(inputs)
