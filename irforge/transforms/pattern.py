"""A declarative pattern matcher for fusions (in the spirit of OpenVINO's WrapType and tinygrad's UPat).

    x = Any("x")
    swish = Op("Multiply", x, Op("Sigmoid", x))        # commutative inputs are tried in both orders
    for m in matches(swish, node.output(0)): ...      # m["x"] is the bound Output

Patterns: `Any` (any value, optionally bound and filtered), `Const` (a Constant, bound to its array), `Op`
(an op of given type(s) with input patterns), `OneOf` (alternatives). A match records every op node it
covered, so a fusion can require that intermediate values are not used outside the pattern.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any as AnyT

import numpy as np

from irforge.ir.graph import Node, Output

COMMUTATIVE = {"Add", "Multiply", "Maximum", "Minimum", "Equal", "NotEqual", "LogicalAnd", "LogicalOr",
               "LogicalXor", "SquaredDifference"}


class Pattern:
    """Base of pattern nodes."""


@dataclass(eq=False)
class Any(Pattern):
    """Any value; bound under `name` (the same name must bind the same value everywhere in the pattern)."""

    name: str | None = None
    where: Callable[[Output], bool] | None = None


@dataclass(eq=False)
class Const(Pattern):
    """A Constant node's output; bound under `name` to its NumPy value. `where` filters on the value."""

    name: str | None = None
    where: Callable[[np.ndarray], bool] | None = None


@dataclass(eq=False)
class Op(Pattern):
    """An op of type `types` (one name or several) whose inputs match `inputs` (all of them, in order; for
    commutative binary ops both orders). `name` binds the Node; `where` filters on the Node."""

    types: str | tuple[str, ...]
    inputs: tuple[Pattern, ...] = ()
    name: str | None = None
    where: Callable[[Node], bool] | None = None
    output_index: int = 0

    def __init__(self, types: str | Sequence[str], *inputs: Pattern, name: str | None = None,
                 where: Callable[[Node], bool] | None = None, output_index: int = 0) -> None:
        self.types = (types,) if isinstance(types, str) else tuple(types)
        self.inputs = inputs
        self.name = name
        self.where = where
        self.output_index = output_index


@dataclass(eq=False)
class OneOf(Pattern):
    """The first of several alternative patterns that matches (all are tried on backtracking)."""

    alternatives: tuple[Pattern, ...] = field(default=())

    def __init__(self, *alternatives: Pattern) -> None:
        self.alternatives = alternatives


class Match(dict[str, AnyT]):
    """Bindings by name, plus `nodes`: every op node the pattern covered (root first)."""

    def __init__(self, bindings: dict[str, AnyT], nodes: tuple[Node, ...]) -> None:
        super().__init__(bindings)
        self.nodes = nodes

    @property
    def root(self) -> Node:
        return self.nodes[0]


_State = tuple[dict[str, AnyT], tuple[Node, ...]]


def _match(p: Pattern, out: Output, state: _State) -> Iterator[_State]:
    bind, nodes = state
    if isinstance(p, Any):
        if p.where is not None and not p.where(out):
            return
        if p.name is None:
            yield state
        elif p.name in bind:
            if bind[p.name] is out:
                yield state
        else:
            yield {**bind, p.name: out}, nodes
    elif isinstance(p, Const):
        if out.node.type != "Constant":
            return
        value = out.node.data
        assert value is not None
        if p.where is not None and not p.where(value):
            return
        yield ({**bind, p.name: value} if p.name else bind), nodes
    elif isinstance(p, Op):
        node = out.node
        if node.type not in p.types or out.index != p.output_index or len(node.inputs) != len(p.inputs):
            return
        if p.where is not None and not p.where(node):
            return
        if p.name is not None:
            if p.name in bind and bind[p.name] is not node:
                return
            bind = {**bind, p.name: node}
        orders = [tuple(range(len(p.inputs)))]
        if node.type in COMMUTATIVE and len(p.inputs) == 2:
            orders.append((1, 0))
        for order in orders:
            yield from _match_inputs(p.inputs, [node.inputs[i] for i in order], (bind, nodes + (node,)))
    elif isinstance(p, OneOf):
        for alt in p.alternatives:
            yield from _match(alt, out, state)
    else:
        raise TypeError(f"not a pattern: {p!r}")


def _match_inputs(pats: Sequence[Pattern], outs: Sequence[Output], state: _State) -> Iterator[_State]:
    if not pats:
        yield state
        return
    for st in _match(pats[0], outs[0], state):
        yield from _match_inputs(pats[1:], outs[1:], st)


def matches(pattern: Pattern, out: Output) -> Iterator[Match]:
    """Every way `pattern` matches the value `out` (root first in each Match's nodes)."""
    for bind, nodes in _match(pattern, out, ({}, ())):
        yield Match(bind, nodes)


def is_self_contained(m: Match) -> bool:
    """True when no node of the match except the root has an output used outside the match, so replacing
    the root's output makes all of them dead."""
    covered = {n.uid for n in m.nodes}
    for n in m.nodes[1:]:
        for out in n.outputs:
            if any(consumer.uid not in covered for consumer, _ in out.uses):
                return False
    return True
