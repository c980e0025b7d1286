"""Recurrent ops: the sequences LSTMSequence, GRUSequence and RNNSequence (opset5) and the one-step cells
LSTMCell (opset4; opset1's with its defaults only), GRUCell (opset3) and RNNCell (opset1, as OpenVINO writes it).

Layouts are OpenVINO's. Sequences: X [batch, seq, input], initial states [batch, num_directions, hidden], W/R/B
with a leading num_directions axis, Y [batch, num_directions, seq, hidden]. Cells: X [batch, input], states
[batch, hidden], W [gates*hidden, input], R [gates*hidden, hidden], B [gates*hidden] (GRU with
`linear_before_reset`: [4*hidden]). Gate orders: LSTM fico, GRU zrh.
`sequence_lengths` [batch] bounds each batch row: steps past it leave Y zero and the state unchanged; the reverse
direction walks each row from its own last valid step back to 0.

The gate equations are written once per family (`_LSTMGates`, `_GRUGates`, `_RNNGates`: one time step for a batch
of rows); a sequence (`_Sequence`) runs them over the time steps of each direction, a cell (`_Cell`) once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype, merged_type
from irforge.ir.shape import Dimension, PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node

Array = np.ndarray


def _sigmoid(x: Array) -> Array:
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
}

DIRECTION = Attr("direction", "str", "forward", ("forward", "reverse", "bidirectional"))


def _common_attrs(activations: list[str]) -> tuple[Attr, ...]:
    return (
        Attr("hidden_size", "int"),
        Attr("activations", "strs", activations),
        Attr("activations_alpha", "floats", []),
        Attr("activations_beta", "floats", []),
        Attr("clip", "float", 0.0),
    )


def activation_names(node: "Node") -> list[str]:
    """The activation names, normalized (IR files written by OpenVINO separate them with ', ')."""
    names = [a.strip().lower() for a in node.attrs["activations"]]
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown:
        raise GraphError(f"node '{node.name}' ({node.type}): unsupported activation(s) {', '.join(unknown)} "
                         f"(OpenVINO supports {', '.join(ACTIVATIONS)})")
    return names


class _Recurrent(OpSpec):
    """What sequences and cells share. A gate family (`_LSTMGates`...) sets the number of gates, whether a cell
    state is carried (LSTM), and `cell`, one time step for a batch of rows."""

    has_cell: ClassVar[bool] = False
    num_activations: ClassVar[int] = 1
    gates: ClassVar[int] = 1

    @property
    def state_inputs(self) -> int:
        return 2 if self.has_cell else 1

    @property
    def weight_input(self) -> int:
        """The index of W among the inputs (W, R, B follow each other)."""
        raise NotImplementedError

    def check_activations(self, node: "Node") -> None:
        if len(activation_names(node)) < self.num_activations:
            raise GraphError(f"node '{node.name}' ({node.type}) needs {self.num_activations} activations")

    def bias_gates(self, node: "Node") -> int:
        """Rows of B per hidden unit (GRU's `linear_before_reset` form keeps the h gate's two biases apart)."""
        return self.gates

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        raise NotImplementedError

    def clip(self, node: "Node", gates: Array) -> Array:
        limit = node.attrs["clip"]
        return np.clip(gates, -limit, limit) if limit > 0 else gates


class _LSTMGates(_Recurrent):
    """Gates (fico): f, i, o = f(.), c~ = g(.) of X*W^T + H*R^T + B; C = f*C + i*c~; H = o*h(C)."""

    has_cell = True
    num_activations = 3
    gates = 4

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        assert c is not None
        gates = self.clip(node, x @ w.T + h @ r.T + b)
        f, i, cc, o = np.split(gates, 4, axis=-1)
        new_c = acts[0](f) * c + acts[0](i) * acts[1](cc)
        return acts[0](o) * acts[2](new_c), new_c


class _GRUGates(_Recurrent):
    """Gates (zrh): z, r = f(.); h~ = g(X*Wh^T + (r*H)*Rh^T + Bh), or with `linear_before_reset`
    g(X*Wh^T + r*(H*Rh^T + Rbh) + Wbh) and B = [Bz, Br, Wbh, Rbh]; H = (1-z)*h~ + z*H."""

    num_activations = 2
    gates = 3

    def bias_gates(self, node: "Node") -> int:
        return 4 if node.attrs["linear_before_reset"] else 3

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        n = h.shape[-1]
        xw = x @ w.T
        hr = h @ r[:2 * n].T
        z = acts[0](self.clip(node, xw[:, :n] + hr[:, :n] + b[:n]))
        rg = acts[0](self.clip(node, xw[:, n:2 * n] + hr[:, n:] + b[n:2 * n]))
        rh = r[2 * n:]
        if node.attrs["linear_before_reset"]:
            pre = xw[:, 2 * n:] + rg * (h @ rh.T + b[3 * n:]) + b[2 * n:3 * n]
        else:
            pre = xw[:, 2 * n:] + (rg * h) @ rh.T + b[2 * n:]
        hh = acts[1](self.clip(node, pre))
        return (1 - z) * hh + z * h, None


class _RNNGates(_Recurrent):
    """H = f(X*W^T + H*R^T + B)."""

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        return acts[0](self.clip(node, x @ w.T + h @ r.T + b)), None


class _Sequence(_Recurrent):
    """A recurrent sequence op: its gate family's `cell` over the time steps of each direction."""

    @property
    def weight_input(self) -> int:
        return 2 + self.state_inputs  # after X, the states and sequence_lengths

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        self.check_activations(node)
        nw = self.weight_input
        et = merged_type(node, (0, *range(1, 1 + self.state_inputs), nw, nw + 1, nw + 2))
        x, h = node.inputs[0].shape, node.inputs[1].shape
        batch = seq = Dimension()
        if x.rank_is_static:
            if x.rank != 3:
                raise GraphError(f"node '{node.name}' ({node.type}): X must be 3D [batch, seq, input], got {x}")
            batch, seq = x[0], x[1]
        if batch.is_dynamic and h.rank_is_static and h.rank == 3:
            batch = h[0]
        dirs = Dimension.of(2 if node.attrs["direction"] == "bidirectional" else 1)
        hidden = Dimension.of(node.attrs["hidden_size"])
        state = (et, PartialShape([batch, dirs, hidden]))
        return [(et, PartialShape([batch, dirs, seq, hidden])), state] + ([state] if self.has_cell else [])

    def evaluate(self, node: "Node", inputs: list[Array]) -> list[Array]:
        x, h0 = inputs[0], inputs[1]
        c0 = inputs[2] if self.has_cell else None
        lens, w, r, b = inputs[1 + self.state_inputs:]
        acts = [ACTIVATIONS[a] for a in activation_names(node)]
        direction = node.attrs["direction"]
        batch, seq = x.shape[:2]
        lens = np.clip(np.asarray(lens).astype(np.int64).reshape(-1), 0, seq)
        lens = np.broadcast_to(lens, (batch,))
        ys, hs, cs = [], [], []
        for d in range(h0.shape[1]):
            reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
            y, h, c = self._run(node, x, h0[:, d], None if c0 is None else c0[:, d], lens, w[d], r[d], b[d],
                                acts, reverse)
            ys.append(y)
            hs.append(h)
            cs.append(c)
        et = node.outputs[0].element_type
        outs = [np.stack(ys, axis=1), np.stack(hs, axis=1)] + ([np.stack(cs, axis=1)] if self.has_cell else [])
        return [as_dtype(o, et) for o in outs]

    def _run(self, node: "Node", x: Array, h: Array, c: Array | None, lens: Array, w: Array, r: Array,
             b: Array, acts: list[Callable[[Array], Array]], reverse: bool) -> tuple[Array, Array, Array | None]:
        batch, seq = x.shape[:2]
        rows = np.arange(batch)
        y = np.zeros((batch, seq, h.shape[-1]), dtype=x.dtype)
        for s in range(seq):
            active = s < lens
            t = np.clip(lens - 1 - s if reverse else np.full(batch, s), 0, seq - 1)
            nh, nc = self.cell(node, x[rows, t], h, c, w, r, b, acts)
            h = np.where(active[:, None], nh, h)
            if c is not None and nc is not None:
                c = np.where(active[:, None], nc, c)
            y[rows[active], t[active]] = nh[active]
        return y, h, c


class _Cell(_Recurrent):
    """A recurrent cell op: its gate family's `cell` once. Inputs X, H (, C), W, R, B; outputs Ho (, Co)
    [batch, hidden]. B is required although OpenVINO's C++ constructors can leave it out: they add a zero B of
    their own, and OpenVINO's IR reader refuses a cell layer without it."""

    @property
    def weight_input(self) -> int:
        return 1 + self.state_inputs  # after X and the states

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        self.check_activations(node)
        et = merged_type(node, tuple(range(len(node.inputs))))
        hidden = node.attrs["hidden_size"]
        batch = Dimension()
        for i, what in enumerate(("X", "H", "C")[:1 + self.state_inputs]):
            shape = node.inputs[i].shape
            if shape.rank_is_static and shape.rank != 2:
                raise GraphError(f"node '{node.name}' ({node.type}): {what} must be 2D, got {shape}")
            if shape.rank_is_static and batch.is_dynamic:
                batch = shape[0]
        nw = self.weight_input
        rows = {"W": (nw, self.gates), "R": (nw + 1, self.gates), "B": (nw + 2, self.bias_gates(node))}
        for what, (i, gates) in rows.items():
            shape, rank = node.inputs[i].shape, 1 if what == "B" else 2
            if shape.rank_is_static and (shape.rank != rank
                                         or (shape[0].is_static and shape[0].to_int() != gates * hidden)):
                raise GraphError(f"node '{node.name}' ({node.type}): {what} must be {rank}D with {gates * hidden} rows "
                                 f"({gates} x hidden_size {hidden}), got {shape}")
        state = (et, PartialShape([batch, Dimension.of(hidden)]))
        return [state, state] if self.has_cell else [state]

    def evaluate(self, node: "Node", inputs: list[Array]) -> list[Array]:
        x, h = inputs[0], inputs[1]
        c = inputs[2] if self.has_cell else None
        nw = self.weight_input
        w, r, b = inputs[nw:nw + 3]
        acts = [ACTIVATIONS[a] for a in activation_names(node)]
        ho, co = self.cell(node, x, h, c, w, r, b, acts)
        et = node.outputs[0].element_type
        return [as_dtype(o, et) for o in ([ho, co] if co is not None else [ho])]


@register
class LSTMSequence(_LSTMGates, _Sequence):
    """An LSTM over a sequence, in each direction (gates: `_LSTMGates`)."""

    type_name = "LSTMSequence"
    version = "opset5"
    attrs = (DIRECTION, *_common_attrs(["sigmoid", "tanh", "tanh"]))
    min_inputs = max_inputs = 7


@register
class GRUSequence(_GRUGates, _Sequence):
    """A GRU over a sequence, in each direction (gates: `_GRUGates`)."""

    type_name = "GRUSequence"
    version = "opset5"
    attrs = (DIRECTION, Attr("linear_before_reset", "bool", False), *_common_attrs(["sigmoid", "tanh"]))
    min_inputs = max_inputs = 6


@register
class RNNSequence(_RNNGates, _Sequence):
    """A plain RNN over a sequence, in each direction (gates: `_RNNGates`)."""

    type_name = "RNNSequence"
    version = "opset5"
    attrs = (DIRECTION, *_common_attrs(["tanh"]))
    min_inputs = max_inputs = 6


@register
class LSTMCell(_LSTMGates, _Cell):
    """One LSTM step (gates: `_LSTMGates`)."""

    type_name = "LSTMCell"
    version = "opset4"
    attrs = _common_attrs(["sigmoid", "tanh", "tanh"])
    min_inputs = max_inputs = 6


_WEIGHTS_FORMATS = ("fico", "icof", "ifco", "ifoc", "iofc")


@register
class LSTMCell1(LSTMCell):
    """LSTMCell-1: LSTMCell-4 plus peepholes P [3*hidden] (input 7, optional: OpenVINO writes the layer without
    it when they are its default zeros), `input_forget` (i = 1 - f) and `weights_format`. Only its defaults are
    supported, where it is LSTMCell-4: fico weights, input_forget false, no peepholes or zero ones. Anything else
    is refused, naming the node: attributes when the node is made (an IR read fails at once), non-zero peepholes
    when the kernel runs (they may be a runtime value)."""

    version = "opset1"
    attrs = (*LSTMCell.attrs, Attr("input_forget", "bool", False),
             Attr("weights_format", "str", "fico", _WEIGHTS_FORMATS))
    max_inputs = 7

    def infer(self, node: "Node") -> list[TypedShape]:
        refused = ([] if not node.attrs["input_forget"] else ["input_forget=true"]) + \
            ([] if node.attrs["weights_format"] == "fico" else [f"weights_format={node.attrs['weights_format']}"])
        if refused:
            raise GraphError(f"node '{node.name}' (LSTMCell-1): {', '.join(refused)} is not supported; irforge runs "
                             "LSTMCell-1 with its defaults only (weights_format=fico, input_forget=false, "
                             "no peepholes)")
        return super().infer(node)

    def evaluate(self, node: "Node", inputs: list[Array]) -> list[Array]:
        if len(inputs) > 6 and np.any(inputs[6] != 0):
            raise GraphError(f"node '{node.name}' (LSTMCell-1): non-zero peepholes (input P) are not supported; "
                             "irforge runs LSTMCell-1 with its defaults only")
        return super().evaluate(node, inputs[:6])


@register
class GRUCell(_GRUGates, _Cell):
    """One GRU step (gates: `_GRUGates`)."""

    type_name = "GRUCell"
    version = "opset3"
    attrs = (Attr("linear_before_reset", "bool", False), *_common_attrs(["sigmoid", "tanh"]))
    min_inputs = max_inputs = 5


@register
class RNNCell(_RNNGates, _Cell):
    """One plain RNN step (gates: `_RNNGates`). OpenVINO's RNNCell-0 is in opset3's list, yet OpenVINO writes and
    reads it as version opset1, so that is its version here."""

    type_name = "RNNCell"
    version = "opset1"
    attrs = _common_attrs(["tanh"])
    min_inputs = max_inputs = 5
