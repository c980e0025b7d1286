"""Cutting a model at named tensors: `--input` makes any inner tensor a new model input (the layers before it
drop out), `--output` makes the named tensors the model's outputs (the layers after them drop out)."""
from __future__ import annotations

import difflib
from collections.abc import Sequence

from irforge.errors import OptionError
from irforge.ir.graph import Model, Node, Output, parameter, result
from irforge.mo.options import InputSpec


def tensor_index(model: Model) -> dict[str, Output]:
    """Every tensor name (and node name, for single-output nodes) in the model -> its value."""
    index: dict[str, Output] = {}
    for node in model.nodes():
        if node.type == "Result":
            continue
        for out in node.outputs:
            for name in out.names:
                index.setdefault(name, out)
        if len(node.outputs) == 1:
            index.setdefault(node.name, node.outputs[0])
    return index


def suggest(model: Model, name: str) -> str:
    close = difflib.get_close_matches(name, list(tensor_index(model)), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _lookup(model: Model, name: str, option: str) -> Output:
    out = tensor_index(model).get(name)
    if out is None:
        raise OptionError(f"{option}: the model has no tensor '{name}'{suggest(model, name)}")
    return out


def used_parameters(model: Model) -> list[Node]:
    """The model's parameters that some result still depends on, in model order."""
    seen: set[int] = set()
    stack = [r for r in model.results]
    while stack:
        n = stack.pop()
        if n.uid in seen:
            continue
        seen.add(n.uid)
        stack.extend(i.node for i in n.inputs)
    return [p for p in model.parameters if p.uid in seen]


def cut_outputs(model: Model, names: Sequence[str]) -> None:
    """The named tensors become the model's outputs, in the given order."""
    outs = [_lookup(model, n, "--output") for n in names]
    for r in model.results:
        r.detach()
    model.results = [result(o, name=f"{n}/sink_port_0") for n, o in zip(names, outs)]
    model.parameters = used_parameters(model)


def cut_inputs(model: Model, specs: Sequence[InputSpec]) -> None:
    """Each named tensor becomes a model input (with the spec's shape/type, else its inferred ones). The listed
    inputs come first, in order, followed by original inputs still needed."""
    new_params: list[Node] = []
    for spec in specs:
        if spec.name is None:
            raise OptionError("--input: every entry needs a tensor name (NAME, NAME[shape] or NAME{type})")
        out = _lookup(model, spec.name, "--input")
        if out.node.type == "Parameter":
            param = out.node
            if spec.shape is not None:
                param.attrs["shape"] = spec.shape
            if spec.element_type is not None:
                param.attrs["element_type"] = spec.element_type
            param.infer()
        else:
            et = spec.element_type or out.element_type
            shape = spec.shape if spec.shape is not None else out.shape
            param = parameter(et, shape, spec.name)
            param.output(0).names = set(out.names) | {spec.name}
            out.replace_all_uses_with(param.output(0), move_names=False)
            out.names = set()
        new_params.append(param)
    model.parameters = new_params + [p for p in used_parameters(model) if p not in new_params]
