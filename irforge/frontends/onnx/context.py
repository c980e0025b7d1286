"""What a translator sees of one ONNX node: its inputs as IR values, its attributes, and helpers that
create IR nodes named after it."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from irforge.errors import UnsupportedOpsError
from irforge.ir.graph import Model, Node, Output, constant, make

if TYPE_CHECKING:
    from irforge.frontends.onnx.converter import GraphConverter

_REQUIRED = object()


class UnsupportedAttribute(UnsupportedOpsError):
    """Raised by a translator for an attribute value (or input form) irforge does not support."""


@dataclass
class SubGraph:
    """A converted ONNX sub-graph: its Model (declared inputs first, then one Parameter per outer-scope value
    it reads) and, in the same order as those extra Parameters, the outer values that feed them."""

    model: Model
    captured: list[Output]
    num_declared_inputs: int


class NodeContext:
    def __init__(self, conv: "GraphConverter", node: onnx.NodeProto, opset: int, name: str) -> None:
        self.conv = conv
        self.node = node
        self.opset = opset
        self.name = name
        self.op_type = node.op_type
        self.created: list[Node] = []
        self._attrs = {a.name: a for a in node.attribute}

    # ---------------------------------------------------------------- inputs
    @property
    def num_inputs(self) -> int:
        return len(self.node.input)

    @property
    def num_outputs(self) -> int:
        return len(self.node.output)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def input(self, i: int) -> Output:
        if not self.has_input(i):
            raise UnsupportedAttribute(f"{self.op_type} node '{self.name}': required input {i} is missing")
        return self.conv.get(self.node.input[i])

    def optional_input(self, i: int) -> Output | None:
        return self.input(i) if self.has_input(i) else None

    def inputs(self) -> list[Output]:
        """All present inputs, in order (missing optional ones skipped)."""
        return [self.input(i) for i in range(self.num_inputs) if self.has_input(i)]

    def input_value(self, i: int) -> np.ndarray | None:
        """The conversion-time value of input `i` (a constant or a foldable shape sub-graph), or None."""
        return self.input(i).constant_value() if self.has_input(i) else None

    # ---------------------------------------------------------------- attributes
    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = _REQUIRED) -> Any:
        """The attribute value: ints/floats/strings (decoded) and their lists, tensors as arrays, graphs as
        GraphProto. Missing without a default is an error naming the node."""
        a = self._attrs.get(name)
        if a is None:
            if default is _REQUIRED:
                raise UnsupportedAttribute(f"{self.op_type} node '{self.name}': missing attribute '{name}'")
            return default
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            return v.decode("utf-8")
        if isinstance(v, list) and v and isinstance(v[0], bytes):
            return [x.decode("utf-8") for x in v]
        if isinstance(v, onnx.TensorProto):
            return self.conv.external.to_array(v)
        return v

    def unsupported(self, what: str) -> UnsupportedAttribute:
        """An error to raise for an unsupported attribute value: `raise ctx.unsupported("mode='foo'")`."""
        return UnsupportedAttribute(f"{self.op_type} (node '{self.name}'): {what}")

    # ---------------------------------------------------------------- building IR
    def make(self, type_name: str, inputs: Sequence[Output] = (), version: str | None = None, **attrs: Any) -> Node:
        """Create an IR node named `<onnx node name>/<type>` (the converter renames the one producing the ONNX
        node's first output to the ONNX node's own name)."""
        node = make(type_name, inputs, name=self.conv.unique_name(f"{self.name}/{type_name}"), version=version,
                    **attrs)
        self.created.append(node)
        return node

    def op(self, type_name: str, *inputs: Output, **attrs: Any) -> Output:
        """`make(...)` returning the single output."""
        return self.make(type_name, inputs, **attrs).output(0)

    def const(self, value: Any, dtype: Any = None) -> Output:
        out = constant(value, dtype, name=self.conv.unique_name(f"{self.name}/Constant"))
        self.created.append(out.node)
        return out

    def subgraph(self, attr_name: str, inline: bool = False) -> SubGraph:
        """Convert the graph attribute `attr_name` as a body: inputs become Parameters, outer-scope values it
        reads become extra Parameters (listed in `captured`). With `inline`, outer values are read directly
        (nothing is captured): the sub-graph's results then compute in the enclosing graph."""
        from irforge.frontends.onnx.converter import GraphConverter

        g = self.attr(attr_name)
        if not isinstance(g, onnx.GraphProto):
            raise self.unsupported(f"attribute '{attr_name}' is not a graph")
        sub = GraphConverter(g, self.conv.opsets, parent=self.conv, name=f"{self.name}/{attr_name}", inline=inline)
        model = sub.convert()
        return SubGraph(model, [outer for outer, _ in sub.captured], len(g.input))
