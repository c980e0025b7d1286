"""Convert / ConvertLike and ShapeOf of a shape only known at run time.

Convert follows Convert-1: floats to integers truncate toward zero (NaN and infinities to 0 as the reference
does, values clamped to the int64 range first), integers wrap, anything to boolean is `!= 0`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import NodeLowering, lowers
from irforge.runtime.devices.cpu.tensors import torch_dtype

_I64 = (-(2 ** 63), 2 ** 63 - 1)


@lowers("Convert", "ConvertLike")
class ConvertLowering(NodeLowering):
    fresh = False  # a conversion to the same type returns the input

    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node)

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        src, dst = node.inputs[0].element_type, node.outputs[0].element_type
        dt = torch_dtype(dst)
        assert dt is not None
        if dst.name == "boolean":
            return (lambda x: x != 0), "torch_convert"
        if src.is_float and dst.is_integral:
            def to_int(x: Any) -> Any:
                t = torch.nan_to_num(torch.trunc(x.double()), nan=0.0, posinf=0.0, neginf=0.0)
                return t.clamp(*_I64).to(torch.int64).to(dt)
            return to_int, "torch_convert"
        return (lambda x: x.to(dt)), "torch_convert"


@lowers("ShapeOf")
class ShapeOfLowering(NodeLowering):
    traceable = False  # only planned for shapes the data decides: a trace would freeze one
    def supports(self, node: Node, g: GraphView) -> bool:
        return node.outputs[0].element_type.name in ("i32", "i64")

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        dt = torch_dtype(node.outputs[0].element_type)
        return (lambda x: torch.tensor(tuple(x.shape), dtype=dt)), "torch_shapeof"
