"""Comparisons, boolean logic and Select."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import AUTO_BROADCAST, BinaryElementwise, TypedShape, UnaryOp, as_dtype, merged_type
from irforge.ir.shape import PartialShape, broadcast_shapes
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def broadcast_operands(node: "Node") -> PartialShape:
    """The output shape of an op whose inputs all broadcast together (Select, FakeQuantize): NumPy rules, or
    equal shapes with auto_broadcast=none. PDPD broadcasting is not supported."""
    shapes = [i.shape for i in node.inputs]
    mode = node.attrs["auto_broadcast"]
    if mode == "pdpd":
        raise GraphError(f"node '{node.name}' ({node.type}): auto_broadcast=pdpd is not supported")
    if mode == "numpy":
        return broadcast_shapes(*shapes)
    static = [s for s in shapes if s.is_static]
    if any(s != static[0] for s in static):
        raise GraphError(f"node '{node.name}' ({node.type}): shapes {', '.join(map(str, shapes))} differ and "
                         "auto_broadcast is none")
    return next((s for s in shapes if s.rank_is_static), shapes[0])


class Comparison(BinaryElementwise):
    result_boolean = True
    accepts_string = True


class Logical(Comparison):
    """Boolean logic: boolean results like a comparison, but of booleans (no strings)."""

    accepts_string = False


@register
class Equal(Comparison):
    type_name = "Equal"
    fn = staticmethod(np.equal)


@register
class NotEqual(Comparison):
    type_name = "NotEqual"
    fn = staticmethod(np.not_equal)


@register
class Less(Comparison):
    type_name = "Less"
    fn = staticmethod(np.less)


@register
class LessEqual(Comparison):
    type_name = "LessEqual"
    fn = staticmethod(np.less_equal)


@register
class Greater(Comparison):
    type_name = "Greater"
    fn = staticmethod(np.greater)


@register
class GreaterEqual(Comparison):
    type_name = "GreaterEqual"
    fn = staticmethod(np.greater_equal)


@register
class LogicalNot(UnaryOp):
    type_name = "LogicalNot"
    fn = staticmethod(np.logical_not)


@register
class LogicalAnd(Logical):
    type_name = "LogicalAnd"
    fn = staticmethod(np.logical_and)


@register
class LogicalOr(Logical):
    type_name = "LogicalOr"
    fn = staticmethod(np.logical_or)


@register
class LogicalXor(Logical):
    """Specified as LogicalXor-1, but OpenVINO writes it with version `opset2` (and reads either);
    `LogicalXorOpset1` below reads files that say `opset1`."""

    type_name = "LogicalXor"
    version = "opset2"
    fn = staticmethod(np.logical_xor)


@register
class LogicalXorOpset1(LogicalXor):
    version = "opset1"


@register
class Select(OpSpec):
    """Element-wise `cond ? then : else` over the broadcast of all three inputs."""

    type_name = "Select"
    attrs = (AUTO_BROADCAST,)
    min_inputs = 3
    max_inputs = 3

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        cond = node.inputs[0].element_type
        if not (cond.is_dynamic or cond == Type.boolean):
            raise GraphError(f"node '{node.name}' (Select): condition must be boolean, got {cond}")
        return [(merged_type(node, (1, 2)), broadcast_operands(node))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        cond, a, b = inputs
        return [as_dtype(np.where(cond.astype(bool), a, b), node.outputs[0].element_type)]


class FloatClassTest(OpSpec):
    """y = whether each element of a floating-point tensor is of a class (NaN, infinite, finite): a boolean tensor
    of the input's shape (IsNaN-10, IsInf-10, IsFinite-10)."""

    version = "opset10"
    min_inputs = 1
    max_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        if not (et.is_dynamic or et.is_float):
            raise GraphError(f"node '{node.name}' ({node.type}): input must be a floating-point tensor, got {et}")
        return [(Type.boolean, node.inputs[0].shape)]

    def test(self, node: "Node", x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        if x.dtype.itemsize < 4:  # f16 and the ml_dtypes types: NaN/inf survive the widening
            x = x.astype(np.float32)
        return [np.asarray(self.test(node, x), dtype=np.bool_)]


@register
class IsNaN(FloatClassTest):
    type_name = "IsNaN"

    def test(self, node: "Node", x: np.ndarray) -> np.ndarray:
        return np.isnan(x)


@register
class IsFinite(FloatClassTest):
    type_name = "IsFinite"

    def test(self, node: "Node", x: np.ndarray) -> np.ndarray:
        return np.isfinite(x)


@register
class IsInf(FloatClassTest):
    """Infinities of the signs `detect_negative` / `detect_positive` select."""

    type_name = "IsInf"
    attrs = (Attr("detect_negative", "bool", True), Attr("detect_positive", "bool", True))

    def test(self, node: "Node", x: np.ndarray) -> np.ndarray:
        neg, pos = node.attrs["detect_negative"], node.attrs["detect_positive"]
        return np.isinf(x) & ((neg & (x < 0)) | (pos & (x > 0)))
