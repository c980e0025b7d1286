"""OpenVINO's Python API spellings on irforge's graph classes: ports (`Output`), nodes and `Model`.

irforge's own code reads attributes (`port.shape`, `port.element_type`, `model.parameters`); OpenVINO's users
call methods (`port.get_partial_shape()`, `model.get_parameters()`, `model.reshape(...)`). These mixins add the
second spelling onto the first, so a script written for `import openvino as ov` runs on irforge's objects.
One difference stays: `port.shape` is a PartialShape (OpenVINO gives a static Shape and raises for dynamic ones);
its static dims compare equal to ints and can be used as ints."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from irforge.ir.shape import PartialShape, Shape
from irforge.openvino_names import OpenVINONames
from irforge.ir.types import ElementType

if TYPE_CHECKING:
    from irforge.ir.graph import Model, Node, Output


class PortAPI(OpenVINONames):
    """OpenVINO's `Output`/`ConstOutput` methods."""

    __slots__ = ()
    _openvino_class = "Output"

    def get_partial_shape(self: "Output") -> PartialShape:
        return self.shape

    @property
    def partial_shape(self: "Output") -> PartialShape:
        return self.shape

    def get_shape(self: "Output") -> Shape:
        """The static shape; raises ValueError naming the port when it is dynamic."""
        if not self.shape.is_static:
            raise ValueError(f"port '{self.name}' has a dynamic shape {self.shape.to_string()}; "
                             "use get_partial_shape()")
        return self.shape.to_shape()

    def get_element_type(self: "Output") -> ElementType:
        return self.element_type

    def get_any_name(self: "Output") -> str:
        """One of the tensor's names (the first in sorted order); raises when the tensor has none."""
        if not self.names:
            raise ValueError(f"output {self.index} of node '{self.node.name}' has no tensor names")
        return sorted(self.names)[0]

    @property
    def any_name(self: "Output") -> str:
        return self.get_any_name()

    def get_names(self: "Output") -> set[str]:
        return set(self.names)

    def set_names(self: "Output", names: Iterable[str]) -> None:
        self.names = {_checked_name(n) for n in names}

    def add_names(self: "Output", names: Iterable[str]) -> None:
        self.names |= {_checked_name(n) for n in names}

    def get_index(self: "Output") -> int:
        return self.index

    def get_node(self: "Output") -> "Node":
        return self.node

    def get_rt_info(self: "Output") -> dict[str, Any]:
        return self.rt_info

    def __repr__(self: "Output") -> str:
        return f"<Output: names[{', '.join(sorted(self.names))}] shape{self.shape.to_string()} type: {self.element_type}>"


class NodeAPI(OpenVINONames):
    """OpenVINO's `Node` methods (what `Model.get_ops()` and `Output.get_node()` give)."""

    __slots__ = ()
    _openvino_class = "Node"

    def get_friendly_name(self: "Node") -> str:
        return self.name

    def set_friendly_name(self: "Node", name: str) -> None:
        self.name = _checked_name(name)

    friendly_name = property(get_friendly_name, set_friendly_name)

    def get_name(self: "Node") -> str:
        return self.name

    def get_type_name(self: "Node") -> str:
        return self.type

    def get_input_size(self: "Node") -> int:
        return len(self.inputs)

    def get_output_size(self: "Node") -> int:
        return len(self.outputs)

    def get_output_partial_shape(self: "Node", index: int) -> PartialShape:
        return self.outputs[index].shape

    def get_output_element_type(self: "Node", index: int) -> ElementType:
        return self.outputs[index].element_type

    def get_output_shape(self: "Node", index: int) -> Shape:
        return self.outputs[index].get_shape()

    def get_input_partial_shape(self: "Node", index: int) -> PartialShape:
        return self.inputs[index].shape

    def get_input_element_type(self: "Node", index: int) -> ElementType:
        return self.inputs[index].element_type

    def get_input_shape(self: "Node", index: int) -> Shape:
        return self.inputs[index].get_shape()

    def get_element_type(self: "Node") -> ElementType:
        """The element type of a one-output node (Parameter, Constant)."""
        return self.outputs[0].element_type

    def get_partial_shape(self: "Node") -> PartialShape:
        return self.outputs[0].shape

    def get_rt_info(self: "Node") -> dict[str, Any]:
        return self.rt_info

    def get_layout(self: "Node") -> Any:
        """The layout (irforge.ir.layout.Layout) of a Parameter or Result, as OpenVINO's `get_layout`."""
        from irforge.ir.layout import layout_port, port_layout

        return port_layout(layout_port(self))

    def set_layout(self: "Node", layout: Any) -> None:
        """Give a Parameter or Result a layout (a Layout or text; empty removes it), as OpenVINO's `set_layout`."""
        from irforge.ir.layout import layout_port, set_port_layout

        set_port_layout(layout_port(self), layout, f"{self.type} '{self.name}' set_layout")

    layout = property(get_layout, set_layout)

    def get_data(self: "Node") -> Any:
        """A Constant's value (read-only NumPy array)."""
        if self.data is None:
            raise ValueError(f"node '{self.name}' ({self.type}) is not a Constant")
        view = self.data.view()
        view.flags.writeable = False
        return view

    def __repr__(self: "Node") -> str:
        shapes = ", ".join(f"{o.shape.to_string()}, {o.element_type}" for o in self.outputs)
        return f"<{self.type}: '{self.name}' ({shapes})>"


class ModelAPI(OpenVINONames):
    """OpenVINO's `Model` methods."""

    _openvino_class = "Model"

    def reshape(self: "Model", shapes: Any, variables_shapes: dict[str, Any] | None = None) -> None:
        """New input shapes, in every form OpenVINO takes: one shape for a one-input model (a list/tuple of
        dims, a PartialShape, a string `"[1,3,?,1..8]"`), or a dict keyed by input name, index or port. Dims: ints
        (-1 dynamic), Dimensions, strings (`?`, `1..8`) or (min, max) pairs."""
        from irforge.mo.api_args import reshape_model

        if variables_shapes:
            raise NotImplementedError("Model.reshape: variables_shapes (stateful models) are not supported yet")
        reshape_model(self, shapes)

    def get_parameters(self: "Model") -> list["Node"]:
        return list(self.parameters)

    def get_results(self: "Model") -> list["Node"]:
        return list(self.results)

    def get_result(self: "Model") -> "Node":
        if len(self.results) != 1:
            raise ValueError(f"get_result: the model has {len(self.results)} results; use get_results()")
        return self.results[0]

    @property
    def result(self: "Model") -> "Node":
        return self.get_result()

    def get_ops(self: "Model") -> list["Node"]:
        """Every node, Parameters, Constants and Results included."""
        return self.nodes()

    def get_ordered_ops(self: "Model") -> list["Node"]:
        """Every node in topological order."""
        return self.nodes()

    def get_name(self: "Model") -> str:
        return self.name

    def get_friendly_name(self: "Model") -> str:
        return self.name

    def set_friendly_name(self: "Model", name: str) -> None:
        self.name = _checked_name(name)

    friendly_name = property(get_friendly_name, set_friendly_name)

    def get_output_size(self: "Model") -> int:
        return len(self.results)

    def get_output_op(self: "Model", index: int) -> "Node":
        return self.results[index]

    def get_output_element_type(self: "Model", index: int) -> ElementType:
        return self.outputs[index].element_type

    def get_output_partial_shape(self: "Model", index: int) -> PartialShape:
        return self.outputs[index].shape

    def get_output_shape(self: "Model", index: int) -> Shape:
        return self.outputs[index].get_shape()

    def get_parameter_index(self: "Model", parameter: "Node") -> int:
        return next((i for i, p in enumerate(self.parameters) if p is parameter), -1)

    def get_result_index(self: "Model", value: "Node | Output") -> int:
        from irforge.ir.graph import Output

        for i, r in enumerate(self.results):
            if r is value or (isinstance(value, Output) and r.inputs[0] is value):
                return i
        return -1

    def is_dynamic(self: "Model") -> bool:
        return any(not o.shape.is_static for n in self.nodes() for o in n.outputs)

    def clone(self: "Model") -> "Model":
        from irforge.ir.clone import clone_model

        return clone_model(self)[0]

    def add_outputs(self: "Model", outputs: Any) -> list["Output"]:
        """Make inner tensors model outputs too: a tensor name, a port, or a list of them (OpenVINO's forms);
        returns the new outputs."""
        from irforge.ir.graph import Output, result
        from irforge.mo.cut import tensor_index

        items = outputs if isinstance(outputs, (list, tuple)) and not _is_name_port_pair(outputs) else [outputs]
        added = []
        index: dict[str, Output] | None = None
        for item in items:
            if isinstance(item, Output):
                port = item
            elif isinstance(item, str):
                index = index if index is not None else tensor_index(self)
                if item not in index:
                    raise KeyError(f"add_outputs: the model has no tensor '{item}'")
                port = index[item]
            elif _is_name_port_pair(item):
                node = next((n for n in self.nodes() if n.name == item[0]), None)
                if node is None or not 0 <= item[1] < len(node.outputs):
                    raise KeyError(f"add_outputs: the model has no node '{item[0]}' with output {item[1]}")
                port = node.outputs[item[1]]
            else:
                raise TypeError(f"add_outputs: expected a tensor name, an Output or a (node name, port) pair, "
                                f"got {item!r}")
            existing = next((r for r in self.results if r.inputs[0] is port), None)
            if existing is None:
                self.results.append(result(port))
            added.append(port)
        return added

    # ---- rt_info: the model's <rt_info> section, a tree of named entries with values
    def get_rt_info(self: "Model", path: str | Sequence[str] | None = None) -> Any:
        """The whole rt_info as nested dicts of strings (no `path`), or the value at `path` (a key or a list
        of keys, as in OpenVINO: `model.get_rt_info(["runtime_options", "KV_CACHE_PRECISION"])`)."""
        tree = _rt_tree(self)
        if path is None:
            return tree
        node: Any = tree
        for key in _path(path):
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"get_rt_info: no rt_info entry {'/'.join(_path(path))}")
            node = node[key]
        return node

    def has_rt_info(self: "Model", path: str | Sequence[str]) -> bool:
        try:
            self.get_rt_info(path)
        except KeyError:
            return False
        return True

    def set_rt_info(self: "Model", value: Any, path: str | Sequence[str]) -> None:
        """Set the rt_info entry at `path` (written to the IR's <rt_info> section by save_model)."""
        keys = _path(path)
        elements: list[ET.Element] = self.rt_info.setdefault("xml", [])
        parent: ET.Element | None = None
        siblings = elements
        for depth, key in enumerate(keys):
            el = next((e for e in siblings if e.tag == key), None)
            if el is None:
                el = ET.Element(key)
                if parent is None:
                    elements.append(el)
                else:
                    parent.append(el)
            if depth == len(keys) - 1:
                el.set("value", _rt_value(value))
            parent, siblings = el, list(el)


def _checked_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a name must be a string, got {type(name).__name__}")
    return name


def _is_name_port_pair(value: object) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str) \
        and isinstance(value[1], int)


def _path(path: str | Sequence[str]) -> list[str]:
    return [path] if isinstance(path, str) else [str(p) for p in path]


def _rt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _rt_tree(model: "Model") -> dict[str, Any]:
    def walk(el: ET.Element) -> Any:
        children = list(el)
        if not children:
            return el.get("value", "")
        return {c.tag: walk(c) for c in children}

    return {el.tag: walk(el) for el in model.rt_info.get("xml", [])}
