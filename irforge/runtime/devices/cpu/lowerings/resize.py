"""Interpolate in nearest mode: a gather per resized axis. Which input element each output element copies is
read off the reference kernel itself, applied at plan time to a probe holding each position's index, so every
coordinate transformation and nearest rounding mode of the IR is reproduced exactly. Other modes keep the
reference kernel."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.nearest import probe_indices
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers


@lowers("Interpolate")
class InterpolateLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.attrs["mode"] == "nearest" and \
            all(not g.is_runtime(s) for s in node.inputs[1:]) and node.inputs[0].element_type.name == "f32" and \
            probe_indices(node, g) is not None

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        plan = probe_indices(node, ctx.g)
        assert plan is not None
        in_shape = ctx.g.static_shape(node.inputs[0])
        assert in_shape is not None
        # torch's own nearest (floor(out * in / out_size)) when it picks the same elements: one kernel
        if len(in_shape) == 4 and all(a >= 2 for a, _ in plan):
            sizes = list(ctx.g.static_shape(node.outputs[0]) or ())[2:]
            if all(np.array_equal(idx, np.floor(np.arange(sizes[a - 2]) * (in_shape[a] / sizes[a - 2])).astype(int))
                   for a, idx in plan):
                return Built(lambda x: F.interpolate(x, size=sizes, mode="nearest"), "torch_resize_nearest",
                             fresh=True)
        gathers = [(a, torch.from_numpy(idx)) for a, idx in plan]

        def fn(x: Any) -> Any:
            for a, idx in gathers:
                x = torch.index_select(x, a, idx)
            return x
        return Built(fn, "torch_resize_gather", fresh=True)
