"""Builds a Plan from a specialized graph: match (fusion and fast-path choice, in topological order), order the
steps, compute lifetimes, build each step's function, assign slots."""
from __future__ import annotations

from typing import Any

import numpy as np

from irforge.ir.graph import Output
from irforge.ir.mapped import release
from irforge.runtime.devices.cpu.config import CPUConfig
from irforge.runtime.devices.cpu.fallback import REFERENCE
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.memory import CONST, PARAM, Memory, assign_slots
from irforge.runtime.devices.cpu.plan import OutputSpec, Plan, Step
from irforge.runtime.devices.cpu.precision import config_for
from irforge.runtime.devices.cpu.registry import Built, Match, first_match, lowering_for
from irforge.runtime.devices.cpu.segments import find_segments
from irforge.runtime.devices.cpu.specialize import Specialized


class BuildContext:
    """What a lowering's `build` may use: the graph view, the configuration and the memory facts of the step
    being built."""

    def __init__(self, g: GraphView, config: CPUConfig, memory: Memory) -> None:
        self.g = g
        self.config = config
        self.memory = memory
        self.position = 0
        self.inputs: list[Output] = []  # the runtime inputs of the step being built

    def can_overwrite(self, value: Output) -> bool:
        """Whether the step being built may write into `value`'s memory: nothing reads that memory afterwards,
        and no other input of this step shares it (a convolution must not write into its own input)."""
        if not self.memory.can_overwrite(value, self.position):
            return False
        roots = self.memory.roots_of(value)
        return not any(v is not value and roots & self.memory.roots_of(v) for v in self.inputs) and \
            sum(1 for v in self.inputs if v is value) == 1

    def const(self, out: Output) -> np.ndarray | None:
        return self.g.const(out)


def match_all(spec: Specialized, g: GraphView) -> list[Match]:
    """One match per step, ordered by the position of its last node (a fused step runs where its last node
    was: every input of every absorbed node is ready by then)."""
    topo = {n.uid: i for i, n in enumerate(spec.ops)}
    matches: list[Match] = []
    for node in spec.ops:
        if node.uid in g.claimed:
            continue
        m = first_match(node, g)  # pattern lowerings (INT8) before the op's own
        if m is None:
            lowering = lowering_for(node.type)
            m = lowering.match(node, g) if lowering is not None else None
        if m is None:
            m = REFERENCE.match(node, g)
        for n in m.nodes:
            g.claimed.add(n.uid)
        matches.append(m)
    matches.sort(key=lambda m: max(topo[n.uid] for n in m.nodes))
    return matches


def build_plan(spec: Specialized, config: CPUConfig) -> Plan:
    g = GraphView(spec)
    matches = match_all(spec, g)
    memory = Memory()
    params = spec.model.inputs
    for p in params:
        memory.define(p, -1)
        memory.set_roots(p, [PARAM])
    for pos, m in enumerate(matches):
        for v in m.inputs:
            memory.read(v, pos)
        for v in m.outputs:
            memory.define(v, pos)
    for out in spec.model.outputs:
        if g.is_runtime(out):
            memory.keep(out)

    ctx = BuildContext(g, config, memory)
    built: list[Built] = []
    for pos, m in enumerate(matches):
        ctx.position = pos
        ctx.inputs = m.inputs
        ctx.config = config_for(config, m.nodes)  # `precise` nodes stay f32 under the bf16 hint
        b = m.lowering.build(ctx, m)
        built.append(b)
        # the step holds its weights in its kernel's form now: the pages of the mapped .bin they came from leave
        # the resident set (one copy per weight; a later read of the Constant maps them back)
        release(ctx.const(src) for n in m.nodes for src in n.inputs)
        if b.overwrites is not None:
            roots: Any = memory.roots_of(m.inputs[b.overwrites])
        elif b.fresh:
            roots = None
        else:
            roots = frozenset().union(*(memory.roots_of(v) for v in m.inputs)) | {CONST}
        for v in m.outputs:
            memory.set_roots(v, [id(v)] if roots is None else roots)

    # reading the next weight maps its neighbours' pages back (the kernel's fault-around, up to 64 KiB each side of
    # a fault): one sweep over every plan-time value once all steps are built leaves none of the .bin resident
    release(spec.known.values())
    slot, n_slots = assign_slots([[id(v) for v in m.outputs] for m in matches], memory.last_use,
                                 [id(p) for p in params])
    steps = [Step(m.root.name, m.root.type, b.exec_type, b.fn, tuple(slot[id(v)] for v in m.inputs),
                  tuple(slot[id(v)] for v in m.outputs), len(m.outputs) != 1,
                  tuple(n.name for n in m.nodes[1:]), b.tracer if _static(g, m) else None)
             for m, b in zip(matches, built)]
    outputs = _outputs(spec, g, memory, slot)
    segments = find_segments(steps, {o.slot for o in outputs if o.slot >= 0})
    return Plan(steps, n_slots, [slot[id(p)] for p in params], outputs, segments)


def _static(g: GraphView, m: Match) -> bool:
    """Whether every value the step reads and writes has a shape the plan knows (a trace fixes shapes)."""
    return all(g.static_shape(v) is not None for v in list(m.inputs) + list(m.outputs))


def _outputs(spec: Specialized, g: GraphView, memory: Memory, slot: dict[int, int]) -> list[OutputSpec]:
    outs = spec.model.outputs
    seen_roots: dict[object, int] = {}
    for out in outs:
        if g.is_runtime(out):
            for r in memory.roots_of(out):
                seen_roots[r] = seen_roots.get(r, 0) + 1
    specs = []
    for out in outs:
        dtype = out.element_type.dtype
        if not g.is_runtime(out):
            specs.append(OutputSpec(-1, g.const(out), True, dtype))
            continue
        roots = memory.roots_of(out)
        shared = not memory.owned(out) or any(seen_roots[r] > 1 for r in roots)
        specs.append(OutputSpec(slot[id(out)], None, shared, dtype))
    return specs
