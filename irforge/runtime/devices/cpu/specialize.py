"""Plan-time view of a model for one set of concrete input shapes.

The model is cloned with its Parameters set to the given shapes and type/shape inference re-run, so every shape
the data does not decide becomes static. Then every value computable without the inputs is folded with the ops'
reference kernels: Constants, ShapeOf of static shapes and everything computed only from those (the exporters'
ShapeOf -> Gather -> Concat -> Reshape chains, weight decompression Converts, in-graph weight construction).
What remains are the ops that depend on the inputs: the ones the plan lowers.

An If whose condition folds (exporters branch on shapes: `If(shape[d] == 1, Squeeze, Identity)`, silero-VAD's
recurrent state checks) is replaced by its taken branch, inlined into the clone (FoldConstantIf, the optimizer's
pass), and a Loop or TensorIterator whose iteration count folds and is small is replaced by copies of its body
(UnrollSmallLoops); the folding then runs again over what they brought in, so the plan holds no If the input
shapes decide and no small fixed loop: their ops are lowered, fused and traced with the rest."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from irforge.errors import GraphError
from irforge.ir.graph import Model, Node, Output, constant
from irforge.ir.shape import PartialShape

_NO_FOLD = {"Parameter", "Result", "RandomUniform", "ReadValue", "Assign"}
MAX_INLINE_ROUNDS = 16  # nesting depth of control flow inlined (deeper ones run as If/Loop steps)
_DECIDING = {"If": (0,), "Loop": (0, 1)}  # the inputs that decide a branch or an iteration count


@dataclass
class Specialized:
    model: Model  # the clone with concrete input shapes
    ops: list[Node]  # ops depending on the inputs, topological order
    known: dict[int, np.ndarray] = field(default_factory=dict)  # id(Output) -> plan-time value

    def value(self, out: Output) -> np.ndarray | None:
        return self.known.get(id(out))


def clone_with_shapes(model: Model, shapes: Sequence[Sequence[int]] | None) -> Model:
    """A copy of `model` (sharing Constant data and sub-graph bodies) whose Parameters have `shapes`."""
    mapping: dict[int, Output] = {}
    new_nodes: dict[int, Node] = {}
    pindex = {p.uid: i for i, p in enumerate(model.parameters)}
    for node in model.nodes():
        attrs = dict(node.attrs)
        if node.type == "Parameter" and shapes is not None:
            attrs["shape"] = PartialShape(list(shapes[pindex[node.uid]]))
        inputs = [mapping[id(src)] for src in node.inputs]
        new = Node(node.op, inputs, attrs, node.name)
        new.data = node.data
        new.bodies = list(node.bodies)  # the clone's own list: inlining and body folding replace entries
        new.rt_info = dict(node.rt_info)
        try:
            new.infer()
        except GraphError:
            raise
        except Exception as e:  # noqa: BLE001 - shape inference failures name the node
            given = ", ".join(f"{i.element_type}[{i.shape}]" for i in inputs)
            raise GraphError(f"node '{node.name}' ({node.type}) cannot take the input shapes ({given}): {e}") from e
        for old, out in zip(node.outputs, new.outputs):
            out.names = set(old.names)
            mapping[id(old)] = out
        new_nodes[node.uid] = new
    clone = Model([new_nodes[r.uid] for r in model.results], [new_nodes[p.uid] for p in model.parameters],
                  model.name)
    clone.rt_info = model.rt_info
    return clone


def specialize(model: Model, shapes: Sequence[Sequence[int]] | None) -> Specialized:
    """Clone for `shapes` (None: the model's own, already static shapes) and fold what the inputs do not decide,
    Ifs whose condition folds included (their taken branch inlined; nested ones in later rounds)."""
    from irforge.transforms.if_folding import FoldConstantIf
    from irforge.transforms.loop_unrolling import UnrollSmallLoops

    clone = clone_with_shapes(model, shapes)
    for _ in range(MAX_INLINE_ROUNDS):
        spec = _fold(clone)
        decided = [(n, k) for n in spec.ops if n.bodies for k in _DECIDING.get(n.type, ())
                   if k < len(n.inputs) and n.inputs[k].node.type != "Constant" and id(n.inputs[k]) in spec.known]
        for n, k in decided:  # the passes read a condition or trip count from a Constant
            n.set_input(k, constant(spec.known[id(n.inputs[k])], name=f"{n.name}/input{k}"))
        try:
            inlined = FoldConstantIf().run(clone)
            unrolled = UnrollSmallLoops().run(clone)
        except GraphError as e:
            raise GraphError(f"inlining control flow for these input shapes failed: {e}") from e
        if not (inlined or unrolled):
            break
    return spec


def _fold(clone: Model) -> Specialized:
    known: dict[int, np.ndarray] = {}
    ops: list[Node] = []
    for node in clone.nodes():
        if node.type in ("Parameter", "Result"):
            continue
        if node.type == "Constant":
            assert node.data is not None
            known[id(node.output(0))] = node.data
            continue
        if node.type == "ShapeOf" and node.inputs[0].shape.is_static:
            known[id(node.output(0))] = np.array(node.inputs[0].shape.to_shape(), node.output(0).element_type.dtype)
            continue
        args = [known.get(id(src)) for src in node.inputs]
        if node.type not in _NO_FOLD and not node.bodies and all(a is not None for a in args):
            try:
                outs = node.op.evaluate(node, args)  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001
                raise GraphError(f"node '{node.name}' ({node.type}) failed to evaluate at compile time: {e}") from e
            for out, val in zip(node.outputs, outs):
                known[id(out)] = np.asarray(val)
            continue
        ops.append(node)
    # keep only the folded values something still reads (the rest were intermediate steps of the folding)
    needed = {id(src) for n in ops for src in n.inputs} | {id(o) for o in clone.outputs}
    known = {k: v for k, v in known.items() if k in needed}
    return Specialized(clone, ops, known)
