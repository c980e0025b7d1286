"""Recurrent sequences: LSTMSequence, GRUSequence and RNNSequence (opset5).

Layouts are OpenVINO's: X [batch, seq, input], initial states [batch, num_directions, hidden], W/R/B with a
leading num_directions axis, Y [batch, num_directions, seq, hidden]. Gate orders: LSTM fico, GRU zrh.
`sequence_lengths` [batch] bounds each batch row: steps past it leave Y zero and the state unchanged; the reverse
direction walks each row from its own last valid step back to 0.
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


class _Sequence(OpSpec):
    """A recurrent sequence op. Subclasses give the number of gates, whether a cell state is carried (LSTM),
    and `cell`, one time step for a batch of rows."""

    has_cell: ClassVar[bool] = False
    num_activations: ClassVar[int] = 1

    @property
    def state_inputs(self) -> int:
        return 2 if self.has_cell else 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        if len(activation_names(node)) < self.num_activations:
            raise GraphError(f"node '{node.name}' ({node.type}) needs {self.num_activations} activations")
        nw = 1 + self.state_inputs + 1  # index of W
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

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        raise NotImplementedError

    def clip(self, node: "Node", gates: Array) -> Array:
        limit = node.attrs["clip"]
        return np.clip(gates, -limit, limit) if limit > 0 else gates

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


@register
class LSTMSequence(_Sequence):
    """Gates (fico): f, i, o = f(.), c~ = g(.) of X*W^T + H*R^T + B; C = f*C + i*c~; H = o*h(C)."""

    type_name = "LSTMSequence"
    version = "opset5"
    attrs = (DIRECTION, *_common_attrs(["sigmoid", "tanh", "tanh"]))
    min_inputs = max_inputs = 7
    has_cell = True
    num_activations = 3

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        assert c is not None
        gates = self.clip(node, x @ w.T + h @ r.T + b)
        f, i, cc, o = np.split(gates, 4, axis=-1)
        new_c = acts[0](f) * c + acts[0](i) * acts[1](cc)
        return acts[0](o) * acts[2](new_c), new_c


@register
class GRUSequence(_Sequence):
    """Gates (zrh): z, r = f(.); h~ = g(X*Wh^T + (r*H)*Rh^T + Bh), or with `linear_before_reset`
    g(X*Wh^T + r*(H*Rh^T + Rbh) + Wbh) and B = [Bz, Br, Wbh, Rbh]; H = (1-z)*h~ + z*H."""

    type_name = "GRUSequence"
    version = "opset5"
    attrs = (DIRECTION, Attr("linear_before_reset", "bool", False), *_common_attrs(["sigmoid", "tanh"]))
    min_inputs = max_inputs = 6
    num_activations = 2

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


@register
class RNNSequence(_Sequence):
    """H = f(X*W^T + H*R^T + B)."""

    type_name = "RNNSequence"
    version = "opset5"
    attrs = (DIRECTION, *_common_attrs(["tanh"]))
    min_inputs = max_inputs = 6

    def cell(self, node: "Node", x: Array, h: Array, c: Array | None, w: Array, r: Array, b: Array,
             acts: list[Callable[[Array], Array]]) -> tuple[Array, Array | None]:
        return acts[0](self.clip(node, x @ w.T + h @ r.T + b)), None
