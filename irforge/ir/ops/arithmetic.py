"""Binary arithmetic with NumPy broadcasting."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.ir.opset import Attr, register
from irforge.ir.ops._base import AUTO_BROADCAST, BinaryElementwise, as_dtype

if TYPE_CHECKING:
    from irforge.ir.graph import Node


class QuietBinary(BinaryElementwise):
    """A binary op whose kernel may divide by zero or overflow: the result is then whatever NumPy gives
    (OpenVINO leaves it undefined), without NumPy's warnings."""

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return super().evaluate(node, inputs)


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


def truncating_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C semantics), exact for every integer width."""
    q = np.floor_divide(a, b)
    if np.issubdtype(q.dtype, np.signedinteger):
        inexact = np.remainder(a, b) != 0
        q = q + (inexact & ((a < 0) != (b < 0))).astype(q.dtype)
    return q


@register
class Divide(BinaryElementwise):
    """Integer division floors when `m_pythondiv` (Python semantics), else truncates toward zero."""

    type_name = "Divide"
    attrs = (AUTO_BROADCAST, Attr("m_pythondiv", "bool", True))

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        a, b = inputs
        et = node.outputs[0].element_type
        with np.errstate(all="ignore"):
            if et.is_integral:
                out = np.floor_divide(a, b) if node.attrs["m_pythondiv"] else truncating_divide(a, b)
            else:
                out = np.true_divide(a, b)
        return [as_dtype(np.asarray(out), et)]


def power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a ** b; for integers exact, and a negative exponent gives trunc(a ** b) (0 unless |a| == 1)."""
    if not np.issubdtype(np.result_type(a, b), np.integer):
        return np.power(a, b)
    negative = b < 0
    out = np.power(a, np.where(negative, 0, b).astype(np.result_type(b)))
    if np.any(negative):
        odd = (b % 2) != 0
        out = np.where(negative, np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0)), out)
    return out


@register
class Power(QuietBinary):
    type_name = "Power"
    fn = staticmethod(power)


@register
class Maximum(BinaryElementwise):
    type_name = "Maximum"
    fn = staticmethod(np.maximum)


@register
class Minimum(BinaryElementwise):
    type_name = "Minimum"
    fn = staticmethod(np.minimum)


@register
class FloorMod(QuietBinary):
    """Remainder of the floored division: the sign of the divisor (Python's %)."""

    type_name = "FloorMod"
    fn = staticmethod(np.mod)


@register
class Mod(QuietBinary):
    """Remainder of the truncated division: the sign of the dividend (C's fmod)."""

    type_name = "Mod"
    fn = staticmethod(np.fmod)


@register
class SquaredDifference(QuietBinary):
    type_name = "SquaredDifference"
    fn = staticmethod(lambda a, b: np.square(np.subtract(a, b)))
