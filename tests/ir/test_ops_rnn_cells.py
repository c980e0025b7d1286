"""The recurrent cells LSTMCell (opset4, and opset1 with its defaults), GRUCell (opset3, both `linear_before_reset`
forms) and RNNCell (opset1): IR built by OpenVINO's own Python API and saved by OpenVINO reads into irforge, where
REF agrees with OpenVINO's CPU plugin (default and non-default activations, clipping); irforge's IR of the same
model writes the layer as OpenVINO does, survives write -> read -> write byte for byte and loads in OpenVINO."""
from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import irforge
from irforge.errors import GraphError
from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.util import assert_close, run_openvino, run_ref

BATCH, INPUT, HIDDEN = 3, 5, 4
GATES = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}
ACTS = ("sigmoid", "tanh", "relu")


@pytest.fixture(scope="module")
def ov() -> ModuleType:
    return pytest.importorskip("openvino")


def _rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _openvino_cell(ov: ModuleType, kind: str, rng: np.random.Generator, **attrs: Any) -> Any:
    """An ov.Model of one cell built with OpenVINO's opset factories; inputs X, H (, C) as Parameters."""
    from openvino import opset1, opset3, opset4

    x = opset1.parameter([BATCH, INPUT], np.float32, name="x")
    h = opset1.parameter([BATCH, HIDDEN], np.float32, name="h")
    params = [x, h]
    g = GATES[kind]
    w, r = _rand(rng, g * HIDDEN, INPUT, scale=0.7), _rand(rng, g * HIDDEN, HIDDEN, scale=0.7)
    if kind == "LSTMCell":
        c = opset1.parameter([BATCH, HIDDEN], np.float32, name="c")
        params.append(c)
        node = opset4.lstm_cell(x, h, c, w, r, _rand(rng, 4 * HIDDEN), HIDDEN, **attrs)
    elif kind == "GRUCell":
        b = _rand(rng, (4 if attrs.get("linear_before_reset") else 3) * HIDDEN)
        node = opset3.gru_cell(x, h, w, r, b, HIDDEN, **attrs)
    else:
        attrs = {"activations": ["tanh"], "activations_alpha": [], "activations_beta": [], **attrs}
        node = opset3.rnn_cell(x, h, w, r, _rand(rng, HIDDEN), HIDDEN, **attrs)
    return ov.Model(list(node.outputs()), params, kind)


def _layer_data(xml: str, kind: str) -> list[tuple[str, str]]:
    """The <data> attributes of the one `kind` layer, in file order."""
    found = re.findall(rf'type="{kind}" version="\w+">\s*<data ([^>]*?)\s*/>', xml)
    assert len(found) == 1, found
    return re.findall(r'(\w+)="([^"]*)"', found[0])


def _same_value(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)  # irforge writes clip="0.0" where OpenVINO writes "0"
    except ValueError:
        return a == b


# each family in its default form, then non-default activations (every one of OpenVINO's three in each slot
# somewhere) with and without clipping; GRU in both linear_before_reset forms
CASES: list[tuple[str, dict[str, Any]]] = [
    ("LSTMCell", {}),
    ("LSTMCell", {"activations": ["sigmoid", "relu", "tanh"], "clip": 0.0}),
    ("LSTMCell", {"activations": ["tanh", "sigmoid", "relu"], "clip": 0.6}),
    ("LSTMCell", {"activations": ["relu", "tanh", "sigmoid"], "clip": 1.5}),
    ("GRUCell", {}),
    ("GRUCell", {"linear_before_reset": True}),
    ("GRUCell", {"activations": ["relu", "sigmoid"], "clip": 0.5, "linear_before_reset": True}),
    ("GRUCell", {"activations": ["tanh", "relu"], "clip": 0.0}),
    ("GRUCell", {"activations": ["sigmoid", "sigmoid"], "clip": 2.0}),
    ("RNNCell", {}),
    *[("RNNCell", {"activations": [a], "clip": clip}) for a, clip in zip(ACTS, (0.0, 0.8, 1.0))],
]


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_openvino_ir_runs_on_ref_as_in_openvino(ov: ModuleType, case: int, tmp_path: Path) -> None:
    kind, attrs = CASES[case]
    rng = np.random.default_rng(100 + case)
    ov_model = _openvino_cell(ov, kind, rng, **attrs)
    path = tmp_path / "cell.xml"
    ov.save_model(ov_model, path, compress_to_fp16=False)
    model = irforge.read_model(path)
    model.validate()
    assert model.histogram().get(kind) == 1
    inputs = [_rand(rng, BATCH, INPUT, scale=1.5)] + [_rand(rng, BATCH, HIDDEN) for _ in ov_model.inputs[1:]]
    compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    want = [np.asarray(v) for v in compiled(inputs).values()]
    got = run_ref(model, inputs)
    assert_close(got, want, rtol=1e-5, atol=2e-6, what=f"irforge REF vs OpenVINO ({kind} {attrs})")

    # irforge's IR: the layer's attributes as OpenVINO wrote them, a byte-exact round trip, and it runs in OpenVINO
    xml, blob = model_to_xml(model)
    ours, theirs = _layer_data(xml.decode(), kind), _layer_data(path.read_text(), kind)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert all(_same_value(a, b) for (_, a), (_, b) in zip(ours, theirs)), (ours, theirs)
    assert model_to_xml(model_from_xml(xml, blob)) == (xml, blob)
    assert_close(run_openvino(model, inputs), want, rtol=1e-5, atol=2e-6, what="OpenVINO on irforge's IR")


def _irforge_cell(kind: str, rng: np.random.Generator, extra: tuple[np.ndarray, ...] = (), version: str | None = None,
                  batch: int | None = BATCH, **attrs: Any) -> Model:
    """A model of one cell built with irforge's graph API (weights as Constants, `extra` inputs after B)."""
    params = [parameter(Type.f32, [batch, INPUT], "x"), parameter(Type.f32, [batch, HIDDEN], "h")]
    if kind == "LSTMCell":
        params.append(parameter(Type.f32, [batch, HIDDEN], "c"))
    g = GATES[kind]
    bias = (g + (kind == "GRUCell" and bool(attrs.get("linear_before_reset")))) * HIDDEN
    weights = [_rand(rng, g * HIDDEN, INPUT), _rand(rng, g * HIDDEN, HIDDEN), _rand(rng, bias), *extra]
    srcs: list[Output] = [p.output(0) for p in params] + [constant(w) for w in weights]
    node = make(kind, srcs, name="cell", version=version, hidden_size=HIDDEN, **attrs)
    return Model([result(o) for o in node.outputs], params)


def _inputs(model: Model, rng: np.random.Generator) -> list[np.ndarray]:
    return [_rand(rng, BATCH, p.get_partial_shape()[1].get_length()) for p in model.inputs]


@pytest.mark.parametrize("peepholes", [False, True])
def test_lstm_cell_1_defaults_run_as_in_openvino(ov: ModuleType, peepholes: bool) -> None:
    """LSTMCell-1 with its defaults (peepholes absent or zero) equals LSTMCell-4, on REF and in OpenVINO reading
    irforge's IR."""
    rng = np.random.default_rng(5)
    extra = (np.zeros(3 * HIDDEN, np.float32),) if peepholes else ()
    model = _irforge_cell("LSTMCell", rng, extra, version="opset1")
    assert 'type="LSTMCell" version="opset1"' in model_to_xml(model)[0].decode()
    inputs = _inputs(model, rng)
    want = run_ref(model, inputs)
    assert_close(run_openvino(model, inputs), want, rtol=1e-5, atol=2e-6, what="OpenVINO on irforge's LSTMCell-1")
    four = run_ref(_irforge_cell("LSTMCell", np.random.default_rng(5)), inputs)
    assert_close(want, four, rtol=0, atol=0, what="LSTMCell-1 vs LSTMCell-4")


def test_openvino_written_lstm_cell_1_reads_into_irforge(ov: ModuleType, tmp_path: Path) -> None:
    from openvino import opset1

    rng = np.random.default_rng(3)
    x, h, c = (opset1.parameter([BATCH, n], np.float32, name=s) for s, n in (("x", INPUT), ("h", HIDDEN),
                                                                               ("c", HIDDEN)))
    node = opset1.lstm_cell(x, h, c, _rand(rng, 4 * HIDDEN, INPUT), _rand(rng, 4 * HIDDEN, HIDDEN),
                            _rand(rng, 4 * HIDDEN), HIDDEN)
    ov_model = ov.Model(list(node.outputs()), [x, h, c])
    ov.save_model(ov_model, tmp_path / "lstm1.xml", compress_to_fp16=False)
    model = irforge.read_model(tmp_path / "lstm1.xml")
    inputs = [_rand(rng, BATCH, INPUT), _rand(rng, BATCH, HIDDEN), _rand(rng, BATCH, HIDDEN)]
    want = [np.asarray(v) for v in ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(
        inputs).values()]
    assert_close(run_ref(model, inputs), want, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("attrs,message", [({"input_forget": True}, "input_forget=true"),
                                           ({"weights_format": "ifco"}, "weights_format=ifco")])
def test_lstm_cell_1_refuses_other_forms_when_made(attrs: dict[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=f"node 'cell' \\(LSTMCell-1\\): {message} is not supported"):
        _irforge_cell("LSTMCell", np.random.default_rng(0), version="opset1", **attrs)


def test_lstm_cell_1_refuses_nonzero_peepholes_when_run() -> None:
    rng = np.random.default_rng(1)
    model = _irforge_cell("LSTMCell", rng, (np.ones(3 * HIDDEN, np.float32),), version="opset1")
    with pytest.raises(Exception, match="non-zero peepholes"):
        run_ref(model, _inputs(model, rng))


def _cell_of(model: Model, kind: str) -> Any:
    (node,) = [n for n in model.get_ordered_ops() if n.type == kind]
    return node


@pytest.mark.parametrize("kind,attrs", [("LSTMCell", {}), ("GRUCell", {"linear_before_reset": True}),
                                        ("RNNCell", {"activations": ["relu"], "clip": 0.5})])
def test_ir_round_trip_keeps_the_cell(kind: str, attrs: dict[str, Any]) -> None:
    """A dynamic batch, attributes and weights survive write -> read (-> write byte for byte)."""
    model = _irforge_cell(kind, np.random.default_rng(2), batch=None, **attrs)
    out = model.outputs[0].get_partial_shape()
    assert out.rank == 2 and out[0].is_dynamic and out[1].get_length() == HIDDEN
    xml, blob = model_to_xml(model)
    again = model_from_xml(xml, blob)
    again.validate()
    assert _cell_of(again, kind).attrs == _cell_of(model, kind).attrs
    assert model_to_xml(again) == (xml, blob)
    inputs = _inputs(model, np.random.default_rng(4))
    assert_close(run_ref(again, inputs), run_ref(model, inputs), rtol=0, atol=0)


@pytest.mark.parametrize("kind,shapes,message", [
    ("LSTMCell", [(15, INPUT), (16, HIDDEN), (16,)], "W must be 2D with 16 rows"),
    ("GRUCell", [(12, INPUT), (12, HIDDEN), (12,)], "B must be 1D with 16 rows"),  # linear_before_reset: 4 rows
    ("RNNCell", [(4, INPUT), (4, HIDDEN, 1), (4,)], "R must be 2D with 4 rows"),
])
def test_weight_shapes_are_checked(kind: str, shapes: list[tuple[int, ...]], message: str) -> None:
    x, h, c = (parameter(Type.f32, [BATCH, n], s).output(0) for s, n in (("x", INPUT), ("h", HIDDEN), ("c", HIDDEN)))
    srcs = [x, h] + ([c] if kind == "LSTMCell" else []) + [constant(np.zeros(s, np.float32)) for s in shapes]
    attrs = {"linear_before_reset": True} if kind == "GRUCell" else {}
    with pytest.raises(GraphError, match=f"node 'cell' \\({kind}\\): {message}"):
        make(kind, srcs, name="cell", hidden_size=HIDDEN, **attrs)
