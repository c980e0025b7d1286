"""LSTMCell, GRUCell and RNNCell on the CPU device (lowerings/rnn.py `CellLowering`): torch's one-step cells where
they compute the op (f32, default activations or RNN's relu, no clipping, GRU with `linear_before_reset`, constant
weights, LSTMCell-1 without peepholes), the reference kernel otherwise; CPU equals REF either way."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.types import Type
from tests.runtime.cpu.helpers import F32, check, randn

INPUT, HIDDEN = 5, 6
GATES = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}
TORCH = {"LSTMCell": "torch_lstm_cell", "GRUCell": "torch_gru_cell", "RNNCell": "torch_rnn_cell"}


def _model(kind: str, batch: int | None = 3, runtime_weights: bool = False, constant_state: bool = False,
           peepholes: np.ndarray | None = None, version: str | None = None,
           **attrs: Any) -> tuple[Model, list[np.ndarray]]:
    """One cell; X, H (, C) as Parameters (H a zero Constant with `constant_state`), W, R, B as Constants (W a
    Parameter with `runtime_weights`); the inputs to feed, with batch 3 where the batch is dynamic."""
    g = GATES[kind]
    bias = (g + (kind == "GRUCell" and bool(attrs.get("linear_before_reset")))) * HIDDEN
    w, r, b = randn(g * HIDDEN, INPUT, scale=0.5), randn(g * HIDDEN, HIDDEN, scale=0.5), randn(bias, scale=0.3)
    params = [parameter(Type.f32, [batch, INPUT], "x")]
    feeds = [randn(3, INPUT)]
    states: list[Output] = []
    for name in ("h", "c")[:2 if kind == "LSTMCell" else 1]:
        if constant_state and name == "h":
            states.append(constant(np.zeros((batch or 3, HIDDEN), np.float32)))
            continue
        params.append(parameter(Type.f32, [batch, HIDDEN], name))
        feeds.append(randn(3, HIDDEN))
        states.append(params[-1].output(0))
    if runtime_weights:
        params.append(parameter(Type.f32, list(w.shape), "w"))
        feeds.append(w)
        w_src = params[-1].output(0)
    else:
        w_src = constant(w)
    srcs = [params[0].output(0), *states, w_src, constant(r), constant(b)]
    if peepholes is not None:
        srcs.append(constant(peepholes))
    node = make(kind, srcs, version=version, hidden_size=HIDDEN, **attrs)
    return Model([result(o) for o in node.outputs], params), feeds


# (kind, model options, whether the torch cell runs it)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("LSTMCell", {}, True),
    ("LSTMCell", {"batch": None}, True),
    ("LSTMCell", {"constant_state": True}, True),
    ("LSTMCell", {"version": "opset1"}, True),
    ("LSTMCell", {"version": "opset1", "peepholes": np.zeros(3 * HIDDEN, np.float32)}, True),
    ("LSTMCell", {"clip": 0.5}, False),
    ("LSTMCell", {"activations": ["sigmoid", "relu", "tanh"]}, False),
    ("LSTMCell", {"runtime_weights": True}, False),
    ("GRUCell", {"linear_before_reset": True}, True),
    ("GRUCell", {"linear_before_reset": True, "batch": None, "constant_state": True}, True),
    ("GRUCell", {}, False),  # torch's GRU is the linear_before_reset form only
    ("GRUCell", {"linear_before_reset": True, "activations": ["sigmoid", "relu"]}, False),
    ("RNNCell", {}, True),
    ("RNNCell", {"activations": ["relu"]}, True),
    ("RNNCell", {"activations": ["relu"], "batch": None}, True),
    ("RNNCell", {"activations": ["sigmoid"]}, False),
    ("RNNCell", {"clip": 1.0}, False),
    ("RNNCell", {"runtime_weights": True}, False),
]


@pytest.mark.parametrize("kind,options,fast", CASES,
                         ids=[f"{k}-{'torch' if f else 'ref'}-{i}" for i, (k, _, f) in enumerate(CASES)])
def test_cell_equals_ref(kind: str, options: dict[str, Any], fast: bool) -> None:
    model, feeds = _model(kind, **options)
    counts = check(model, feeds, TORCH[kind] if fast else None, rtol=1e-5, atol=1e-5, config=F32)
    if fast:
        assert [p.exec_type for p in counts] == [f"{TORCH[kind]}_f32"]


def test_lstm_cell_1_with_nonzero_peepholes_runs_on_ref_and_is_refused() -> None:
    """Non-zero peepholes leave the torch path; the reference kernel then refuses them, naming the node."""
    import irforge

    model, feeds = _model("LSTMCell", version="opset1", peepholes=np.ones(3 * HIDDEN, np.float32))
    with pytest.raises(Exception, match="non-zero peepholes"):
        irforge.Core().compile_model(model, "CPU", F32)(feeds)
