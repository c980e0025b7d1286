"""LSTMSequence, GRUSequence and RNNSequence as torch's fused recurrent kernels (`torch._VF.lstm/gru/rnn_*`: one
call for the whole sequence, the input projection of all steps as one GEMM, MKL/oneDNN inside), instead of the
NumPy reference's Python loop over time steps; LSTMCell, GRUCell and RNNCell as one call of torch's cell
(`torch.lstm_cell`, `gru_cell`, `rnn_tanh_cell`, `rnn_relu_cell`).

The weights are rearranged once at plan time from OpenVINO's gate orders (LSTM fico, GRU zrh) to torch's (LSTM
ifgo, GRU rzn). torch's kernels (sequence and cell alike) have the default activations only, no clipping, and GRU
only in the `linear_before_reset` form (torch's `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`); other forms run
on the reference kernel. Rows shorter than the sequence (`sequence_lengths` below the time axis) also run on the
reference kernel: when the lengths are runtime values the step checks them on each call (one comparison on a
[batch] tensor) and hands such a call to the reference kernel, so the step is not traceable. Sequences of at most
SHORT_SEQUENCE steps (a streaming model's one frame) run cell by cell (`torch.lstm_cell`, `gru_cell`,
`rnn_*_cell`), which skips the whole-sequence kernel's per-call weight reorder."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from irforge.ir.graph import Node
from irforge.ir.ops.rnn import activation_names
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import NodeLowering, lowers
from irforge.runtime.devices.cpu.tensors import constant_tensor, to_torch

# sequences this short run cell by cell: torch's whole-sequence kernel goes through oneDNN's RNN primitive, which
# reorders the weights on every call (~100 us for one LSTM step of hidden size 128, where a cell takes ~28 us)
SHORT_SEQUENCE = 2
_CELLS: dict[str, Callable[..., Any]] = {"LSTM": torch.lstm_cell, "GRU": torch.gru_cell}


def _family(node: Node) -> str:
    """LSTM, GRU or RNN: what a sequence and its cell share (gate order, torch's cell kernel)."""
    return node.type.removesuffix("Sequence").removesuffix("Cell")


def _weights_at(node: Node) -> int:
    """The index of W among `node`'s inputs (R and B follow), as its op declares it."""
    return node.op.weight_input  # type: ignore[attr-defined, no-any-return]


def _torch_form(node: Node, g: GraphView) -> bool:
    """Whether torch's recurrent kernels compute `node`: f32, torch's activations, no clipping, GRU in the
    `linear_before_reset` form, constant W, R and B."""
    if not g.torch_ok(node) or any(o.element_type.name != "f32" for o in node.outputs):
        return False
    if node.attrs["clip"] > 0 or node.attrs["activations_alpha"] or node.attrs["activations_beta"]:
        return False
    family, acts = _family(node), activation_names(node)
    if family == "RNN":
        if acts[0] not in ("tanh", "relu"):
            return False
    else:
        default = node.op.attr("activations").default
        if acts[:len(default)] != default:
            return False
    if family == "GRU" and not node.attrs["linear_before_reset"]:
        return False
    k = _weights_at(node)
    return all(g.const(s) is not None for s in node.inputs[k:k + 3])


def _rnn_cell(node: Node) -> Callable[..., Any]:
    """torch's one-step kernel for `node`'s family (RNN: by its activation)."""
    if _family(node) == "RNN":
        return torch.rnn_relu_cell if activation_names(node)[0] == "relu" else torch.rnn_tanh_cell
    return _CELLS[_family(node)]


def _lstm_gates(a: np.ndarray) -> np.ndarray:
    """[4h, ...] in OpenVINO's f, i, c, o order -> torch's i, f, g, o."""
    f, i, c, o = np.split(a, 4, axis=0)
    return np.concatenate([i, f, c, o], axis=0)


def _gru_gates(a: np.ndarray) -> np.ndarray:
    """[3h, ...] in OpenVINO's z, r, h order -> torch's r, z, n."""
    z, r, h = np.split(a, 3, axis=0)
    return np.concatenate([r, z, h], axis=0)


def _params(node: Node, w: np.ndarray, r: np.ndarray, b: np.ndarray) -> list[torch.Tensor]:
    """torch's flat weight list (w_ih, w_hh, b_ih, b_hh per direction) from the IR's W, R, B (with a leading
    directions axis: a cell's weights take one)."""
    params: list[torch.Tensor] = []
    for d in range(w.shape[0]):
        wd, rd, bd = w[d].astype(np.float32), r[d].astype(np.float32), b[d].astype(np.float32)
        if _family(node) == "LSTM":
            wd, rd, bd = _lstm_gates(wd), _lstm_gates(rd), _lstm_gates(bd)
            b_ih, b_hh = bd, np.zeros_like(bd)
        elif _family(node) == "GRU":  # B = [Bz, Br, Wbh, Rbh] (linear_before_reset)
            n = rd.shape[1]
            wd, rd = _gru_gates(wd), _gru_gates(rd)
            b_ih = _gru_gates(bd[:3 * n])
            b_hh = np.concatenate([np.zeros(2 * n, np.float32), bd[3 * n:]])
        else:
            b_ih, b_hh = bd, np.zeros_like(bd)
        params += [torch.from_numpy(np.ascontiguousarray(a)) for a in (wd, rd, b_ih, b_hh)]
    return params


@lowers("LSTMSequence", "GRUSequence", "RNNSequence")
class RecurrentLowering(NodeLowering):
    traceable = False  # the step branches on the runtime lengths and may call the NumPy reference kernel

    def supports(self, node: Node, g: GraphView) -> bool:
        if not _torch_form(node, g):
            return False
        k = _weights_at(node)
        x = g.static_shape(node.inputs[0])
        if x is None or len(x) != 3:
            return False
        lens = g.const(node.inputs[k - 1])
        return lens is None or bool(np.all(np.asarray(lens).reshape(-1) >= x[1]))

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        g = ctx.g
        k = _weights_at(node)
        w, r, b = (np.asarray(g.const(s)) for s in node.inputs[k:k + 3])
        params = _params(node, w, r, b)
        direction = node.attrs["direction"]
        bidirectional = direction == "bidirectional"
        reverse = direction == "reverse"
        seq = g.static_shape(node.inputs[0])[1]  # type: ignore[index]
        runtime_lens = g.is_runtime(node.inputs[k - 1])
        has_cell = node.type == "LSTMSequence"
        if node.type == "LSTMSequence":
            vf: Callable[..., Any] = torch._VF.lstm  # type: ignore[attr-defined]
        elif node.type == "GRUSequence":
            vf = torch._VF.gru  # type: ignore[attr-defined]
        else:
            vf = torch._VF.rnn_relu if activation_names(node)[0] == "relu" else torch._VF.rnn_tanh  # type: ignore[attr-defined]
        # the data inputs (X, H0[, C0], lengths): runtime values come in order, constants (zero initial states)
        # are captured
        data = node.inputs[:k]
        consts = [None if g.is_runtime(s) else constant_tensor(np.asarray(g.const(s))) for s in data]
        evaluate = node.op.evaluate

        def gather(runtime: tuple[Any, ...]) -> list[Any]:
            it = iter(runtime)
            return [next(it) if c is None else c for c in consts]

        def fused(x: Any, h0: Any, c0: Any) -> Any:
            """x [batch, seq, in], states [batch, dirs, hidden] -> Y [batch, dirs, seq, hidden], Ho (, Co)."""
            if reverse:
                x = x.flip(1)
            hx = h0.transpose(0, 1).contiguous()
            if has_cell:
                hx = (hx, c0.transpose(0, 1).contiguous())
            res = vf(x, hx, params, True, 1, 0.0, False, bidirectional, True)
            y = res[0]
            if reverse:
                y = y.flip(1)
            y = y.reshape(y.shape[0], seq, 2 if bidirectional else 1, -1).transpose(1, 2)
            return (y, *(s.transpose(0, 1) for s in res[1:]))

        cell = _rnn_cell(node)
        dirs = 2 if bidirectional else 1

        def stepped(x: Any, h0: Any, c0: Any) -> Any:
            """The same by cells, one time step per call: for sequences of SHORT_SEQUENCE steps or fewer."""
            ys, hs, cs = [], [], []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = params[4 * d:4 * d + 4]
                h = h0[:, d]
                c = c0[:, d] if has_cell else None
                out = [None] * seq
                for t in (range(seq - 1, -1, -1) if reverse or d == 1 else range(seq)):
                    if has_cell:
                        h, c = cell(x[:, t], (h, c), w_ih, w_hh, b_ih, b_hh)
                    else:
                        h = cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
                    out[t] = h
                ys.append(torch.stack(out, 1))
                hs.append(h)
                cs.append(c)
            y = torch.stack(ys, 1)
            return (y, torch.stack(hs, 1), torch.stack(cs, 1)) if has_cell else (y, torch.stack(hs, 1))

        run = stepped if seq <= SHORT_SEQUENCE else fused

        def fn(*runtime: Any) -> Any:
            ins = gather(runtime)
            if not runtime_lens or bool((ins[-1] >= seq).all()):
                return run(ins[0], ins[1], ins[2] if has_cell else None)
            # rows shorter than the sequence: the reference kernel on the IR's own inputs
            arrays = [t.numpy() for t in ins] + [w, r, b]
            return tuple(to_torch(a) for a in evaluate(node, arrays))
        return fn, f"torch_{node.type[:-8].lower()}_f32"


@lowers("LSTMCell", "GRUCell", "RNNCell")
class CellLowering(NodeLowering):
    """One recurrent step as one call of torch's cell, the weights reordered to torch's gate order at plan time.
    LSTMCell-1 takes this path only without peepholes or with constant zero ones (its other non-defaults are
    refused when the node is made)."""

    def supports(self, node: Node, g: GraphView) -> bool:
        if not _torch_form(node, g):
            return False
        if len(node.inputs) > 6:  # LSTMCell-1's peepholes
            p = g.const(node.inputs[6])
            return p is not None and not np.any(np.asarray(p))
        return True

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        g = ctx.g
        k = _weights_at(node)
        w, r, b = (np.asarray(g.const(s))[None] for s in node.inputs[k:k + 3])
        w_ih, w_hh, b_ih, b_hh = _params(node, w, r, b)
        cell = _rnn_cell(node)
        # X, H (, C): runtime values come in order, constants (a zero initial state) are captured
        consts = [None if g.is_runtime(s) else constant_tensor(np.asarray(g.const(s))) for s in node.inputs[:k]]
        has_cell = _family(node) == "LSTM"

        def fn(*runtime: Any) -> Any:
            it = iter(runtime)
            x, h, *c = (next(it) if t is None else t for t in consts)
            if has_cell:
                return cell(x, (h, c[0]), w_ih, w_hh, b_ih, b_hh)
            return cell(x, h, w_ih, w_hh, b_ih, b_hh)
        return fn, f"torch_{_family(node).lower()}_cell_f32"
