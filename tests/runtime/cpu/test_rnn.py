"""LSTMSequence / GRUSequence / RNNSequence on torch's fused recurrent kernels (lowerings/rnn.py): ONNX LSTM, GRU
and RNN nodes (every direction, with and without initial states, sequence lengths as constants and as runtime
inputs, rows shorter than the sequence) converted by the ONNX frontend; CPU equals REF and ONNX Runtime."""
from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import irforge
from tests.runtime.cpu.helpers import check
from tests.util import assert_close, run_ort

BATCH, SEQ, INPUT, HIDDEN = 3, 7, 5, 6
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _model(kind: str, direction: str, initial: bool, lens: str, linear_before_reset: int = 1,
           activations: list[str] | None = None, seq: int = SEQ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    SEQ = seq  # noqa: N806 - the sequence length of this model
    rng = np.random.default_rng(len(kind) * 100 + len(direction) * 10 + initial)
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[kind]
    w = (rng.standard_normal((dirs, g * HIDDEN, INPUT)) * 0.5).astype(np.float32)
    r = (rng.standard_normal((dirs, g * HIDDEN, HIDDEN)) * 0.5).astype(np.float32)
    b = (rng.standard_normal((dirs, 2 * g * HIDDEN)) * 0.3).astype(np.float32)
    feeds = {"X": rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32)}
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"), numpy_helper.from_array(b, "B")]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [SEQ, BATCH, INPUT])]
    lengths = np.array([SEQ, 4, 1], np.int32) if lens == "short" else np.full(BATCH, SEQ, np.int32)
    if lens == "none":
        seq_name = ""
    elif lens == "constant":
        inits.append(numpy_helper.from_array(lengths, "L"))
        seq_name = "L"
    else:  # runtime: full or short rows
        graph_inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, [BATCH]))
        feeds["L"] = lengths
        seq_name = "L"
    names = ["X", "W", "R", "B", seq_name]
    if initial:
        for state in ("H0", "C0") if kind == "LSTM" else ("H0",):
            graph_inputs.append(helper.make_tensor_value_info(state, TensorProto.FLOAT, [dirs, BATCH, HIDDEN]))
            feeds[state] = rng.standard_normal((dirs, BATCH, HIDDEN)).astype(np.float32)
            names.append(state)
    attrs: dict[str, object] = {"hidden_size": HIDDEN, "direction": direction}
    if kind == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    if activations:
        attrs["activations"] = activations * dirs
    outs = ["Y", "Y_h"] + (["Y_c"] if kind == "LSTM" else [])
    node = helper.make_node(kind, names, outs, **attrs)
    graph = helper.make_graph([node], "rnn", graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), feeds


CASES = list(itertools.product(("LSTM", "GRU", "RNN"), ("forward", "reverse", "bidirectional"), (False, True),
                               ("none", "constant", "runtime", "short")))


@pytest.mark.parametrize("kind,direction,initial,lens", CASES)
def test_recurrent_kernel_equals_ref_and_ort(kind: str, direction: str, initial: bool, lens: str) -> None:
    proto, feeds = _model(kind, direction, initial, lens)
    model = irforge.convert_model(proto)
    inputs = [feeds[p.get_any_name()] for p in model.inputs]
    fast = f"torch_{kind.lower()}"
    # "short": runtime lengths below the sequence; the step hands such a call to the reference kernel
    check(model, inputs, fast, rtol=1e-5, atol=1e-5)
    got = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(inputs).values_list()
    assert_close(got, run_ort(proto, feeds), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,direction,initial,lens,seq",
                         list(itertools.product(("LSTM", "GRU", "RNN"), ("forward", "reverse", "bidirectional"),
                                                (False, True), ("none", "runtime"), (1, 2))))
def test_short_sequences_run_cell_by_cell(kind: str, direction: str, initial: bool, lens: str, seq: int) -> None:
    """A streaming model's one or two frames run through torch's cell kernels (lowerings/rnn.py SHORT_SEQUENCE)."""
    proto, feeds = _model(kind, direction, initial, lens, seq=seq)
    model = irforge.convert_model(proto)
    inputs = [feeds[p.get_any_name()] for p in model.inputs]
    check(model, inputs, f"torch_{kind.lower()}", rtol=1e-5, atol=1e-5)
    got = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(inputs).values_list()
    assert_close(got, run_ort(proto, feeds), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", ["gru_linear_after_reset", "lstm_custom_activations"])
def test_forms_torch_lacks_run_on_the_reference_kernel(variant: str) -> None:
    if variant == "gru_linear_after_reset":
        proto, feeds = _model("GRU", "forward", True, "none", linear_before_reset=0)
    else:
        proto, feeds = _model("LSTM", "forward", True, "none", activations=["Sigmoid", "Relu", "Tanh"])
    model = irforge.convert_model(proto)
    inputs = [feeds[p.get_any_name()] for p in model.inputs]
    counts = check(model, inputs, "ref")
    assert not any("torch_gru" in c.exec_type or "torch_lstm" in c.exec_type for c in counts)
    got = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(inputs).values_list()
    assert_close(got, run_ort(proto, feeds), rtol=1e-5, atol=1e-5)
