"""If, Loop and TensorIterator with their bodies compiled by the CPU device itself: each body becomes a
CPUExecutable of its own (plans per input shapes, fast lowerings, traced segments, nested control flow the same
way), made when the body first runs, so a branch never taken costs nothing. The op's own logic (branch choice,
port maps, slicing, carried values, the loop condition) is the IR op's `evaluate`, handed the compiled bodies as
its `run_body`: one implementation of the semantics, REF's, with the bodies on the fast path.

The step is not traceable (its work depends on runtime values) and leaves the intra-op thread count as it found
it: a body plan small enough to run on one thread sets its own count while it runs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from irforge.ir.clone import bind_parameters
from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fallback import reference_kernel
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, lowers, on_first_use

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.runner import CPURunner


@lowers("If", "Loop", "TensorIterator")
class ControlFlowLowering(Lowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        if any(o.element_type.is_dynamic for o in node.outputs):
            return None
        return Match(self, [node], g.runtime_inputs(node), list(node.outputs))

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        g = ctx.g
        template = [g.const(src) for src in node.inputs]
        positions = [k for k, src in enumerate(node.inputs) if g.is_runtime(src)]
        properties = ctx.config.properties()
        bound = _known_parameters(node, template)
        runners = [on_first_use(lambda b=body, k=known: _runner(bind_parameters(b, k), properties))
                   for body, known in zip(node.bodies, bound)]
        runtime = [[i for i in range(len(body.parameters)) if i not in known]
                   for body, known in zip(node.bodies, bound)]

        def run_body(index: int, args: list[np.ndarray]) -> list[np.ndarray]:
            threads = torch.get_num_threads()
            try:
                return runners[index]().run([args[i] for i in runtime[index]])
            finally:
                if torch.get_num_threads() != threads:
                    torch.set_num_threads(threads)

        return Built(reference_kernel(node, template, positions, run_body), f"cpu_{node.type.lower()}_bodies",
                     fresh=False, trace_fn=None)


def _known_parameters(node: Node, template: list[np.ndarray | None]) -> list[dict[int, np.ndarray]]:
    """Per body, the Parameters whose value is known at plan time and the same on every run: fed by a plan-time
    input, as is (an If's inputs; a Loop's invariant inputs, neither sliced nor carried)."""
    if node.type == "If":
        maps = [node.attrs["then_inputs"], node.attrs["else_inputs"]]
        return [{d.body_param: template[d.input_index] for d in descs if template[d.input_index] is not None}
                for descs in maps]
    descs = node.attrs["input_descriptions"]
    return [{d.body_param: template[d.input_index] for d in descs
             if d.slicing is None and d.back_edge is None and template[d.input_index] is not None}]


def _runner(body: Any, properties: dict[str, str]) -> "CPURunner":
    from irforge.runtime.devices.cpu.executable import CPUExecutable  # the executable builds plans of lowerings

    executable = CPUExecutable(body, properties)
    return executable.create_runner()
