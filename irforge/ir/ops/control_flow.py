"""Ops with sub-graph bodies: If (opset8), Loop (opset5), TensorIterator (opset1).

A body is a `Model` in `node.bodies`; port maps are `object` attributes that tie the op's inputs/outputs to body
Parameters/Results by their index in `body.parameters` / `body.results`. In IR files they are written exactly as
OpenVINO's serializer writes them: `<port_map>`/`<back_edges>` (or `<else_port_map>`, `<then_port_map>`) naming
body layers by id, and the bodies as `<body>` (or `<then_body>`, `<else_body>`) sections after `<output>`.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.errors import GraphError, ModelReadError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Model, Node
    from irforge.ir.xml_io import ReadBody, WriteBody


RunBody = Callable[[int, list[np.ndarray]], list[np.ndarray]]  # (body index, Parameter values) -> Result values


@dataclass(frozen=True)
class Slicing:
    """How a TensorIterator/Loop input is cut into per-iteration parts (or an output is concatenated):
    `part_size` elements of `axis` per iteration, from `start` to `end` (both inclusive, negative counts from the
    end: -1 is the last element), backwards when `stride` < 0."""

    axis: int
    start: int = 0
    stride: int = 1
    part_size: int = 1
    end: int = -1


@dataclass(frozen=True)
class InputDesc:
    """Op input `input_index` feeds body Parameter `body_param`: as is (invariant), sliced per iteration
    (`slicing`), or replaced after each iteration by body Result `back_edge` (a merged input)."""

    input_index: int
    body_param: int
    slicing: Slicing | None = None
    back_edge: int | None = None


@dataclass(frozen=True)
class OutputDesc:
    """Op output `output_index` is body Result `body_result`: its last value, or with `slicing` the
    concatenation of its values over all iterations."""

    output_index: int
    body_result: int
    slicing: Slicing | None = None


def merge_shapes(a: PartialShape, b: PartialShape) -> PartialShape:
    """The shape covering both: equal dims kept, differing dims dynamic, differing ranks a dynamic rank."""
    if not a.rank_is_static or not b.rank_is_static or a.rank != b.rank:
        return PartialShape(None)
    return PartialShape([x if x == y else Dimension() for x, y in zip(a.dims, b.dims)])


def _refined(inner: PartialShape, outer: PartialShape) -> PartialShape:
    """A body Parameter's shape given the shape of the value the op feeds it: the outer value's where it says
    more (its rank, and each static dimension), the Parameter's own elsewhere."""
    if not outer.rank_is_static:
        return inner
    if not inner.rank_is_static or inner.rank != outer.rank:
        return outer
    return PartialShape([o if o.is_static else i for i, o in zip(inner.dims, outer.dims)])


def refine_body(node: "Node", body: "Model", descs: tuple[Any, ...]) -> None:
    """Give the body Parameters fed as a whole by `descs` (no slicing, no back edge) the types and shapes of the
    op's inputs and re-infer the body when one changed, as OpenVINO's If/Loop inference does: an ONNX subgraph
    declares its outer-scope values without shapes, and a body inferred from unknown shapes gives results of
    dynamic rank, which OpenVINO's CPU plugin refuses for If."""
    changed = False
    old: dict[int, tuple[PartialShape, Type]] = {}
    for d in descs:
        if getattr(d, "slicing", None) is not None or getattr(d, "back_edge", None) is not None:
            continue
        if d.input_index >= len(node.inputs) or d.body_param >= len(body.parameters):
            continue
        param = body.parameters[d.body_param]
        src = node.inputs[d.input_index]
        shape = _refined(param.attrs["shape"], src.shape)
        et = param.attrs["element_type"]
        et = src.element_type if et.is_dynamic and not src.element_type.is_dynamic else et
        if str(shape) != str(param.attrs["shape"]) or et != param.attrs["element_type"]:
            old[d.body_param] = (param.attrs["shape"], param.attrs["element_type"])
            param.attrs["shape"], param.attrs["element_type"] = shape, et
            changed = True
    if not changed:
        return
    try:
        for n in body.nodes():
            n.infer()
    except Exception:  # noqa: BLE001 - a branch that cannot take these shapes is not taken with them: keep its
        for d, (shape, et) in old.items():  # old inference
            body.parameters[d].attrs["shape"], body.parameters[d].attrs["element_type"] = shape, et
        for n in body.nodes():
            n.infer()


def _first(value: np.ndarray) -> Any:
    return np.asarray(value).reshape(-1)[0]


def _result_type(body: "Model", index: int) -> TypedShape:
    src = body.results[index].inputs[0]
    return src.element_type, src.shape


def _num_outputs(descs: tuple[OutputDesc, ...]) -> int:
    return max((d.output_index for d in descs), default=-1) + 1


# ---------------------------------------------------------------- XML port maps
def _body_layer_ids(body_el: ET.Element) -> tuple[list[int], list[int]]:
    """Layer ids of the body's Parameters and Results, in file order (= their index in the read Model)."""
    layers = body_el.find("layers")
    params, results = [], []
    for layer in layers.findall("layer") if layers is not None else []:
        kind = layer.get("type", "")
        if kind == "Parameter":
            params.append(int(layer.get("id", "-1")))
        elif kind == "Result":
            results.append(int(layer.get("id", "-1")))
    return params, results


def _slicing_attrib(external: int, internal: int, s: Slicing) -> dict[str, str]:
    """OpenVINO's attribute order for a sliced entry: axis first, then the ids, then start/end/stride/part_size."""
    return {"axis": str(s.axis), "external_port_id": str(external), "internal_layer_id": str(internal),
            "start": str(s.start), "end": str(s.end), "stride": str(s.stride), "part_size": str(s.part_size)}


def _parse_slicing(el: ET.Element) -> Slicing | None:
    if el.get("axis") is None:
        return None
    return Slicing(int(el.get("axis", "0")), int(el.get("start", "0")), int(el.get("stride", "1")),
                   int(el.get("part_size", "1")), int(el.get("end", "-1")))


def _write_body(tag: str, body: "Model", layer_el: ET.Element, write_body: "WriteBody") -> tuple[list[str], list[str]]:
    """Append `<tag>` with the body graph (and the empty `<rt_info/>` OpenVINO writes); returns the layer ids of
    its Parameters and Results by index."""
    body_el = ET.SubElement(layer_el, tag)
    ids = write_body(body, body_el)
    ET.SubElement(body_el, "rt_info")
    return [str(ids[p.uid]) for p in body.parameters], [str(ids[r.uid]) for r in body.results]


def _read_body(layer_el: ET.Element, tag: str, read_body: "ReadBody") -> tuple["Model", dict[int, int], dict[int, int]]:
    """Read body `<tag>`; returns it with maps layer id -> Parameter index and layer id -> Result index."""
    body_el = layer_el.find(tag)
    if body_el is None:
        raise ModelReadError(f"layer '{layer_el.get('name')}' ({layer_el.get('type')}) has no <{tag}>")
    params, results = _body_layer_ids(body_el)
    return read_body(body_el), {lid: i for i, lid in enumerate(params)}, {lid: i for i, lid in enumerate(results)}


def _lookup(table: dict[int, int], el: ET.Element, layer_el: ET.Element, what: str) -> int:
    lid = int(el.get("internal_layer_id", "-1"))
    if lid not in table:
        raise ModelReadError(f"layer '{layer_el.get('name')}': port map names body layer {lid}, which is no {what}")
    return table[lid]


def _num_op_inputs(layer_el: ET.Element) -> int:
    inp = layer_el.find("input")
    return len(inp.findall("port")) if inp is not None else 0


# ---------------------------------------------------------------- If
@register
class If(OpSpec):
    """Evaluates `then_body` (bodies[0]) when input 0 is true, else `else_body` (bodies[1]); only the taken branch
    runs. Input 0 is the condition; the other inputs feed body Parameters through the port maps."""

    type_name = "If"
    version = "opset8"
    attrs = (
        Attr("then_inputs", "object", ()),
        Attr("else_inputs", "object", ()),
        Attr("then_outputs", "object", ()),
        Attr("else_outputs", "object", ()),
    )
    min_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        n = _num_outputs(node.attrs["then_outputs"])
        if len(node.bodies) != 2:  # bodies are attached after creation (XML reader, ONNX frontend)
            return [(Type.dynamic, PartialShape(None))] * n
        cond = node.input_value(0)
        branches = [(node.bodies[0], node.attrs["then_inputs"], node.attrs["then_outputs"]),
                    (node.bodies[1], node.attrs["else_inputs"], node.attrs["else_outputs"])]
        if cond is not None:  # only the branch taken is inferred (the other may not take these shapes)
            branches = [branches[0] if bool(_first(cond)) else branches[1]]
        out: list[TypedShape | None] = [None] * n
        for body, in_descs, descs in branches:
            refine_body(node, body, in_descs)
            for d in descs:
                et, shape = _result_type(body, d.body_result)
                prev = out[d.output_index]
                if prev is not None:
                    et = prev[0] if et.is_dynamic else et
                    shape = merge_shapes(prev[1], shape)
                out[d.output_index] = (et, shape)
        return [o if o is not None else (Type.dynamic, PartialShape(None)) for o in out]

    def evaluate(self, node: "Node", inputs: list[np.ndarray], run_body: RunBody | None = None
                 ) -> list[np.ndarray]:
        """`run_body(i, args)` runs body i (0: then, 1: else) on its Parameters' values; the reference
        evaluator by default (a device passes its own compiled bodies)."""
        taken = 0 if bool(_first(inputs[0])) else 1
        body = node.bodies[taken]
        in_descs = node.attrs["then_inputs" if taken == 0 else "else_inputs"]
        args: list[np.ndarray | None] = [None] * len(body.parameters)
        for d in in_descs:
            args[d.body_param] = inputs[d.input_index]
        if any(a is None for a in args):
            raise GraphError(f"If '{node.name}': a {('then', 'else')[taken]} body Parameter has no input")
        if run_body is None:
            from irforge.ir.evaluate import evaluate_model

            values = evaluate_model(body, args)  # type: ignore[arg-type]
        else:
            values = run_body(taken, args)  # type: ignore[arg-type]
        outs: list[np.ndarray] = [np.empty(0)] * len(node.outputs)
        for d in node.attrs["then_outputs" if taken == 0 else "else_outputs"]:
            outs[d.output_index] = as_dtype(np.asarray(values[d.body_result]), node.outputs[d.output_index].element_type)
        return outs

    def xml_write_extra(self, node: "Node", layer_el: ET.Element, write_body: "WriteBody") -> None:
        n_in = len(node.inputs)
        maps = []
        for tag, body, prefix in (("then_body", node.bodies[0], "then"), ("else_body", node.bodies[1], "else")):
            params, results = _write_body(tag, body, layer_el, write_body)
            pm = ET.Element(f"{prefix}_port_map")
            for d in node.attrs[f"{prefix}_inputs"]:
                ET.SubElement(pm, "input", {"external_port_id": str(d.input_index),
                                            "internal_layer_id": params[d.body_param]})
            for o in node.attrs[f"{prefix}_outputs"]:
                ET.SubElement(pm, "output", {"external_port_id": str(n_in + o.output_index),
                                             "internal_layer_id": results[o.body_result]})
            maps.append(pm)
        for pm in maps:  # OpenVINO prepends each map in turn: else_port_map ends up first
            layer_el.insert(0, pm)

    def xml_read_extra(self, layer_el: ET.Element, attrs: dict[str, Any], read_body: "ReadBody") -> list["Model"]:
        n_in = _num_op_inputs(layer_el)
        bodies = []
        for prefix in ("then", "else"):
            body, params, results = _read_body(layer_el, f"{prefix}_body", read_body)
            pm = layer_el.find(f"{prefix}_port_map")
            entries = list(pm) if pm is not None else []
            attrs[f"{prefix}_inputs"] = tuple(
                InputDesc(int(e.get("external_port_id", "0")), _lookup(params, e, layer_el, "Parameter"))
                for e in entries if e.tag == "input")
            attrs[f"{prefix}_outputs"] = tuple(
                OutputDesc(int(e.get("external_port_id", "0")) - n_in, _lookup(results, e, layer_el, "Result"))
                for e in entries if e.tag == "output")
            bodies.append(body)
        return bodies


# ---------------------------------------------------------------- TensorIterator / Loop
def _bounds(dim: int, s: Slicing) -> tuple[int, int]:
    """The first and last (inclusive) index of a sliced axis of length `dim`, in ascending order."""
    start = s.start + dim if s.start < 0 else s.start
    end = s.end + dim if s.end < 0 else s.end
    return min(start, end), max(start, end)


def _slice_parts(value: np.ndarray, s: Slicing) -> list[np.ndarray]:
    """The per-iteration parts of a sliced input, in iteration order."""
    lo, hi = _bounds(value.shape[s.axis], s)
    parts = [np.take(value, np.arange(i, i + s.part_size), axis=s.axis)
             for i in range(lo, hi - s.part_size + 2, s.part_size)]
    return parts[::-1] if s.stride < 0 else parts


def _num_slices(shape: PartialShape, s: Slicing) -> int | None:
    if not shape.rank_is_static or shape[s.axis].is_dynamic:
        return None
    lo, hi = _bounds(shape[s.axis].get_length(), s)
    return (hi - lo + 1) // s.part_size


class _IteratingOp(OpSpec):
    """Shared by TensorIterator and Loop: the port maps (sliced, invariant and merged inputs; last-value and
    concatenated outputs), their shape inference, the iteration kernel and the `<port_map>` XML."""

    def static_iterations(self, node: "Node") -> int | None:
        """The iteration count when known at conversion time."""
        raise NotImplementedError

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        descs = node.attrs["output_descriptions"]
        n = _num_outputs(descs)
        if len(node.bodies) != 1:
            return [(Type.dynamic, PartialShape(None))] * n
        body = node.bodies[0]
        back = {d.back_edge: d.body_param for d in node.attrs["input_descriptions"] if d.back_edge is not None}
        iterations = self.static_iterations(node)
        out: list[TypedShape] = [(Type.dynamic, PartialShape(None))] * n
        for d in descs:
            et, shape = _result_type(body, d.body_result)
            if d.slicing is None:
                if d.body_result in back:  # a carried value may change shape between iterations
                    shape = merge_shapes(shape, body.parameters[back[d.body_result]].output(0).shape)
            elif shape.rank_is_static:
                dims = list(shape.dims)
                axis = d.slicing.axis % len(dims)
                part = dims[axis]
                dims[axis] = Dimension.of(part.get_length() * iterations) \
                    if iterations is not None and part.is_static else Dimension()
                shape = PartialShape(dims)
            out[d.output_index] = (et, shape)
        return out

    def slice_limit(self, node: "Node") -> int | None:
        """The number of iterations the sliced inputs allow (None: no sliced input or unknown)."""
        counts = [_num_slices(node.inputs[d.input_index].shape, d.slicing)
                  for d in node.attrs["input_descriptions"] if d.slicing is not None]
        known = [c for c in counts if c is not None]
        return min(known) if known and len(known) == len(counts) else None

    def iterate(self, node: "Node", inputs: list[np.ndarray], trip_count: float, run: bool,
                run_body: RunBody | None = None) -> list[np.ndarray]:
        """Run the body up to `trip_count` times while its condition holds (`run` is the initial condition);
        `run_body(0, args)` runs it once (the reference evaluator's plan by default)."""
        body = node.bodies[0]
        if run_body is None:
            from irforge.ir.evaluate import Plan

            plan = Plan(body)
            run_body = lambda _, args: plan.run(args)  # noqa: E731
        cur_idx, cond_idx = node.attrs.get("special_body_ports", (-1, -1))
        args: list[np.ndarray | None] = [None] * len(body.parameters)
        sliced: list[tuple[InputDesc, list[np.ndarray]]] = []
        for d in node.attrs["input_descriptions"]:
            if d.slicing is None:
                args[d.body_param] = inputs[d.input_index]
            else:
                sliced.append((d, _slice_parts(inputs[d.input_index], d.slicing)))
        if sliced:
            trip_count = min(trip_count, min(len(parts) for _, parts in sliced))
        merged = [d for d in node.attrs["input_descriptions"] if d.back_edge is not None]
        concat: dict[int, list[np.ndarray]] = {d.output_index: [] for d in node.attrs["output_descriptions"]
                                               if d.slicing is not None}
        last: list[np.ndarray] | None = None
        it = 0
        while run and it < trip_count:
            if cur_idx >= 0:
                p = body.parameters[cur_idx].output(0)
                shape = (1,) if p.shape.rank_is_static and p.shape.rank == 1 else ()
                args[cur_idx] = np.full(shape, it, dtype=p.element_type.dtype)
            for d, parts in sliced:
                args[d.body_param] = parts[it]
            missing = [i for i, a in enumerate(args) if a is None]
            if missing:
                raise GraphError(f"{node.type} '{node.name}': body Parameter(s) {missing} have no value")
            last = run_body(0, args)  # type: ignore[arg-type]
            for d in node.attrs["output_descriptions"]:
                if d.slicing is not None:
                    concat[d.output_index].append(last[d.body_result])
            for d in merged:
                args[d.body_param] = last[d.back_edge]  # type: ignore[index]
            if cond_idx >= 0:
                run = bool(_first(last[cond_idx]))
            it += 1
        outs: list[np.ndarray] = [np.empty(0)] * len(node.outputs)
        for d in node.attrs["output_descriptions"]:
            outs[d.output_index] = self._output(node, d, last, concat, inputs)
        return outs

    def _output(self, node: "Node", d: OutputDesc, last: list[np.ndarray] | None,
                concat: dict[int, list[np.ndarray]], inputs: list[np.ndarray]) -> np.ndarray:
        et = node.outputs[d.output_index].element_type
        if d.slicing is not None:
            parts = concat[d.output_index]
            if not parts:  # zero iterations: an empty tensor of the body value's shape
                shape = [max(x.to_int(), 0) for x in node.outputs[d.output_index].shape.dims]
                shape[d.slicing.axis] = 0
                return np.zeros(shape, et.dtype)
            parts = parts[::-1] if d.slicing.stride < 0 else parts
            return as_dtype(np.concatenate(parts, axis=d.slicing.axis), et)
        if last is not None:
            return as_dtype(np.asarray(last[d.body_result]), et)
        for m in node.attrs["input_descriptions"]:  # zero iterations: a carried value keeps its initial value
            if m.back_edge == d.body_result:
                return as_dtype(np.asarray(inputs[m.input_index]), et)
        raise GraphError(f"{node.type} '{node.name}': output {d.output_index} has no value after zero iterations")

    # ---------------------------------------------------------------- XML
    def xml_write_extra(self, node: "Node", layer_el: ET.Element, write_body: "WriteBody") -> None:
        # OpenVINO's order: port_map, back_edges, input, output, (rt_info), body
        for tag in ("output", "input"):
            el = layer_el.find(tag)
            if el is not None:
                layer_el.remove(el)
                layer_el.insert(0, el)
        params, results = _write_body("body", node.bodies[0], layer_el, write_body)
        pm = ET.Element("port_map")
        edges = ET.Element("back_edges")
        for d in node.attrs["input_descriptions"]:
            if d.slicing is not None:
                ET.SubElement(pm, "input", _slicing_attrib(d.input_index, int(params[d.body_param]), d.slicing))
            else:
                ET.SubElement(pm, "input", {"external_port_id": str(d.input_index),
                                            "internal_layer_id": params[d.body_param]})
            if d.back_edge is not None:
                ET.SubElement(edges, "edge", {"from-layer": results[d.back_edge], "to-layer": params[d.body_param]})
        n_in = len(node.inputs)
        for o in node.attrs["output_descriptions"]:
            if o.slicing is not None:
                ET.SubElement(pm, "output", _slicing_attrib(n_in + o.output_index, int(results[o.body_result]),
                                                            o.slicing))
            else:
                ET.SubElement(pm, "output", {"external_port_id": str(n_in + o.output_index),
                                             "internal_layer_id": results[o.body_result]})
        cur_idx, cond_idx = node.attrs.get("special_body_ports", (-1, -1))
        if cur_idx >= 0:
            ET.SubElement(pm, "input", {"external_port_id": "-1", "internal_layer_id": params[cur_idx],
                                        "purpose": "current_iteration"})
        if cond_idx >= 0:
            ET.SubElement(pm, "output", {"external_port_id": "-1", "internal_layer_id": results[cond_idx],
                                         "purpose": "execution_condition"})
        layer_el.insert(0, pm)
        if len(edges):
            layer_el.insert(1, edges)

    def xml_read_extra(self, layer_el: ET.Element, attrs: dict[str, Any], read_body: "ReadBody") -> list["Model"]:
        body, params, results = _read_body(layer_el, "body", read_body)
        back: dict[int, int] = {}  # body param index -> body result index
        edges_el = layer_el.find("back_edges")
        for e in edges_el.findall("edge") if edges_el is not None else []:
            to_l, from_l = int(e.get("to-layer", "-1")), int(e.get("from-layer", "-1"))
            if to_l not in params or from_l not in results:
                raise ModelReadError(f"layer '{layer_el.get('name')}': back edge {from_l} -> {to_l} does not join a "
                                     f"body Result to a body Parameter")
            back[params[to_l]] = results[from_l]
        n_in = _num_op_inputs(layer_el)
        pm = layer_el.find("port_map")
        inputs, outputs, special = [], [], [-1, -1]
        for e in list(pm) if pm is not None else []:
            ext = int(e.get("external_port_id", "-1"))
            if e.tag == "input":
                idx = _lookup(params, e, layer_el, "Parameter")
                if e.get("purpose") == "current_iteration":
                    special[0] = idx
                elif ext >= 0:
                    inputs.append(InputDesc(ext, idx, _parse_slicing(e), back.get(idx)))
            elif e.tag == "output":
                idx = _lookup(results, e, layer_el, "Result")
                if e.get("purpose") == "execution_condition":
                    special[1] = idx
                elif ext >= 0:
                    outputs.append(OutputDesc(ext - n_in, idx, _parse_slicing(e)))
        attrs["input_descriptions"] = tuple(inputs)
        attrs["output_descriptions"] = tuple(outputs)
        if any(a.name == "special_body_ports" for a in self.attrs):
            attrs["special_body_ports"] = tuple(special)
        return [body]


@register
class TensorIterator(_IteratingOp):
    """Runs the body once per part of its sliced inputs (there must be at least one)."""

    type_name = "TensorIterator"
    version = "opset1"
    attrs = (Attr("input_descriptions", "object", ()), Attr("output_descriptions", "object", ()))

    def static_iterations(self, node: "Node") -> int | None:
        return self.slice_limit(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray], run_body: RunBody | None = None
                 ) -> list[np.ndarray]:
        if not any(d.slicing is not None for d in node.attrs["input_descriptions"]):
            raise GraphError(f"TensorIterator '{node.name}' has no sliced input to iterate over")
        return self.iterate(node, inputs, math.inf, True, run_body)


@register
class Loop(_IteratingOp):
    """Input 0 is the trip count (negative: unbounded), input 1 the condition to run the first iteration;
    `special_body_ports` = (index of the body Parameter receiving the iteration number, index of the body Result
    deciding whether to continue), -1 where absent."""

    type_name = "Loop"
    version = "opset5"
    attrs = (
        Attr("input_descriptions", "object", ()),
        Attr("output_descriptions", "object", ()),
        Attr("special_body_ports", "object", (-1, -1)),
    )
    min_inputs = 2

    def static_iterations(self, node: "Node") -> int | None:
        trip, cond = node.input_value(0), node.input_value(1)
        if cond is not None and not bool(_first(cond)):
            return 0
        cond_idx = node.attrs["special_body_ports"][1]
        if trip is None or int(_first(trip)) < 0 or cond is None:
            return None
        if cond_idx >= 0:
            body_cond = node.bodies[0].results[cond_idx].inputs[0].constant_value()
            if body_cond is None or not bool(_first(body_cond)):
                return None
        limit = self.slice_limit(node)
        has_slices = any(d.slicing is not None for d in node.attrs["input_descriptions"])
        if has_slices and limit is None:
            return None
        count = int(_first(trip))
        return count if limit is None else min(count, limit)

    def evaluate(self, node: "Node", inputs: list[np.ndarray], run_body: RunBody | None = None
                 ) -> list[np.ndarray]:
        trip = int(_first(inputs[0]))
        return self.iterate(node, inputs, math.inf if trip < 0 else trip, bool(_first(inputs[1])), run_body)
