"""Binary arithmetic with NumPy broadcasting."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.ir.opset import Attr, register
from irforge.ir.ops._base import AUTO_BROADCAST, BinaryElementwise, as_dtype

if TYPE_CHECKING:
    from irforge.ir.graph import Node


@register
class Add(BinaryElementwise):
    type_name = "Add"
    fn = staticmethod(np.add)


@register
class Subtract(BinaryElementwise):
    type_name = "Subtract"
    fn = staticmethod(np.subtract)


@register
class Multiply(BinaryElementwise):
    type_name = "Multiply"
    fn = staticmethod(np.multiply)


@register
class Divide(BinaryElementwise):
    """Integer division floors when `m_pythondiv` (Python semantics), else truncates toward zero."""

    type_name = "Divide"
    attrs = (AUTO_BROADCAST, Attr("m_pythondiv", "bool", True))

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        a, b = inputs
        et = node.outputs[0].element_type
        if et.is_integral:
            if node.attrs["m_pythondiv"]:
                out = np.floor_divide(a, b)
            else:
                out = np.trunc(np.true_divide(a, b))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.true_divide(a, b)
        return [as_dtype(np.asarray(out), et)]
