"""The lowering registry: one entry per IR op type saying how the CPU device runs it with torch (or oneDNN
through torch). Mirrors `irforge.ir.opset`'s registry: `@lowers("Relu", "Sigmoid")` on a `Lowering` class.

A lowering works in two phases. `match(node, graph)` decides at plan time whether the node runs on the fast path
(None: it runs on its NumPy reference kernel) and which following nodes it absorbs (a Convolution takes the bias
Add, the activation and the residual Add after it). `build(ctx, match)` then creates the step's function, with
constants prepared (weights prepacked, converted to torch tensors) and every shape already static."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.ir.graph import Node, Output

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.builder import BuildContext
    from irforge.runtime.devices.cpu.graph_view import GraphView


@dataclass
class Match:
    """What one step computes: `nodes` (root first), the runtime values its function takes (`inputs`, in
    order) and the values it returns (`outputs`, in order; a multi-output step returns a tuple)."""

    lowering: "Lowering"
    nodes: list[Node]
    inputs: list[Output]
    outputs: list[Output]
    info: Any = None  # whatever the lowering found while matching (bias, activation, residual...)

    @property
    def root(self) -> Node:
        return self.nodes[0]


@dataclass
class Built:
    """A step's function and how it treats memory. `fresh`: its outputs never share memory with its inputs or
    with constants (else they may be views). `overwrites`: index into Match.inputs of a value whose memory the
    step writes its result into (only granted when nothing reads that value afterwards). `trace_fn`: the same
    computation written with plain ATen ops and without writing into its inputs, for TorchScript tracing into a
    oneDNN Graph segment (see segments.py); None when the step cannot be traced (NumPy kernels, data-dependent
    Python control flow)."""

    fn: Callable[..., Any]
    exec_type: str
    fresh: bool = False
    overwrites: int | None = None
    trace_fn: Any = "same"  # "same": `fn` itself (not allowed for a step that overwrites an input)

    @property
    def tracer(self) -> Callable[..., Any] | None:
        if isinstance(self.trace_fn, str):
            return None if self.overwrites is not None else self.fn
        return self.trace_fn  # type: ignore[no-any-return]


def on_first_use(make: Callable[[], Any], now: bool = False) -> Callable[[], Any]:
    """A getter of a kernel-form weight made by `make` when first asked for (at once when `now`). A step inside a
    compiled segment never runs its eager function, whose prepacked weights would be a second copy of what the
    segment's graph holds: they are made only if the step does run eagerly (an eager segment, an error rerun).
    Two threads asking at once may both make it; one result is kept."""
    made: list[Any] = [make()] if now else []

    def get() -> Any:
        if made:
            return made[0]
        made.append(make())
        return made[0]
    return get


class Lowering:
    """Base of a lowering. Subclasses implement `match` and `build`, or, for one node without fusion,
    `supports` and `kernel` (see `NodeLowering`)."""

    def match(self, node: Node, g: "GraphView") -> Match | None:
        raise NotImplementedError

    def build(self, ctx: "BuildContext", m: Match) -> Built:
        raise NotImplementedError


class NodeLowering(Lowering):
    """A lowering of one node on its own: `supports` says whether the fast path applies, `kernel` returns the
    step's function of the node's runtime inputs (constants are read from `g` and captured). `traceable`: the
    kernel is plain torch code that neither writes into its inputs nor branches on values."""

    fresh: bool = True
    traceable: bool = True

    def supports(self, node: Node, g: "GraphView") -> bool:
        return g.torch_ok(node)

    def match(self, node: Node, g: "GraphView") -> Match | None:
        if not self.supports(node, g):
            return None
        return Match(self, [node], g.runtime_inputs(node), list(node.outputs))

    def build(self, ctx: "BuildContext", m: Match) -> Built:
        fn, exec_type = self.kernel(ctx, m.root)
        return Built(fn, exec_type, fresh=self.fresh, trace_fn="same" if self.traceable else None)

    def kernel(self, ctx: "BuildContext", node: Node) -> tuple[Callable[..., Any], str]:
        raise NotImplementedError


_LOWERINGS: dict[str, Lowering] = {}


def lowers(*type_names: str) -> Callable[[type[Lowering]], type[Lowering]]:
    """Class decorator registering a lowering for IR op types (each type has at most one lowering)."""

    def deco(cls: type[Lowering]) -> type[Lowering]:
        inst = cls()
        for name in type_names:
            if name in _LOWERINGS:
                raise ValueError(f"a CPU lowering for {name} is registered twice")
            _LOWERINGS[name] = inst
        return cls

    return deco


_FIRST: dict[str, list[Lowering]] = {}


def lowers_first(*type_names: str) -> Callable[[type[Lowering]], type[Lowering]]:
    """Class decorator registering a pattern lowering tried before an op type's own (the INT8 kernels of
    lowerings/quantized.py); its `match` returns None to leave the node to the op's own lowering."""

    def deco(cls: type[Lowering]) -> type[Lowering]:
        inst = cls()
        for name in type_names:
            _FIRST.setdefault(name, []).append(inst)
        return cls

    return deco


def first_match(node: Node, g: "GraphView") -> Match | None:
    """The match of the first pattern lowering (`lowers_first`) that takes `node`, if any."""
    import irforge.runtime.devices.cpu.lowerings  # noqa: F401

    for lowering in _FIRST.get(node.type, ()):
        m = lowering.match(node, g)
        if m is not None:
            return m
    return None


def lowering_for(type_name: str) -> Lowering | None:
    import irforge.runtime.devices.cpu.lowerings  # noqa: F401  (registers every lowering once)

    return _LOWERINGS.get(type_name)


def registered_types() -> list[str]:
    import irforge.runtime.devices.cpu.lowerings  # noqa: F401

    return sorted(_LOWERINGS)


def scalar_of(arr: np.ndarray | None) -> float | int | bool | None:
    """The single value of a one-element constant (as a Python number), else None."""
    if arr is None or arr.size != 1:
        return None
    return arr.reshape(-1)[0].item()  # type: ignore[no-any-return]
