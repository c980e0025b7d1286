"""UnrollSmallLoops: a Loop or TensorIterator whose iteration count is known (a constant trip count and start
condition, a body that always continues, sliced inputs of static length) and small is replaced by that many copies
of its body, wired as the op's port maps say: sliced inputs become Slices of the outer value, carried values flow
from one copy to the next, invariant inputs are read as they are, the iteration number is a Constant, last-value
outputs come from the last copy and concatenated outputs are a Concat of the copies' values.

The CPU device runs it on each plan (specialize.py), where the input shapes are known: the copies are then
ordinary ops, lowered, fused and traced with the rest, instead of a body plan run once per iteration. It is not in
the converter's pipeline: the IR keeps the Loop, as OpenVINO's does."""
from __future__ import annotations

import numpy as np

from irforge.ir.clone import clone_model
from irforge.ir.graph import Model, Node, Output, constant, make
from irforge.ir.ops.control_flow import InputDesc, Slicing, _bounds
from irforge.transforms.base import Pass
from irforge.transforms.graph_edit import erase_if_dead, refresh_shapes

MAX_ITERATIONS = 16  # more iterations stay a Loop
MAX_UNROLLED_OPS = 512  # iterations x body ops above this stay a Loop


class UnrollSmallLoops(Pass):
    name = "unroll_small_loops"
    description = "replace a Loop/TensorIterator with a small known iteration count by copies of its body"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            if node.type in ("Loop", "TensorIterator") and len(node.bodies) == 1 and self._unroll(node):
                changed = True
        if changed:
            refresh_shapes(model)
        return changed

    def _unroll(self, node: Node) -> bool:
        iterations = node.op.static_iterations(node)  # type: ignore[attr-defined]
        body = node.bodies[0]
        body_ops = sum(1 for n in body.ops() if n.type not in ("Parameter", "Result", "Constant"))
        if iterations is None or not 1 <= iterations <= MAX_ITERATIONS or iterations * body_ops > MAX_UNROLLED_OPS:
            return False
        descs: tuple[InputDesc, ...] = node.attrs["input_descriptions"]
        sliced = [d for d in descs if d.slicing is not None]
        if any(not node.inputs[d.input_index].shape.is_static for d in sliced):
            return False
        current = node.attrs.get("special_body_ports", (-1, -1))[0]
        carried: dict[int, Output] = {d.body_param: node.inputs[d.input_index] for d in descs
                                      if d.back_edge is not None}
        parts = {d.body_param: _parts(node.inputs[d.input_index], d.slicing, f"{node.name}/slice{d.body_param}")
                 for d in sliced if d.slicing is not None}
        if any(len(p) < iterations for p in parts.values()):
            return False
        invariant = {d.body_param: node.inputs[d.input_index] for d in descs
                     if d.slicing is None and d.back_edge is None}
        results: list[list[Output]] = []
        for it in range(iterations):
            copy, _ = clone_model(body)
            for i, param in enumerate(copy.parameters):
                if i == current:  # the iteration number, shaped as the reference kernel feeds it
                    shape = param.output(0).shape
                    dims = (1,) if shape.rank_is_static and shape.rank == 1 else ()
                    src = constant(np.full(dims, it, param.output(0).element_type.dtype),
                                   name=f"{node.name}/iteration{it}")
                elif i in parts:
                    src = parts[i][it]
                elif i in carried:
                    src = carried[i]
                elif i in invariant:
                    src = invariant[i]
                else:
                    return False  # a body Parameter without an input: leave the op to report it when it runs
                param.output(0).replace_all_uses_with(src, move_names=False)
            values = [r.inputs[0] for r in copy.results]
            for r in copy.results:  # the copy's Results are not part of the graph
                r.detach()
            for d in descs:
                if d.back_edge is not None:
                    carried[d.body_param] = values[d.back_edge]
            results.append(values)
        for d in node.attrs["output_descriptions"]:
            if d.slicing is None:
                out = results[-1][d.body_result]
            else:
                pieces = [r[d.body_result] for r in results]
                pieces = pieces[::-1] if d.slicing.stride < 0 else pieces
                out = make("Concat", pieces, axis=d.slicing.axis,
                           name=f"{node.name}/concat{d.output_index}").output(0)
            node.outputs[d.output_index].replace_all_uses_with(out)
        erase_if_dead(node)
        self.count += 1
        return True


def _parts(value: Output, s: Slicing, name: str) -> list[Output]:
    """The per-iteration parts of a sliced input (static length), in iteration order, as Slice ops."""
    lo, hi = _bounds(value.shape.to_shape()[s.axis], s)
    parts = []
    for k, i in enumerate(range(lo, hi - s.part_size + 2, s.part_size)):
        parts.append(make("Slice", [value, constant(np.array([i], np.int64)),
                                    constant(np.array([i + s.part_size], np.int64)), constant(np.array([1], np.int64)),
                                    constant(np.array([s.axis], np.int64))], name=f"{name}/{k}").output(0))
    return parts[::-1] if s.stride < 0 else parts
