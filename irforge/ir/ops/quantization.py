"""FakeQuantize: element-wise linear quantization of a float tensor into `levels` discrete float values."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import AUTO_BROADCAST, TypedShape, as_dtype
from irforge.ir.ops.logical import broadcast_operands

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def fake_quantize(x: np.ndarray, il: np.ndarray, ih: np.ndarray, ol: np.ndarray, oh: np.ndarray,
                  levels: int) -> np.ndarray:
    """x <= min(il, ih) -> ol; x > max(il, ih) -> oh; else
    round((x - il) / (ih - il) * (levels - 1)) / (levels - 1) * (oh - ol) + ol, rounding halves to even.

    Computed in float64 with the multiplications first, so that a value exactly between two levels (x / scale
    + zero point = k + 0.5 for a Q/DQ pair) is seen as the tie it is, and the quantized levels come out exact
    (e.g. integers for the ranges a QuantizeLinear makes)."""
    x64, il, ih, ol, oh = (np.asarray(v, np.float64) for v in (x, il, ih, ol, oh))
    n = float(levels - 1)
    with np.errstate(all="ignore"):
        q = np.round((x64 - il) * n / (ih - il))
        out = q * (oh - ol) / n + ol
    out = np.where(x64 <= np.minimum(il, ih), ol, np.where(x64 > np.maximum(il, ih), oh, out))
    return out.astype(x.dtype)


@register
class FakeQuantize(OpSpec):
    """Inputs X, input_low, input_high, output_low, output_high (each broadcastable to X); output has X's
    type and shape."""

    type_name = "FakeQuantize"
    attrs = (Attr("levels", "int"), AUTO_BROADCAST)
    min_inputs = 5
    max_inputs = 5

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        if node.attrs["levels"] < 2:
            raise GraphError(f"node '{node.name}' (FakeQuantize): levels must be at least 2")
        x = node.inputs[0]
        if not x.element_type.is_dynamic and not x.element_type.is_float:
            raise GraphError(f"node '{node.name}' (FakeQuantize): data must be floating point, got {x.element_type}")
        shape = broadcast_operands(node)
        if x.shape.rank_is_static and shape.rank_is_static and shape.rank != x.shape.rank:
            raise GraphError(f"node '{node.name}' (FakeQuantize): ranges of rank {shape.rank} do not broadcast to "
                             f"data of rank {x.shape.rank}")
        return [(x.element_type, shape)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, il, ih, ol, oh = inputs
        return [as_dtype(fake_quantize(x, il, ih, ol, oh, node.attrs["levels"]), node.outputs[0].element_type)]
