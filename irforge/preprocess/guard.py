"""All or nothing: `build()` changes the model in place, so a step that fails half-way must leave the model as
it was (OpenVINO's FunctionGuard). The guard records every node's inputs and every port's uses, type, shape,
names and rt_info, and the model's Parameters and Results, and puts them back on failure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from irforge.ir.graph import Model, Node, Output
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType


@dataclass
class _PortState:
    port: Output
    uses: list[tuple[Node, int]]
    element_type: ElementType
    shape: PartialShape
    names: set[str]
    rt_info: dict[str, Any]


class ModelGuard:
    """Snapshot of `model`'s wiring; `restore()` undoes whatever happened since."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.parameters = list(model.parameters)
        self.results = list(model.results)
        nodes = model.nodes()
        self.nodes = [(n, list(n.inputs), n.name, dict(n.rt_info)) for n in nodes]
        self.ports = [_PortState(o, list(o.uses), o.element_type, o.shape, set(o.names),
                                 {k: dict(v) if isinstance(v, dict) else v for k, v in o.rt_info.items()})
                      for n in nodes for o in n.outputs]

    def restore(self) -> None:
        for node, inputs, name, rt_info in self.nodes:
            node.inputs, node.name, node.rt_info = list(inputs), name, rt_info
        for s in self.ports:
            s.port.uses, s.port.element_type, s.port.shape = list(s.uses), s.element_type, s.shape
            s.port.names, s.port.rt_info = set(s.names), s.rt_info
        self.model.parameters = list(self.parameters)
        self.model.results = list(self.results)
