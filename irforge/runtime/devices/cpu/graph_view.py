"""What lowerings may ask about the specialized graph while matching: plan-time values, consumers, shapes."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Node, Output
from irforge.runtime.devices.cpu.specialize import Specialized


class GraphView:
    def __init__(self, spec: Specialized) -> None:
        self.spec = spec
        self.live = {n.uid for n in spec.ops}
        self.claimed: set[int] = set()  # uids of nodes a match has taken
        self.outputs = {id(o) for o in spec.model.outputs}

    def const(self, out: Output) -> np.ndarray | None:
        """The plan-time value of `out` (a Constant or folded), None for a runtime value."""
        return self.spec.known.get(id(out))

    def is_runtime(self, out: Output) -> bool:
        return id(out) not in self.spec.known

    def runtime_inputs(self, node: Node) -> list[Output]:
        return [src for src in node.inputs if self.is_runtime(src)]

    def uses(self, out: Output) -> list[tuple[Node, int]]:
        """Consumers among the ops that run (folded consumers such as a static ShapeOf do not count)."""
        return [(n, i) for n, i in out.uses if n.uid in self.live]

    def is_output(self, out: Output) -> bool:
        return id(out) in self.outputs

    def sole_consumer(self, out: Output) -> tuple[Node, int] | None:
        """The one op reading `out`, when there is exactly one such use, it is not claimed yet and `out` is not
        a model output (so a fusion may keep the value internal)."""
        uses = self.uses(out)
        if len(uses) != 1 or self.is_output(out):
            return None
        node, i = uses[0]
        if node.uid in self.claimed:
            return None
        return node, i

    def static_shape(self, out: Output) -> tuple[int, ...] | None:
        return out.shape.to_shape() if out.shape.is_static else None

    def torch_ok(self, node: Node) -> bool:
        """Every input and output of `node` has an element type torch computes with."""
        from irforge.runtime.devices.cpu.tensors import TORCH_TYPES

        return all(o.element_type.name in TORCH_TYPES for o in node.outputs) and \
            all(i.element_type.name in TORCH_TYPES for i in node.inputs)
