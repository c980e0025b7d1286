"""The reference interpreter: evaluates a Model with each op's NumPy kernel (the REF device, constant
folding and the bodies of If/Loop all use it)."""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from irforge.errors import GraphError
from irforge.ir.graph import Model, Node, Output


class Plan:
    """A model's evaluation order and, per node, the inputs whose last use it is (to free memory early)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.order: list[Node] = [n for n in model.nodes() if n.type not in ("Parameter", "Result")]
        last_use: dict[int, int] = {}
        for step, node in enumerate(self.order):
            for src in node.inputs:
                last_use[id(src)] = step
        keep = {id(o) for o in model.outputs}
        self.release: list[list[Output]] = [[] for _ in self.order]
        for step, node in enumerate(self.order):
            for src in {id(s): s for s in node.inputs}.values():
                if last_use[id(src)] == step and id(src) not in keep and src.node.type != "Constant":
                    self.release[step].append(src)

    def run(self, inputs: Sequence[np.ndarray], timings: list[tuple[Node, float]] | None = None
            ) -> list[np.ndarray]:
        """The Results' values; with `timings`, (node, seconds of its kernel) is appended for each non-Constant."""
        params = self.model.parameters
        if len(inputs) != len(params):
            raise GraphError(f"model '{self.model.name}' takes {len(params)} inputs, got {len(inputs)}")
        values: dict[int, np.ndarray] = {id(p.output(0)): np.asarray(v) for p, v in zip(params, inputs)}
        for step, node in enumerate(self.order):
            args = [values[id(s)] if s.node.type != "Constant" else s.node.data for s in node.inputs]
            t0 = time.perf_counter() if timings is not None else 0.0
            try:
                outs = node.op.evaluate(node, args)  # type: ignore[arg-type]
            except GraphError:
                raise
            except Exception as e:
                raise GraphError(f"node '{node.name}' ({node.type}) failed to evaluate: {e}") from e
            if timings is not None and node.type != "Constant":
                timings.append((node, time.perf_counter() - t0))
            for out, val in zip(node.outputs, outs):
                values[id(out)] = val
            for src in self.release[step]:
                values.pop(id(src), None)
        return [values[id(o)] if o.node.type != "Constant" else o.node.data for o in self.model.outputs]  # type: ignore[misc]


def evaluate_model(model: Model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate `model` on positional `inputs`; returns the Results' values in order."""
    return Plan(model).run(inputs)
