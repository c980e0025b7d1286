"""FoldConstantIf: an If whose condition is known at conversion time becomes its taken branch, inlined into the
graph around it (OpenVINO's constant-condition If folding). Bodies are visited first, so Ifs nested in a branch fold
too: the torch exporter writes `squeeze(x, d)` on a dynamic dimension as `If(shape[d] == 1, Squeeze, Identity)`,
whose branches differ in rank; once shapes are static (a reshaped model) the condition folds, and the IR keeps no
If whose branches disagree (OpenVINO's CPU plugin refuses an If of dynamic rank)."""
from __future__ import annotations

import numpy as np

from irforge.errors import GraphError
from irforge.ir.clone import clone_model
from irforge.ir.graph import Model, Node
from irforge.transforms.base import Pass
from irforge.transforms.graph_edit import erase_if_dead, refresh_shapes


class FoldConstantIf(Pass):
    name = "fold_constant_if"
    description = "replace an If whose condition is known at conversion time by its taken branch (nested Ifs too)"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            for i, body in enumerate(node.bodies):
                folded = self._fold_body(body)
                if folded is not None:
                    node.bodies[i] = folded
                    changed = True
            if node.type == "If" and len(node.bodies) == 2 and self._inline(node):
                changed = True
        if changed:
            refresh_shapes(model)
        return changed

    def _fold_body(self, body: Model) -> Model | None:
        """The body with its constant Ifs folded (a copy), or None when nothing folds or the folded body does not
        infer: a branch that cannot take its inputs' shapes is one that never runs with them (Silero VAD's 8 kHz
        branch given 16 kHz frames), and it is kept as it was."""
        twin, _ = clone_model(body)
        count = self.count
        try:
            if not self.run(twin):
                return None
        except GraphError:
            self.count = count
            return None
        return twin

    def _inline(self, node: Node) -> bool:
        cond = node.input_value(0)
        if cond is None or np.asarray(cond).size == 0:
            return False
        taken = 0 if bool(np.asarray(cond).reshape(-1)[0]) else 1
        prefix = ("then", "else")[taken]
        body, _ = clone_model(node.bodies[taken])
        for d in node.attrs[f"{prefix}_inputs"]:
            body.parameters[d.body_param].outputs[0].replace_all_uses_with(node.inputs[d.input_index],
                                                                          move_names=False)
        for d in node.attrs[f"{prefix}_outputs"]:
            node.outputs[d.output_index].replace_all_uses_with(body.results[d.body_result].inputs[0])
        for r in body.results:  # the copy's Results are not part of the graph: their uses go
            r.detach()
        erase_if_dead(node)
        self.count += 1
        return True
