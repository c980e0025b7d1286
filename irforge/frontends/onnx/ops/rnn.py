"""ONNX LSTM, GRU and RNN -> LSTMSequence-5 / GRUSequence-5 / RNNSequence-5, as OpenVINO's ONNX frontend maps
them: X and the states are transposed to batch-major, LSTM gates reordered from ONNX iofc to OpenVINO fico, the
two ONNX bias halves (W and R biases) summed, missing optional inputs replaced by zeros / full lengths, and the
outputs transposed back. `layout=1` (batch-first) tensors already have OpenVINO's batch-major layout.
Weights known at conversion time are rearranged in NumPy; others through Split/Concat/Add in the graph."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output
from irforge.ir.ops.rnn import ACTIVATIONS

_LSTM_GATES_TO_FICO = (2, 0, 3, 1)  # ONNX gate blocks i, o, f, c -> OpenVINO f, i, c, o


def _layout(ctx: NodeContext) -> int:
    layout = ctx.attr("layout", 0)
    if layout not in (0, 1):
        raise ctx.unsupported(f"layout={layout}")
    return layout


def _transpose(ctx: NodeContext, x: Output, perm: Sequence[int]) -> Output:
    return ctx.op("Transpose", x, ctx.const(np.array(perm, np.int64)))


def _split(ctx: NodeContext, x: Output, parts: int, axis: int) -> list[Output]:
    return ctx.make("Split", [x, ctx.const(np.array(axis, np.int64))], num_splits=parts).outputs


def _regroup(ctx: NodeContext, i: int, parts: int, pick: Sequence[Sequence[int]]) -> Output:
    """Input `i` cut into `parts` equal blocks along axis 1, then rebuilt as the concatenation over `pick` of the
    sums of the picked blocks (e.g. bias [Wb, Rb] -> Wb + Rb is parts=2, pick=[[0, 1]])."""
    value = ctx.input_value(i)
    if value is not None:
        blocks = np.split(value, parts, axis=1)
        return ctx.const(np.concatenate([sum(blocks[k] for k in group) for group in pick], axis=1))
    blocks_out = _split(ctx, ctx.input(i), parts, 1)
    summed = []
    for group in pick:
        acc = blocks_out[group[0]]
        for k in group[1:]:
            acc = ctx.op("Add", acc, blocks_out[k])
        summed.append(acc)
    return summed[0] if len(summed) == 1 else ctx.op("Concat", *summed, axis=1)


def _activations(ctx: NodeContext, defaults: list[str], bidirectional: bool) -> list[str]:
    names = [a.lower() for a in ctx.attr("activations", defaults * (2 if bidirectional else 1))]
    n = len(defaults)
    if bidirectional and len(names) == 2 * n and names[:n] != names[n:]:
        raise ctx.unsupported("different activations per direction (OpenVINO takes one set for both)")
    names = names[:n]
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown:
        raise ctx.unsupported(f"activation(s) {', '.join(unknown)} (OpenVINO supports {', '.join(ACTIVATIONS)})")
    return names


class _Converted:
    """The pieces common to the three ops, in OpenVINO layout."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.layout = _layout(ctx)
        self.direction = ctx.attr("direction", "forward").lower()
        if self.direction not in ("forward", "reverse", "bidirectional"):
            raise ctx.unsupported(f"direction='{self.direction}'")
        self.num_dirs = 2 if self.direction == "bidirectional" else 1
        r_shape = ctx.input(2).shape
        hidden = ctx.attr("hidden_size", None)
        if hidden is None:
            if not r_shape.rank_is_static or r_shape[-1].is_dynamic:
                raise ctx.unsupported("no hidden_size attribute and a dynamic R shape")
            hidden = r_shape[-1].get_length()
        self.hidden = int(hidden)
        x = ctx.input(0)
        self.x = x if self.layout == 1 else _transpose(ctx, x, (1, 0, 2))
        self.dtype = x.element_type.dtype

    def state(self, i: int) -> Output:
        """An initial state input (ONNX `initial_h`/`initial_c`), zeros when absent."""
        if self.ctx.has_input(i):
            s = self.ctx.input(i)
            return s if self.layout == 1 else _transpose(self.ctx, s, (1, 0, 2))
        return self._batch_zeros()

    def seq_lens(self) -> Output:
        if self.ctx.has_input(4):
            return self.ctx.input(4)
        shape = self.x.shape
        if shape.rank_is_static and shape[0].is_static and shape[1].is_static:
            return self.ctx.const(np.full(shape[0].get_length(), shape[1].get_length(), np.int32))
        return self.ctx.op("Broadcast", self._dim(1), self._dim(0), mode="numpy")

    def bias_zeros(self, blocks: int) -> Output:
        return self.ctx.const(np.zeros((self.num_dirs, blocks * self.hidden), self.dtype))

    def _dim(self, axis: int) -> Output:
        shape = self.ctx.op("ShapeOf", self.x)
        return self.ctx.op("Gather", shape, self.ctx.const(np.array([axis], np.int64)),
                           self.ctx.const(np.array(0, np.int64)))

    def _batch_zeros(self) -> Output:
        shape = self.x.shape
        tail = [self.num_dirs, self.hidden]
        if shape.rank_is_static and shape[0].is_static:
            return self.ctx.const(np.zeros([shape[0].get_length(), *tail], self.dtype))
        target = self.ctx.op("Concat", self._dim(0), self.ctx.const(np.array(tail, np.int64)), axis=0)
        return self.ctx.op("Broadcast", self.ctx.const(np.zeros((), self.dtype)), target, mode="numpy")

    def outputs(self, outs: list[Output]) -> list[Output | None]:
        """Y, Y_h (and Y_c) back in the ONNX layout; None for outputs the node does not use."""
        y_perm = (2, 1, 0, 3) if self.layout == 0 else (0, 2, 1, 3)
        state_perm = (1, 0, 2) if self.layout == 0 else None
        result: list[Output | None] = []
        for k, out in enumerate(outs):
            if k >= self.ctx.num_outputs or not self.ctx.node.output[k]:
                result.append(None)
            elif k == 0:
                result.append(_transpose(self.ctx, out, y_perm))
            else:
                result.append(out if state_perm is None else _transpose(self.ctx, out, state_perm))
        return result

    def common_attrs(self, defaults: list[str]) -> dict[str, object]:
        ctx = self.ctx
        return dict(direction=self.direction, hidden_size=self.hidden,
                    activations=_activations(ctx, defaults, self.num_dirs == 2),
                    activations_alpha=ctx.attr("activation_alpha", []), activations_beta=ctx.attr("activation_beta", []),
                    clip=abs(float(ctx.attr("clip", 0.0))))


@onnx_op("LSTM")
def lstm(ctx: NodeContext) -> list[Output | None]:
    if ctx.has_input(7) and not _all_zero(ctx.input_value(7)):
        raise ctx.unsupported("peepholes (input P): OpenVINO's LSTMSequence-5 has no peephole weights")
    if ctx.attr("input_forget", 0):
        raise ctx.unsupported("input_forget=1 (coupled input and forget gates)")
    conv = _Converted(ctx)
    fico = [[g] for g in _LSTM_GATES_TO_FICO]
    w, r = _regroup(ctx, 1, 4, fico), _regroup(ctx, 2, 4, fico)
    # B = [Wb_i, Wb_o, Wb_f, Wb_c, Rb_i, Rb_o, Rb_f, Rb_c] -> Wb + Rb in fico order
    b = _regroup(ctx, 3, 8, [[g, g + 4] for g in _LSTM_GATES_TO_FICO]) if ctx.has_input(3) else conv.bias_zeros(4)
    node = ctx.make("LSTMSequence", [conv.x, conv.state(5), conv.state(6), conv.seq_lens(), w, r, b],
                    **conv.common_attrs(["sigmoid", "tanh", "tanh"]))
    return conv.outputs(node.outputs)


@onnx_op("GRU")
def gru(ctx: NodeContext) -> list[Output | None]:
    conv = _Converted(ctx)
    lbr = bool(ctx.attr("linear_before_reset", 0))
    if ctx.has_input(3):
        # B = [Wb_z, Wb_r, Wb_h, Rb_z, Rb_r, Rb_h]; with linear_before_reset the h biases stay apart
        groups = [[0, 3], [1, 4], [2], [5]] if lbr else [[0, 3], [1, 4], [2, 5]]
        b = _regroup(ctx, 3, 6, groups)
    else:
        b = conv.bias_zeros(4 if lbr else 3)
    node = ctx.make("GRUSequence", [conv.x, conv.state(5), conv.seq_lens(), ctx.input(1), ctx.input(2), b],
                    linear_before_reset=lbr, **conv.common_attrs(["sigmoid", "tanh"]))
    return conv.outputs(node.outputs)


@onnx_op("RNN")
def rnn(ctx: NodeContext) -> list[Output | None]:
    conv = _Converted(ctx)
    b = _regroup(ctx, 3, 2, [[0, 1]]) if ctx.has_input(3) else conv.bias_zeros(1)
    node = ctx.make("RNNSequence", [conv.x, conv.state(5), conv.seq_lens(), ctx.input(1), ctx.input(2), b],
                    **conv.common_attrs(["tanh"]))
    return conv.outputs(node.outputs)


def _all_zero(value: np.ndarray | None) -> bool:
    return value is not None and not np.any(value)
