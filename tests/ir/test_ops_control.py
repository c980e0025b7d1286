"""Control flow (If, Loop, TensorIterator) and recurrent sequences (LSTM/GRU/RNNSequence): ONNX models converted
by irforge agree on REF, in OpenVINO (through our IR) and in ONNX Runtime; OpenVINO-written IR reads back into
irforge; our IR survives write -> read -> write byte for byte."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as oh

import irforge
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.ops.control_flow import InputDesc, OutputDesc, Slicing
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(7)


def _vi(name: str, et: int, shape: Any) -> onnx.ValueInfoProto:
    return oh.make_tensor_value_info(name, et, shape)


def _model(nodes: list, inputs: list, outputs: list, opset: int = 13, inits: list | None = None) -> onnx.ModelProto:
    graph = oh.make_graph(nodes, "g", inputs, outputs, initializer=inits or [])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])


def _if_model() -> onnx.ModelProto:
    """out = cond ? (x + y) * k + relu(x) : x * x, where relu(x) is computed outside and read by the then branch."""
    k = oh.make_tensor("k", T.FLOAT, [3], [1.0, -2.0, 0.5])
    then_g = oh.make_graph([oh.make_node("Add", ["x", "y"], ["s"]), oh.make_node("Constant", [], ["k"], value=k),
                            oh.make_node("Mul", ["s", "k"], ["sk"]), oh.make_node("Add", ["sk", "rx"], ["t"])],
                           "then", [], [_vi("t", T.FLOAT, [2, 3])])
    else_g = oh.make_graph([oh.make_node("Mul", ["x", "x"], ["e"])], "else", [], [_vi("e", T.FLOAT, [2, 3])])
    nodes = [oh.make_node("Relu", ["x"], ["rx"]),
             oh.make_node("If", ["c"], ["out"], then_branch=then_g, else_branch=else_g)]
    return _model(nodes, [_vi("c", T.BOOL, []), _vi("x", T.FLOAT, [2, 3]), _vi("y", T.FLOAT, [2, 3])],
                  [_vi("out", T.FLOAT, [2, 3])])


def _loop_model() -> onnx.ModelProto:
    """v <- v + x for M iterations (x = relu(x0) read from the outer scope); scan output: v * 2 after each step."""
    two = oh.make_tensor("two", T.FLOAT, [], [2.0])
    body = oh.make_graph(
        [oh.make_node("Identity", ["cond_in"], ["cond_out"]),
         oh.make_node("Identity", ["x"], ["xi"]),
         oh.make_node("Add", ["v_in", "xi"], ["v_out"]),
         oh.make_node("Constant", [], ["two"], value=two),
         oh.make_node("Mul", ["v_out", "two"], ["scan"])],
        "body",
        [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("v_in", T.FLOAT, [3])],
        [_vi("cond_out", T.BOOL, []), _vi("v_out", T.FLOAT, [3]), _vi("scan", T.FLOAT, [3])])
    nodes = [oh.make_node("Relu", ["x0"], ["x"]),
             oh.make_node("Loop", ["M", "cond", "v0"], ["vf", "scans"], body=body)]
    return _model(nodes, [_vi("M", T.INT64, []), _vi("cond", T.BOOL, []), _vi("v0", T.FLOAT, [3]),
                          _vi("x0", T.FLOAT, [3])],
                  [_vi("vf", T.FLOAT, [3]), _vi("scans", T.FLOAT, None)])


def _while_model() -> onnx.ModelProto:
    """A while loop without trip count: v <- v + v while the body's condition v < limit holds."""
    body = oh.make_graph(
        [oh.make_node("Add", ["v_in", "v_in"], ["v_out"]),
         oh.make_node("Less", ["v_out", "limit"], ["cond_out"]),
         oh.make_node("Identity", ["v_out"], ["scan"])],
        "body",
        [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("v_in", T.FLOAT, [])],
        [_vi("cond_out", T.BOOL, []), _vi("v_out", T.FLOAT, []), _vi("scan", T.FLOAT, [])])
    nodes = [oh.make_node("Loop", ["", "cond", "v0"], ["vf", "scans"], body=body)]
    return _model(nodes, [_vi("cond", T.BOOL, []), _vi("v0", T.FLOAT, []), _vi("limit", T.FLOAT, [])],
                  [_vi("vf", T.FLOAT, []), _vi("scans", T.FLOAT, None)])


def _nested_model() -> onnx.ModelProto:
    """A Loop whose body holds an If; both branches read `x` from the outermost scope, the condition `flag` and
    the carried `v` come from the Loop's scope."""
    then_g = oh.make_graph([oh.make_node("Add", ["v_in", "x"], ["t"])], "then", [], [_vi("t", T.FLOAT, [3])])
    else_g = oh.make_graph([oh.make_node("Sub", ["v_in", "x"], ["e"])], "else", [], [_vi("e", T.FLOAT, [3])])
    body = oh.make_graph(
        [oh.make_node("Identity", ["cond_in"], ["cond_out"]),
         oh.make_node("If", ["flag"], ["v_out"], then_branch=then_g, else_branch=else_g),
         oh.make_node("Mul", ["v_out", "v_out"], ["scan"])],
        "body",
        [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("v_in", T.FLOAT, [3])],
        [_vi("cond_out", T.BOOL, []), _vi("v_out", T.FLOAT, [3]), _vi("scan", T.FLOAT, [3])])
    nodes = [oh.make_node("Loop", ["M", "", "v0"], ["vf", "scans"], body=body)]
    return _model(nodes, [_vi("M", T.INT64, []), _vi("flag", T.BOOL, []), _vi("v0", T.FLOAT, [3]),
                          _vi("x", T.FLOAT, [3])],
                  [_vi("vf", T.FLOAT, [3]), _vi("scans", T.FLOAT, None)])


def _feeds(proto: onnx.ModelProto, **values: Any) -> dict[str, np.ndarray]:
    return {i.name: np.asarray(values[i.name]) for i in proto.graph.input}


def _check_three_ways(proto: onnx.ModelProto, feeds: dict[str, np.ndarray], atol: float = 1e-5) -> Model:
    model = irforge.convert_model(proto)
    model.validate()
    inputs = list(feeds.values())
    want = run_ort(proto, feeds)
    assert_close(run_ref(model, inputs), want, atol=atol, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, inputs), want, atol=atol, what="OpenVINO (our IR) vs ONNX Runtime")
    return model


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_outer_scope_captures(cond: bool) -> None:
    proto = _if_model()
    feeds = _feeds(proto, c=cond, x=RNG.standard_normal((2, 3), np.float32), y=RNG.standard_normal((2, 3), np.float32))
    model = _check_three_ways(proto, feeds)
    node = next(n for n in model.ops() if n.type == "If")
    assert len(node.inputs) == 1 + 3 + 1  # cond, then: x, y, relu(x); else: x (each capture is its own port)


@pytest.mark.parametrize("n", [4, 5])
def test_if_with_a_condition_known_at_conversion_is_inlined(n: int) -> None:
    """The size tests of expanded ONNX functions (AffineGrid's `Size(size) == 4`): only the taken branch is
    translated, so the other may be invalid for these shapes (a 4-way Split of 5 elements), and no If is left."""
    then_g = oh.make_graph([oh.make_node("Split", ["x"], ["a", "b", "c", "d"], num_outputs=4),
                            oh.make_node("Concat", ["d", "a"], ["t"], axis=0),
                            oh.make_node("Identity", ["x"], ["xi"])],  # a branch output that is an outer value
                           "then", [], [_vi("t", T.FLOAT, None), _vi("xi", T.FLOAT, None)])
    else_g = oh.make_graph([oh.make_node("Mul", ["x", "x"], ["e"]), oh.make_node("Identity", ["rx"], ["ri"])],
                           "else", [], [_vi("e", T.FLOAT, None), _vi("ri", T.FLOAT, None)])
    nodes = [oh.make_node("Relu", ["x"], ["rx"]), oh.make_node("Size", ["x"], ["n"]),
             oh.make_node("Constant", [], ["four"], value=oh.make_tensor("four", T.INT64, [], [4])),
             oh.make_node("Equal", ["n", "four"], ["is4"]),
             oh.make_node("If", ["is4"], ["out", "passed"], then_branch=then_g, else_branch=else_g),
             oh.make_node("Neg", ["passed"], ["neg"])]
    proto = _model(nodes, [_vi("x", T.FLOAT, [n])], [_vi("out", T.FLOAT, None), _vi("neg", T.FLOAT, None)],
                   opset=18)
    x = RNG.standard_normal(n).astype(np.float32)
    model = irforge.convert_model(proto)
    model.validate()
    assert "If" not in model.histogram()
    # (ONNX Runtime's own shape inference rejects the invalid branch for n=5, so the expectation is NumPy's)
    want = [np.concatenate([x[3:], x[:1]]), -x] if n == 4 else [x * x, -np.maximum(x, 0)]
    assert_close(run_ref(model, [x]), want, what="REF")
    assert_close(run_openvino(model, [x]), want, what="OpenVINO (our IR)")


def test_if_merges_branch_shapes() -> None:
    c = parameter(Type.boolean, [], "c")
    a = parameter(Type.f32, [2, 3], "a")
    b = parameter(Type.f32, [4, 3], "b")
    then_p, else_p = parameter(Type.f32, [2, 3], "tp"), parameter(Type.f32, [4, 3], "ep")
    then_b = Model([result(then_p.output(0))], [then_p])
    else_b = Model([result(else_p.output(0))], [else_p])
    node = make("If", [c.output(0), a.output(0), b.output(0)], then_inputs=(InputDesc(1, 0),),
                else_inputs=(InputDesc(2, 0),), then_outputs=(OutputDesc(0, 0),), else_outputs=(OutputDesc(0, 0),))
    node.bodies = [then_b, else_b]
    node.infer()
    assert str(node.output(0).shape) == "?,3"


@pytest.mark.parametrize("trips,cond", [(1, True), (4, True), (0, True), (3, False)])
def test_loop_scan_output_and_carried_value(trips: int, cond: bool) -> None:
    """Zero iterations (trip count 0 or initial condition false) keep the initial value and scan nothing."""
    proto = _loop_model()
    feeds = _feeds(proto, M=np.int64(trips), cond=cond, v0=np.array([1, 2, 3], np.float32),
                   x0=np.array([0.5, -1, 2], np.float32))
    model = _check_three_ways(proto, feeds)
    loop = next(n for n in model.ops() if n.type == "Loop")
    assert loop.attrs["special_body_ports"] == (0, 0)
    assert str(loop.output(1).shape) == "?,3"  # the scan output grows with the (runtime) trip count


def test_while_loop_condition_from_body() -> None:
    proto = _while_model()
    feeds = _feeds(proto, cond=True, v0=np.float32(1.5), limit=np.float32(40))
    model = _check_three_ways(proto, feeds)
    loop = next(n for n in model.ops() if n.type == "Loop")
    assert any(d.back_edge == 0 for d in loop.attrs["input_descriptions"])  # the body condition is carried


@pytest.mark.parametrize("flag", [True, False])
def test_if_nested_in_loop(flag: bool) -> None:
    proto = _nested_model()
    feeds = _feeds(proto, M=np.int64(3), flag=flag, v0=np.array([1, 2, 3], np.float32),
                   x=np.array([0.5, -1, 2], np.float32))
    model = _check_three_ways(proto, feeds)
    xml, blob = model_to_xml(model)
    assert model_to_xml(model_from_xml(xml, blob)) == (xml, blob)


def _save(proto: onnx.ModelProto, path: str) -> str:
    onnx.save(proto, path)
    return path


@pytest.mark.parametrize("kind", ["if", "loop"])
def test_openvino_written_ir_reads_into_irforge(kind: str, tmp_path: Any) -> None:
    import openvino as ov

    proto = _if_model() if kind == "if" else _loop_model()
    src = _save(proto, os.path.join(tmp_path, f"{kind}.onnx"))
    xml = os.path.join(tmp_path, f"{kind}_ov.xml")
    ov.save_model(ov.convert_model(src), xml, compress_to_fp16=False)
    model = irforge.read_model(xml)
    model.validate()
    compiled = ov.Core().compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    cases = ([_feeds(proto, c=c, x=RNG.standard_normal((2, 3), np.float32),
                     y=RNG.standard_normal((2, 3), np.float32)) for c in (True, False)] if kind == "if" else
             [_feeds(proto, M=np.int64(3), cond=True, v0=np.array([1, 2, 3], np.float32),
                     x0=np.array([0.5, -1, 2], np.float32))])
    for feeds in cases:
        inputs = list(feeds.values())
        want = [np.asarray(compiled(inputs)[o]) for o in compiled.outputs]
        assert_close(run_ref(model, inputs), want, what=f"irforge REF on OpenVINO's {kind} IR")
    xml_bytes, blob = model_to_xml(model)
    assert model_to_xml(model_from_xml(xml_bytes, blob)) == (xml_bytes, blob)


@pytest.mark.parametrize("make_proto", [_if_model, _loop_model, _while_model, _nested_model])
def test_round_trip_byte_identical(make_proto: Any) -> None:
    model = irforge.convert_model(make_proto())
    xml, blob = model_to_xml(model)
    again = model_from_xml(xml, blob)
    again.validate()
    assert model_to_xml(again) == (xml, blob)


def test_loop_xml_is_laid_out_like_openvino() -> None:
    xml, _ = model_to_xml(irforge.convert_model(_loop_model()))
    text = xml.decode()
    loop_el = next(el for el in ET.fromstring(xml).iter("layer") if el.get("type") == "Loop")
    assert [child.tag for child in loop_el] == ["port_map", "back_edges", "input", "output", "body"]
    assert len(loop_el.find("back_edges")) == 1  # only v: the pass-through condition became a constant
    assert 'purpose="current_iteration"' in text and 'purpose="execution_condition"' in text
    assert '<output axis="0" external_port_id="5" internal_layer_id=' in text


def _tensor_iterator(stride: int) -> Model:
    """h <- h + x_t over the 5 steps of x [1, 5, 2] (backwards when stride < 0); outputs: last h and all h."""
    x = parameter(Type.f32, [1, 5, 2], "x")
    h0 = parameter(Type.f32, [1, 1, 2], "h0")
    xt, h = parameter(Type.f32, [1, 1, 2], "xt"), parameter(Type.f32, [1, 1, 2], "h")
    h_new = make("Add", [h.output(0), xt.output(0)], name="h_new").output(0)
    scaled = make("Multiply", [h_new, constant(np.float32(0.5))], name="scaled").output(0)
    body = Model([result(h_new, "h_out"), result(scaled, "scaled_out")], [xt, h], "body")
    start, end = (0, -1) if stride > 0 else (-1, 0)
    node = make("TensorIterator", [x.output(0), h0.output(0)],
                input_descriptions=(InputDesc(0, 0, Slicing(1, start, stride, 1, end)), InputDesc(1, 1, back_edge=0)),
                output_descriptions=(OutputDesc(0, 0), OutputDesc(1, 1, Slicing(1, start, stride, 1, end))))
    node.bodies = [body]
    node.infer()
    return Model([result(node.output(0), "last"), result(node.output(1), "all")], [x, h0], "ti")


@pytest.mark.parametrize("stride", [1, -1])
def test_tensor_iterator_ref_matches_openvino(stride: int) -> None:
    model = _tensor_iterator(stride)
    assert [str(o.shape) for o in model.outputs] == ["1,1,2", "1,5,2"]
    inputs = [RNG.standard_normal((1, 5, 2), np.float32), RNG.standard_normal((1, 1, 2), np.float32)]
    assert_close(run_ref(model, inputs), run_openvino(model, inputs), what="TensorIterator REF vs OpenVINO")
    xml, blob = model_to_xml(model)
    assert model_to_xml(model_from_xml(xml, blob)) == (xml, blob)


# ---------------------------------------------------------------- recurrent sequences
def _rnn_model(op: str, gates: int, direction: str, hidden: int = 4, batch: int = 3, seq: int = 5, inp: int = 2,
               with_lens: bool = True, **attrs: Any) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    dirs = 2 if direction == "bidirectional" else 1
    h_shape = [dirs, batch, hidden]
    feeds = {"X": RNG.standard_normal((seq, batch, inp), np.float32),
             "W": RNG.standard_normal((dirs, gates * hidden, inp), np.float32) * 0.5,
             "R": RNG.standard_normal((dirs, gates * hidden, hidden), np.float32) * 0.5,
             "B": RNG.standard_normal((dirs, 2 * gates * hidden), np.float32) * 0.5}
    names = ["X", "W", "R", "B"]
    if with_lens:
        feeds["sequence_lens"] = np.array([5, 2, 4][:batch], np.int32)
        names.append("sequence_lens")
    else:
        names.append("")
    feeds["initial_h"] = RNG.standard_normal(h_shape, np.float32)
    names.append("initial_h")
    if op == "LSTM":
        feeds["initial_c"] = RNG.standard_normal(h_shape, np.float32)
        names.append("initial_c")
    n_out = 3 if op == "LSTM" else 2
    outs = ["Y", "Y_h", "Y_c"][:n_out]
    node = oh.make_node(op, names, outs, direction=direction, hidden_size=hidden, layout=0, **attrs)
    inputs = [_vi(n, T.INT32 if n == "sequence_lens" else T.FLOAT, list(feeds[n].shape)) for n in names if n]
    return _model([node], inputs, [_vi(o, T.FLOAT, None) for o in outs], opset=14), feeds


@pytest.mark.parametrize("op,gates", [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
@pytest.mark.parametrize("direction", ["bidirectional", "reverse"])
def test_recurrent_with_sequence_lens_matches_onnxruntime(op: str, gates: int, direction: str) -> None:
    proto, feeds = _rnn_model(op, gates, direction)
    _check_three_ways(proto, feeds)


def _check_batch_first(op: str, gates: int, direction: str, **attrs: Any) -> None:
    """layout=1 against ONNX Runtime (which only runs layout=0) on the same data, transposed."""
    proto, feeds = _rnn_model(op, gates, direction, **attrs)
    want = run_ort(proto, feeds)
    node = proto.graph.node[0]
    next(a for a in node.attribute if a.name == "layout").i = 1
    bf = {k: (v.transpose(1, 0, 2) if k in ("X", "initial_h", "initial_c") else v) for k, v in feeds.items()}
    for vi in proto.graph.input:
        if vi.name in ("X", "initial_h", "initial_c"):
            dims = vi.type.tensor_type.shape.dim
            dims[0].dim_value, dims[1].dim_value = dims[1].dim_value, dims[0].dim_value
    model = irforge.convert_model(proto)
    want_bf = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2) for w in want[1:]]
    assert_close(run_ref(model, list(bf.values())), want_bf, what="REF layout=1")
    assert_close(run_openvino(model, list(bf.values())), want_bf, what="OpenVINO layout=1")


@pytest.mark.parametrize("attrs", [{"clip": 0.7}, {"linear_before_reset": 1}, {"activations": ["Relu", "Tanh"]}])
def test_gru_variants_match_onnxruntime(attrs: dict[str, Any]) -> None:
    proto, feeds = _rnn_model("GRU", 3, "forward", **attrs)
    _check_three_ways(proto, feeds)


@pytest.mark.parametrize("op,gates", [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
def test_batch_first_layout(op: str, gates: int) -> None:
    _check_batch_first(op, gates, "bidirectional", clip=2.0)


def test_lstm_dynamic_shapes_build_defaults_in_the_graph() -> None:
    """No sequence_lens/initial states and dynamic batch/seq: the defaults come from ShapeOf/Broadcast."""
    hidden, inp = 3, 2
    w = RNG.standard_normal((1, 4 * hidden, inp), np.float32)
    r = RNG.standard_normal((1, 4 * hidden, hidden), np.float32)
    inits = [onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(r, "R")]
    node = oh.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=hidden)
    proto = _model([node], [_vi("X", T.FLOAT, ["seq", "batch", inp])],
                   [_vi("Y", T.FLOAT, None), _vi("Y_h", T.FLOAT, None)], opset=14, inits=inits)
    model = _check_three_ways(proto, {"X": RNG.standard_normal((4, 2, inp), np.float32)})
    assert "ShapeOf" in model.histogram()
    assert str(model.output(0).shape) == "?,1,?,3"


def test_lstm_peepholes_are_reported_unsupported_unless_zero() -> None:
    proto, feeds = _rnn_model("LSTM", 4, "forward")
    proto.graph.node[0].input.append("P")
    proto.graph.initializer.append(onnx.numpy_helper.from_array(np.zeros((1, 12), np.float32), "P"))
    _check_three_ways(proto, feeds)  # all-zero peepholes are no peepholes
    proto.graph.initializer.pop()
    proto.graph.input.append(_vi("P", T.FLOAT, [1, 12]))
    with pytest.raises(irforge.IRForgeError, match="peephole"):
        irforge.convert_model(proto)


def test_openvino_written_lstm_ir_reads_into_irforge(tmp_path: Any) -> None:
    import openvino as ov

    proto, feeds = _rnn_model("LSTM", 4, "forward", with_lens=False)
    xml = os.path.join(tmp_path, "lstm_ov.xml")
    ov.save_model(ov.convert_model(_save(proto, os.path.join(tmp_path, "lstm.onnx"))), xml,
                  compress_to_fp16=False)
    model = irforge.read_model(xml)
    assert "LSTMSequence" in model.histogram()
    assert_close(run_ref(model, list(feeds.values())), run_ort(proto, feeds), what="irforge REF on OpenVINO's IR")
