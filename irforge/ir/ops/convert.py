"""Element type conversion: Convert (to an attribute's type) and ConvertLike (to another input's type)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape
from irforge.ir.types import ElementType, Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def _wrap_sub_byte(v: np.ndarray, et: ElementType) -> np.ndarray:
    """Keep the low 4 bits (two's complement for i4), as a 4-bit register would."""
    if et.name == "u4":
        return (v & 0xF).astype(np.uint8)
    return (((v & 0xF) ^ 8) - 8).astype(np.int8)


def convert(x: np.ndarray, src: ElementType, dst: ElementType) -> np.ndarray:
    """Convert-1 semantics: floats to integers truncate toward zero; integers wrap modulo 2^bits;
    anything to boolean is `!= 0`."""
    if src.is_dynamic:
        src = Type.from_dtype(x.dtype)
    if src == dst:
        return x
    if Type.string in (src, dst):
        raise GraphError(f"Convert between {src} and {dst} is not supported")
    if src.name in ("bf16", "f8e4m3", "f8e5m2"):
        x, src = x.astype(np.float32), Type.f32
    if dst.name == "boolean":
        return x != 0
    if dst.is_float:
        return x.astype(dst.dtype)
    with np.errstate(all="ignore"):
        if src.is_float:
            x = np.nan_to_num(np.trunc(x), nan=0.0, posinf=0.0, neginf=0.0)
            x = np.clip(x, np.iinfo(np.int64).min, np.iinfo(np.int64).max).astype(np.int64)
        if dst.name in ("i4", "u4"):
            return _wrap_sub_byte(x.astype(np.int64), dst)
        return x.astype(dst.dtype)


@register
class Convert(OpSpec):
    type_name = "Convert"
    attrs = (Attr("destination_type", "type"),)
    min_inputs = 1
    max_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return [(node.attrs["destination_type"], node.inputs[0].shape)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [convert(inputs[0], node.inputs[0].element_type, node.outputs[0].element_type)]


@register
class ConvertLike(OpSpec):
    """Convert input 0 to the element type of input 1 (whose values are not read)."""

    type_name = "ConvertLike"
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return [(node.inputs[1].element_type, node.inputs[0].shape)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [convert(inputs[0], node.inputs[0].element_type, node.outputs[0].element_type)]
