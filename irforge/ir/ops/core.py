"""Graph boundary ops: Parameter (a model input), Result (a model output) and Constant (stored weights)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape
from irforge.ir.shape import PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node


@register
class Parameter(OpSpec):
    type_name = "Parameter"
    version = "opset1"
    attrs = (Attr("shape", "pshape"), Attr("element_type", "type"))
    max_inputs = 0

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return [(node.attrs["element_type"], node.attrs["shape"])]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise GraphError(f"Parameter '{node.name}' has no value: it must be fed")


@register
class Result(OpSpec):
    type_name = "Result"
    version = "opset1"
    min_inputs = 1
    max_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return []

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return []


@register
class Constant(OpSpec):
    """Weights. The value lives in `node.data`; the XML writer stores it in the .bin (offset/size)."""

    type_name = "Constant"
    xml_name = "Const"
    version = "opset1"
    attrs = (Attr("element_type", "type"), Attr("shape", "shape"))
    max_inputs = 0

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return [(node.attrs["element_type"], PartialShape(node.attrs["shape"]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        assert node.data is not None, f"Constant '{node.name}' has no data"
        return [node.data]
