"""ONNX If and Loop -> IR If-8 / Loop-5, wired the way OpenVINO's ONNX frontend wires them: every outer-scope
value a body reads becomes its own op input (invariant input), Loop scan outputs are unsqueezed in the body and
concatenated along axis 0, and a Loop whose body condition just passes its input through gets a constant-true
body condition (so shape inference can count its iterations)."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext, SubGraph
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Model, Node, Output
from irforge.ir.ops.control_flow import InputDesc, OutputDesc, Slicing, merge_shapes
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type

_INT64_MAX = np.iinfo(np.int64).max


def _attach_bodies(node: Node, bodies: list[Model]) -> list[Output]:
    """Give a freshly made If/Loop its bodies and infer its outputs from them."""
    node.bodies = bodies
    node.infer()
    return node.outputs


def _reinfer(body: Model) -> None:
    for n in body.nodes():
        n.infer()


def _set_param(param: Node, et: ElementType | None, shape: PartialShape | None) -> None:
    if et is not None:
        param.attrs["element_type"] = et
    if shape is not None:
        param.attrs["shape"] = shape


def _inline(ctx: NodeContext, attr_name: str) -> list[Output]:
    """The outputs of branch `attr_name` translated straight into the enclosing graph."""
    branch = ctx.subgraph(attr_name, inline=True)
    if branch.num_declared_inputs:
        raise ctx.unsupported("a branch graph with declared inputs")
    outs = [r.inputs[0] for r in branch.model.results]
    for r in branch.model.results:
        r.detach()
    return outs


@onnx_op("If")
def if_op(ctx: NodeContext) -> list[Output]:
    """A condition known at conversion time (the size/attribute tests of expanded ONNX functions) selects its
    branch here, and only that branch is translated: ONNX runs only the taken branch, so the other may be
    invalid for these inputs (AffineGrid's 2-D branch splits a 5-element size into 4 parts)."""
    cond = ctx.input_value(0)
    if cond is not None and cond.size == 1:
        return _inline(ctx, "then_branch" if bool(cond.reshape(-1)[0]) else "else_branch")
    branches: list[SubGraph] = [ctx.subgraph("then_branch"), ctx.subgraph("else_branch")]
    if any(b.num_declared_inputs for b in branches):
        raise ctx.unsupported("a branch graph with declared inputs")
    n_out = len(branches[0].model.results)
    if len(branches[1].model.results) != n_out:
        raise ctx.unsupported("branches with different numbers of outputs")
    inputs = [ctx.input(0)]
    maps: list[tuple[InputDesc, ...]] = []
    for b in branches:
        maps.append(tuple(InputDesc(len(inputs) + i, i) for i in range(len(b.captured))))
        inputs += b.captured
    outputs = tuple(OutputDesc(i, i) for i in range(n_out))
    node = ctx.make("If", inputs, then_inputs=maps[0], else_inputs=maps[1], then_outputs=outputs,
                    else_outputs=outputs)
    return _attach_bodies(node, [b.model for b in branches])


@onnx_op("Loop")
def loop_op(ctx: NodeContext) -> list[Output]:
    sub = ctx.subgraph("body")
    body = sub.model
    initials = [ctx.input(i) for i in range(2, ctx.num_inputs)]
    n_carried = len(initials)
    declared = body.parameters[:len(body.parameters) - len(sub.captured)]
    captured_params = body.parameters[len(declared):]
    if len(declared) != 2 + n_carried or len(body.results) < 1 + n_carried:
        raise ctx.unsupported(f"a body with {len(declared)} inputs and {len(body.results)} outputs for "
                              f"{n_carried} loop-carried values")
    iter_param, cond_param, carried = declared[0], declared[1], declared[2:]

    trip = ctx.optional_input(0)
    trip_value = ctx.input_value(0)
    if trip is None or (trip_value is not None and int(trip_value.reshape(-1)[0]) == _INT64_MAX):
        trip = ctx.const(np.array([-1], np.int64))
    cond = ctx.optional_input(1)
    if cond is None:
        cond = ctx.const(np.array([True]))

    _set_param(iter_param, Type.i64 if iter_param.attrs["element_type"].is_dynamic else None,
               None if iter_param.attrs["shape"].rank_is_static else PartialShape([]))
    _set_param(cond_param, Type.boolean, None if cond_param.attrs["shape"].rank_is_static else PartialShape([]))
    for p, init in zip(carried, initials):
        _set_param(p, init.element_type if p.attrs["element_type"].is_dynamic else None,
                   None if p.attrs["shape"].rank_is_static else init.shape)
    _reinfer(body)
    _relax_carried(body, carried)

    # Scan outputs gain the axis they are concatenated along.
    axis0 = ctx.const(np.array([0], np.int64))
    for res in body.results[1 + n_carried:]:
        res.set_input(0, ctx.op("Unsqueeze", res.inputs[0], axis0))

    cond_res = body.results[0]
    keep_cond = not (cond_res.inputs[0] is cond_param.output(0) and len(cond_param.output(0).uses) == 1)
    if not keep_cond:
        cond_res.set_input(0, ctx.const(np.array([True])))
    params = [iter_param] + ([cond_param] if keep_cond else []) + list(carried) + list(captured_params)
    body = Model(body.results, params, body.name)
    index = {p.uid: i for i, p in enumerate(params)}

    in_descs = [InputDesc(1, index[cond_param.uid], back_edge=0)] if keep_cond else []
    in_descs += [InputDesc(2 + i, index[p.uid], back_edge=1 + i) for i, p in enumerate(carried)]
    in_descs += [InputDesc(2 + n_carried + j, index[p.uid]) for j, p in enumerate(captured_params)]
    n_scan = len(body.results) - 1 - n_carried
    out_descs = [OutputDesc(i, 1 + i) for i in range(n_carried)]
    out_descs += [OutputDesc(n_carried + k, 1 + n_carried + k, Slicing(axis=0)) for k in range(n_scan)]
    node = ctx.make("Loop", [trip, cond, *initials, *sub.captured], input_descriptions=tuple(in_descs),
                    output_descriptions=tuple(out_descs), special_body_ports=(index[iter_param.uid], 0))
    return _attach_bodies(node, [body])


def _relax_carried(body: Model, carried: list[Node]) -> None:
    """A carried value whose body output shape differs from its input shape (it grows, say) gets a Parameter
    shape covering both, until the body's shapes are stable."""
    for _ in range(8):
        changed = False
        for p, res in zip(carried, body.results[1:]):
            merged = merge_shapes(p.attrs["shape"], res.inputs[0].shape)
            if merged != p.attrs["shape"]:
                p.attrs["shape"] = merged
                changed = True
        if not changed:
            return
        _reinfer(body)
