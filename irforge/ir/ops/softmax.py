"""Softmax (opset1: non-negative axis; opset8: negative axis allowed) and LogSoftmax (opset5)."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype, normalize_axis, same_as_input

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    """x - max(x) along `axis`, computed in f32 at least (f16 inputs) so exp cannot overflow."""
    acc = x.astype(np.float32) if x.dtype == np.float16 else x
    return acc - np.max(acc, axis=axis, keepdims=True, initial=-np.inf)


class _SoftmaxBase(OpSpec):
    attrs = (Attr("axis", "int", 1),)
    min_inputs = 1
    max_inputs = 1
    negative_axis: ClassVar[bool] = True
    log: ClassVar[bool] = False

    def _axis(self, node: "Node", rank: int) -> int:
        axis = node.attrs["axis"]
        if axis < 0 and not self.negative_axis:
            raise GraphError(f"node '{node.name}' ({node.type} {self.version}): negative axis {axis}")
        return normalize_axis(axis, rank, node)

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        if not (et.is_dynamic or et.is_float):
            raise GraphError(f"node '{node.name}' ({node.type}): input must be floating point, got {et}")
        shape = node.inputs[0].shape
        if shape.rank_is_static:
            self._axis(node, shape.rank)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axis = self._axis(node, x.ndim)
        with np.errstate(all="ignore"):
            z = _shifted(x, axis)
            e = np.exp(z)
            s = np.sum(e, axis=axis, keepdims=True)
            out = z - np.log(s) if self.log else e / s
        return [as_dtype(out, node.outputs[0].element_type)]


@register
class Softmax(_SoftmaxBase):
    type_name = "Softmax"
    xml_name = "SoftMax"
    version = "opset1"
    negative_axis = False


@register
class Softmax8(_SoftmaxBase):
    type_name = "Softmax"
    xml_name = "SoftMax"
    version = "opset8"


@register
class LogSoftmax(_SoftmaxBase):
    type_name = "LogSoftmax"
    version = "opset5"
    log = True
