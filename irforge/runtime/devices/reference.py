"""REF: evaluates the graph with the ops' NumPy kernels. The semantic oracle other devices are tested against.
It computes in the model's own element types (INFERENCE_PRECISION_HINT f32 only) and ignores thread counts."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from irforge.errors import GraphError, OptionError
from irforge.ir.evaluate import Plan
from irforge.ir.graph import Model
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
        """Plan.run with a timer around each node (same order, same early release)."""
        plan, model = self.plan, self.plan.model
        if len(inputs) != len(model.parameters):
            raise GraphError(f"model '{model.name}' takes {len(model.parameters)} inputs, got {len(inputs)}")
        values = {id(p.output(0)): np.asarray(v) for p, v in zip(model.parameters, inputs)}
        perf = []
        for step, node in enumerate(plan.order):
            args = [values[id(s)] if s.node.type != "Constant" else s.node.data for s in node.inputs]
            t0 = time.perf_counter()
            try:
                outs = node.op.evaluate(node, args)  # type: ignore[arg-type]
            except GraphError:
                raise
            except Exception as e:
                raise GraphError(f"node '{node.name}' ({node.type}) failed to evaluate: {e}") from e
            if node.type != "Constant":
                perf.append(PerfCount(node.name, node.type, "ref", time.perf_counter() - t0))
            for out, val in zip(node.outputs, outs):
                values[id(out)] = val
            for src in plan.release[step]:
                values.pop(id(src), None)
        self._perf = perf
        return [values[id(o)] if o.node.type != "Constant" else o.node.data for o in model.outputs]  # type: ignore[misc]


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
