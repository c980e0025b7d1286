"""The fallback: a node the fast lowerings do not take runs its NumPy reference kernel (`node.op.evaluate`),
with its runtime inputs viewed as NumPy arrays and its outputs viewed back as torch tensors (no copies where
the types allow). Control flow (If, Loop, TensorIterator), the RNN sequences and the rarer ops run this way."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.errors import GraphError
from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match
from irforge.runtime.devices.cpu.tensors import to_numpy, to_torch

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.builder import BuildContext
    from irforge.runtime.devices.cpu.graph_view import GraphView


def reference_kernel(node: Node, template: list[np.ndarray | None], positions: list[int],
                     run_body: Callable[[int, list[np.ndarray]], list[np.ndarray]] | None = None
                     ) -> Callable[..., Any]:
    """fn(*runtime values) evaluating `node` with its reference kernel; `template` holds the plan-time inputs,
    `positions` says where the runtime values go. `run_body` (If, Loop, TensorIterator) runs the op's bodies on
    the device; an error inside a body is prefixed with the op that holds it."""
    multi = len(node.outputs) != 1
    op = node.op
    extra = {} if run_body is None else {"run_body": run_body}

    def fn(*values: Any) -> Any:
        args = list(template)
        for k, v in zip(positions, values):
            args[k] = to_numpy(v)
        try:
            outs = op.evaluate(node, args, **extra)  # type: ignore[arg-type]
        except GraphError as e:
            if run_body is None:
                raise
            raise GraphError(f"node '{node.name}' ({node.type}): {e}") from e
        except Exception as e:  # noqa: BLE001 - kernel failures name the node, as on REF
            raise GraphError(f"node '{node.name}' ({node.type}) failed to evaluate: {e}") from e
        if multi:
            return tuple(to_torch(np.asarray(o)) for o in outs)
        return to_torch(np.asarray(outs[0]))

    return fn


class ReferenceLowering(Lowering):
    def match(self, node: Node, g: "GraphView") -> Match:
        return Match(self, [node], g.runtime_inputs(node), list(node.outputs))

    def build(self, ctx: "BuildContext", m: Match) -> Built:
        node = m.root
        g = ctx.g
        template = [g.const(src) for src in node.inputs]
        positions = [k for k, src in enumerate(node.inputs) if g.is_runtime(src)]
        return Built(reference_kernel(node, template, positions), "ref", fresh=False, trace_fn=None)


REFERENCE = ReferenceLowering()
