"""The in-memory IR: `Output` (a value), `Node` (an op instance) and `Model` (parameters -> results).

Every Output knows its uses, so rewiring is one call (`Output.replace_all_uses_with`) and a node is dead when
no path leads from it to a Result. Nodes are created through `make`, which validates attributes against the
op's schema and runs the op's type and shape inference.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.errors import GraphError
from irforge.ir.ov_api import ModelAPI, NodeAPI, PortAPI
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type

if TYPE_CHECKING:
    from irforge.ir.opset import OpSpec

_ids = itertools.count()


class Output(PortAPI):
    """Output port `index` of `node`: one tensor value with its type, shape, tensor names and uses."""

    __slots__ = ("node", "index", "element_type", "shape", "names", "uses", "rt_info")

    def __init__(self, node: "Node", index: int, element_type: ElementType, shape: PartialShape) -> None:
        self.node = node
        self.index = index
        self.element_type = element_type
        self.shape = shape
        self.names: set[str] = set()
        self.uses: list[tuple[Node, int]] = []  # (consumer, its input index)
        self.rt_info: dict[str, str] = {}

    @property
    def name(self) -> str:
        """A display name: the first tensor name, else `node_name:index`."""
        if self.names:
            return sorted(self.names)[0]
        return self.node.name if len(self.node.outputs) == 1 else f"{self.node.name}:{self.index}"

    def replace_all_uses_with(self, other: "Output", move_names: bool = True) -> None:
        """Point every consumer of this value at `other` (Results included); move tensor names along."""
        if other is self:
            return
        for consumer, i in list(self.uses):
            consumer.set_input(i, other)
        if move_names:
            other.names |= self.names
            self.names = set()

    def constant_value(self) -> np.ndarray | None:
        """The value if it is known at conversion time (a Constant or a small foldable sub-graph), else None."""
        from irforge.ir.static_value import static_value

        return static_value(self)


class Node(NodeAPI):
    """One op instance. Create nodes with `make`, not directly."""

    __slots__ = ("op", "name", "attrs", "inputs", "outputs", "rt_info", "bodies", "data", "uid")

    def __init__(self, op: "OpSpec", inputs: Sequence[Output], attrs: dict[str, Any], name: str | None) -> None:
        self.uid = next(_ids)
        self.op = op
        self.name = name if name else f"{op.type_name}_{self.uid}"
        self.attrs = attrs
        self.inputs: list[Output] = []
        self.outputs: list[Output] = []
        self.rt_info: dict[str, str] = {}
        self.bodies: list[Model] = []  # sub-graphs of If/Loop/TensorIterator
        self.data: np.ndarray | None = None  # the value of a Constant
        for i, src in enumerate(inputs):
            self.inputs.append(src)
            src.uses.append((self, i))

    @property
    def type(self) -> str:
        return self.op.type_name

    @property
    def version(self) -> str:
        return self.op.version

    def output(self, index: int = 0) -> Output:
        return self.outputs[index]

    def input_value(self, index: int) -> np.ndarray | None:
        """The conversion-time value of input `index` (see `Output.constant_value`), or None."""
        return self.inputs[index].constant_value() if index < len(self.inputs) else None

    def set_input(self, index: int, src: Output) -> None:
        """Rewire input `index` to `src`, keeping both sides' use lists exact."""
        old = self.inputs[index]
        old.uses.remove((self, index))
        self.inputs[index] = src
        src.uses.append((self, index))

    def detach(self) -> None:
        """Drop this node's uses of its inputs (after it has been bypassed)."""
        for i, src in enumerate(self.inputs):
            if (self, i) in src.uses:
                src.uses.remove((self, i))

    def infer(self) -> None:
        """Run the op's type and shape inference; create outputs on first call, update them in place after."""
        types = self.op.infer(self)
        if not self.outputs:
            self.outputs = [Output(self, i, t, s) for i, (t, s) in enumerate(types)]
            return
        if len(types) != len(self.outputs):
            raise GraphError(f"node '{self.name}' ({self.type}) changed its number of outputs on re-inference")
        for out, (t, s) in zip(self.outputs, types):
            out.element_type, out.shape = t, s


def make(
    type_name: str,
    inputs: Sequence[Output] = (),
    name: str | None = None,
    version: str | None = None,
    **attrs: Any,
) -> Node:
    """Create a node of op `type_name` (newest registered version unless `version` is given), validate its
    attributes, and infer its outputs. Raises GraphError naming the node when inference fails."""
    from irforge.ir.opset import get_op

    op = get_op(type_name, version)
    full = op.check_attrs(attrs, name or type_name)
    node = Node(op, inputs, full, name)
    try:
        node.infer()
    except GraphError:
        node.detach()
        raise
    except Exception as e:  # shape/type inference failures become errors that name the node
        node.detach()
        shapes = ", ".join(f"{i.element_type}[{i.shape}]" for i in inputs)
        raise GraphError(f"node '{node.name}' ({type_name}): {e} (inputs: {shapes})") from e
    return node


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Output:
    """A Constant node holding `value` (converted to `dtype` when given); returns its output."""
    arr = np.asarray(value, dtype=dtype)
    et = Type.from_dtype(arr.dtype)
    node = make("Constant", [], name=name, element_type=et, shape=list(arr.shape))
    node.data = arr if arr.flags.c_contiguous else arr.copy(order="C")
    return node.output(0)


def parameter(element_type: ElementType, shape: PartialShape | Iterable[Any] | None, name: str) -> Node:
    """A Parameter node; its output carries tensor name `name`."""
    ps = shape if isinstance(shape, PartialShape) else PartialShape(shape)
    node = make("Parameter", [], name=name, element_type=element_type, shape=ps)
    node.output(0).names.add(name)
    return node


def result(src: Output, name: str | None = None) -> Node:
    """A Result node reading `src`."""
    return make("Result", [src], name=name or f"{src.name}/sink_port_0")


class Model(ModelAPI):
    """A graph from `parameters` (model inputs, in order) to `results` (model outputs, in order)."""

    def __init__(self, results: "Sequence[Node | Output] | Node | Output", parameters: Sequence[Node],
                 name: str = "model") -> None:
        """`results`: Result nodes, or values (Outputs, or nodes with one output) that get a Result each, as
        OpenVINO's `Model(results, parameters, name)` takes them."""
        if isinstance(results, (Node, Output)):
            results = [results]
        self.results = [_as_result(r) for r in results]
        self.parameters = list(parameters)
        for p in self.parameters:
            if not isinstance(p, Node) or p.type != "Parameter":
                raise GraphError(f"Model: parameters must be Parameter nodes, got {p!r}")
        self.name = name
        self.rt_info: dict[str, Any] = {}

    @property
    def inputs(self) -> list[Output]:
        return [p.output(0) for p in self.parameters]

    @property
    def outputs(self) -> list[Output]:
        return [r.inputs[0] for r in self.results]

    def output_names(self) -> list[str]:
        """One display name per model output: the name its Result was made for (`NAME/sink_port_0`) when that
        is one of the tensor's names, else the tensor's first name."""
        names = []
        for r in self.results:
            src = r.inputs[0]
            base = r.name.removesuffix("/sink_port_0")
            names.append(base if base in src.names else src.name)
        return names

    def input(self, key: int | str = 0) -> Output:
        return _find_port(self.inputs, key, "input")

    def output(self, key: int | str = 0) -> Output:
        return _find_port(self.outputs, key, "output")

    def nodes(self) -> list[Node]:
        """All live nodes in a deterministic topological order: Parameters first (model order), then ops in
        depth-first post-order from the Results (inputs in port order), then Results (model order)."""
        order: list[Node] = list(self.parameters)
        seen: set[int] = {p.uid for p in self.parameters}
        result_ids = {r.uid for r in self.results}
        for res in self.results:
            stack: list[tuple[Node, int]] = [(res, 0)]
            while stack:
                node, i = stack.pop()
                if i < len(node.inputs):
                    stack.append((node, i + 1))
                    producer = node.inputs[i].node
                    if producer.uid not in seen:
                        seen.add(producer.uid)
                        stack.append((producer, 0))
                elif node.uid not in result_ids:
                    order.append(node)
        order.extend(self.results)
        return order

    def ops(self) -> list[Node]:
        """Live nodes other than Parameters and Results, in topological order."""
        return [n for n in self.nodes() if n.type not in ("Parameter", "Result")]

    def histogram(self) -> dict[str, int]:
        """Count of live nodes by op type."""
        counts: dict[str, int] = {}
        for n in self.nodes():
            counts[n.type] = counts.get(n.type, 0) + 1
        return dict(sorted(counts.items()))

    def validate(self) -> None:
        """Check the structure: uses are exact both ways, Parameters are listed, no cycles, types re-infer."""
        nodes = self.nodes()
        live = {n.uid for n in nodes}
        params = {p.uid for p in self.parameters}
        for n in nodes:
            if n.type == "Parameter" and n.uid not in params:
                raise GraphError(f"Parameter '{n.name}' is used but not listed among the model's parameters")
            for i, src in enumerate(n.inputs):
                if (n, i) not in src.uses:
                    raise GraphError(f"node '{n.name}' input {i} is missing from its producer's uses")
            for out in n.outputs:
                for consumer, i in out.uses:
                    if consumer.uid in live and consumer.inputs[i] is not out:
                        raise GraphError(f"stale use of '{n.name}' output {out.index} by '{consumer.name}'")
            for out, (t, s) in zip(n.outputs, n.op.infer(n)):
                if out.element_type != t or out.shape != s:
                    raise GraphError(
                        f"node '{n.name}' ({n.type}) output {out.index} is {out.element_type}[{out.shape}] "
                        f"but infers {t}[{s}]"
                    )
            for body in n.bodies:
                body.validate()
        _check_acyclic(nodes)

    def __repr__(self) -> str:
        return f"<Model '{self.name}' inputs={self.inputs} outputs={self.outputs}>"


def _as_result(value: "Node | Output") -> Node:
    if isinstance(value, Node) and value.type == "Result":
        return value
    if isinstance(value, Node):
        if len(value.outputs) != 1:
            raise GraphError(f"Model: node '{value.name}' has {len(value.outputs)} outputs; pass one of its ports")
        value = value.outputs[0]
    if not isinstance(value, Output):
        raise GraphError(f"Model: results must be Result nodes or ports, got {value!r}")
    return result(value)


def _find_port(ports: list[Output], key: int | str, kind: str) -> Output:
    if isinstance(key, int):
        return ports[key]
    for p in ports:
        if key in p.names or key == p.node.name:
            return p
    known = ", ".join(p.name for p in ports)
    raise KeyError(f"no model {kind} named '{key}' (the model has: {known})")


def _check_acyclic(nodes: list[Node]) -> None:
    position = {n.uid: i for i, n in enumerate(nodes)}
    for n in nodes:
        for src in n.inputs:
            if position.get(src.node.uid, -1) >= position[n.uid]:
                raise GraphError(f"cycle or dangling input at node '{n.name}'")
