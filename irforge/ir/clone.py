"""Copy a Model's graph: new Node/Output objects with the same ops, attributes, types, shapes, tensor names and
rt_info; Constant data arrays are shared (treat them as read-only), sub-graph bodies are copied too."""
from __future__ import annotations

import copy

import numpy as np

from irforge.ir.graph import Model, Node, Output, constant


def clone_model(model: Model) -> tuple[Model, dict[int, Node]]:
    """A copy of `model` and the map original node uid -> its copy (every live node, Parameters and Results
    included). Node names are kept; no type inference is re-run."""
    mapping: dict[int, Node] = {}
    for node in model.nodes():
        inputs = [_copied_output(mapping, src) for src in node.inputs]
        new = Node(node.op, inputs, dict(node.attrs), node.name)
        new.rt_info = copy.deepcopy(node.rt_info)
        new.data = node.data
        new.bodies = [clone_model(body)[0] for body in node.bodies]
        for out in node.outputs:
            twin = Output(new, out.index, out.element_type, out.shape)
            twin.names = set(out.names)
            twin.rt_info = copy.deepcopy(out.rt_info)
            new.outputs.append(twin)
        mapping[node.uid] = new
    params = [mapping[p.uid] for p in model.parameters]
    results = [mapping[r.uid] for r in model.results]
    twin_model = Model(results, params, model.name)
    twin_model.rt_info = {k: copy.copy(v) for k, v in model.rt_info.items()}
    return twin_model, mapping


def _copied_output(mapping: dict[int, Node], src: Output) -> Output:
    return mapping[src.node.uid].outputs[src.index]


def bind_parameters(model: Model, values: dict[int, np.ndarray]) -> Model:
    """A copy of `model` where Parameter i (its index in `model.parameters`) is the Constant `values[i]`; the
    other Parameters stay, in order. A control-flow body whose op input is known before running (a weight the
    outer graph passes in) is compiled with it as a Constant: folded, prepacked, fused like any weight."""
    twin, _ = clone_model(model)
    for i, value in values.items():
        param = twin.parameters[i]
        param.output(0).replace_all_uses_with(constant(value, name=param.name))
    kept = [p for i, p in enumerate(twin.parameters) if i not in values]
    bound = Model(twin.results, kept, twin.name)
    bound.rt_info = twin.rt_info
    return bound
