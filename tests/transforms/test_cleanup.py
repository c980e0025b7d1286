"""Structural clean-ups on real graphs: CommonSubexpressionElimination merges duplicate branches and identical
constants, and nothing that differs (an attribute, an rt_info mark, an input, a constant's type or shape, two
model outputs); DeadCodeElimination drops what a cut output left behind so patterns see the true fan-out; and the
IR writer stores identical constant blobs once in the .bin. Outputs on REF and OpenVINO must equal ONNX
Runtime's on the original graph."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
import openvino as ov
import torch
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.ir.graph import Model, Node
from irforge.ir.xml_io import model_to_xml
from irforge.transforms.base import PassManager
from irforge.transforms.cleanup import CommonSubexpressionElimination, DeadCodeElimination
from irforge.transforms.fusions_activation import SwishFusion
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4)).astype(np.float32)
info = helper.make_tensor_value_info


def f32(name: str, value: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, np.float32), name)


def onnx_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
               inits: list[onnx.TensorProto] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def x_in(name: str = "x", shape: tuple[int, ...] = X.shape, tp: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return info(name, tp, list(shape))


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def cse(model: Model) -> int:
    return PassManager([CommonSubexpressionElimination()], validate=True).run(model).records[0].count


def check_outputs(model: Model, proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    want = run_ort(proto, feeds)
    inputs = list(feeds.values())
    assert_close(run_ref(model, inputs), want, rtol=1e-5, atol=1e-5, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, inputs), want, rtol=1e-5, atol=1e-5, what="OpenVINO vs ONNX Runtime")


def of_type(model: Model, op: str) -> list[Node]:
    return [n for n in model.ops() if n.type == op]


# --- CommonSubexpressionElimination ----------------------------------------------------------------------------

def test_cse_merges_duplicate_branches_and_constants() -> None:
    """Two copies of Relu(x) * 2 (each with its own initializer 2.0) added: one Relu, one Multiply, one 2.0."""
    proto = onnx_model([helper.make_node("Relu", ["x"], ["r1"]), helper.make_node("Mul", ["r1", "two_a"], ["m1"]),
                        helper.make_node("Relu", ["x"], ["r2"]), helper.make_node("Mul", ["r2", "two_b"], ["m2"]),
                        helper.make_node("Add", ["m1", "m2"], ["y"])],
                       [x_in()], [info("y", TensorProto.FLOAT, list(X.shape))],
                       [f32("two_a", 2.0), f32("two_b", 2.0)])
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"Add": 1, "Constant": 2, "Multiply": 2, "Relu": 2}
    assert cse(model) == 3
    assert ops(model) == {"Add": 1, "Constant": 1, "Multiply": 1, "Relu": 1}
    add = of_type(model, "Add")[0]
    assert add.inputs[0] is add.inputs[1]
    check_outputs(model, proto, {"x": X})


class SharedWeights(torch.nn.Module):
    """Two Linear layers with equal weights: torch's exporter keeps one initializer and reads it through Identity
    nodes, so the two MatMul + Add branches meet only once the frontend has dropped the Identities."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)
        self.b.load_state_dict(self.a.state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(torch.relu(x)) + self.b(torch.relu(x)) * 2 + torch.sigmoid(x) * 2


def test_cse_merges_torch_duplicate_layers() -> None:
    f = io.BytesIO()
    torch.onnx.export(SharedWeights(), (torch.from_numpy(X),), f, opset_version=13, dynamo=False,
                      input_names=["x"])
    proto = onnx.load_from_string(f.getvalue())
    assert [n.op_type for n in proto.graph.node].count("Identity") >= 1
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"Add": 4, "Constant": 4, "MatMul": 2, "Multiply": 2, "Relu": 1, "Sigmoid": 1}
    assert cse(model) == 3  # the second MatMul and its bias Add, and the second constant 2
    assert ops(model) == {"Add": 3, "Constant": 3, "MatMul": 1, "Multiply": 2, "Relu": 1, "Sigmoid": 1}
    check_outputs(model, proto, {"x": X})


def test_cse_merges_constants_only_of_equal_type_shape_and_bytes() -> None:
    """c_same equals c (merged); c_2x2 has c's bytes in another shape, c_i32 c's bytes as int32, c_near differs
    in one element: none of them merges."""
    c = np.array([1, 2, 3, 4], np.float32)
    near = c.copy()
    near[3] = np.nextafter(near[3], np.float32(5))
    proto = onnx_model(
        [helper.make_node("Add", ["x", "c"], ["a1"]), helper.make_node("Mul", ["a1", "c_same"], ["y1"]),
         helper.make_node("Add", ["x22", "c_2x2"], ["y2"]), helper.make_node("Add", ["xi", "c_i32"], ["y3"]),
         helper.make_node("Sub", ["x", "c_near"], ["y4"])],
        [x_in(), x_in("x22", (2, 2, 2)), x_in("xi", (2, 4), TensorProto.INT32)],
        [info("y1", TensorProto.FLOAT, list(X.shape)), info("y2", TensorProto.FLOAT, [2, 2, 2]),
         info("y3", TensorProto.INT32, [2, 4]), info("y4", TensorProto.FLOAT, list(X.shape))],
        [numpy_helper.from_array(c, "c"), numpy_helper.from_array(c.copy(), "c_same"),
         numpy_helper.from_array(c.reshape(2, 2), "c_2x2"), numpy_helper.from_array(c.view(np.int32), "c_i32"),
         numpy_helper.from_array(near, "c_near")])
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model)["Constant"] == 5
    assert cse(model) == 1
    assert ops(model) == {"Add": 3, "Constant": 4, "Multiply": 1, "Subtract": 1}
    add = of_type(model, "Multiply")[0].inputs[0].node
    assert of_type(model, "Multiply")[0].inputs[1] is add.inputs[1]
    feeds = {"x": X, "x22": RNG.standard_normal((2, 2, 2)).astype(np.float32),
             "xi": RNG.integers(-100, 100, (2, 4)).astype(np.int32)}
    check_outputs(model, proto, feeds)


def test_cse_keeps_nodes_differing_in_attribute_or_input() -> None:
    """Softmax over axis 1 vs axis 2, Gather along axis 0 vs 1 (same indices), Relu of x vs Relu of x2 (another
    input of the same shape), and the two inputs themselves: nothing merges."""
    idx = numpy_helper.from_array(np.array([1, 0], np.int64), "idx")
    proto = onnx_model(
        [helper.make_node("Softmax", ["x"], ["s1"], axis=1), helper.make_node("Softmax", ["x"], ["s2"], axis=2),
         helper.make_node("Gather", ["x", "idx"], ["g0"], axis=0),
         helper.make_node("Gather", ["x", "idx"], ["g1"], axis=1),
         helper.make_node("Relu", ["x"], ["r1"]), helper.make_node("Relu", ["x2"], ["r2"]),
         helper.make_node("Add", ["s1", "s2"], ["y1"]), helper.make_node("Add", ["r1", "r2"], ["y2"])],
        [x_in(), x_in("x2")],
        [info("y1", TensorProto.FLOAT, list(X.shape)), info("g0", TensorProto.FLOAT, [2, 3, 4]),
         info("g1", TensorProto.FLOAT, [2, 2, 4]), info("y2", TensorProto.FLOAT, list(X.shape))], [idx])
    model = irforge.convert_model(proto, optimize=False)
    before = ops(model)
    assert before["Softmax"] == 2 and before["Gather"] == 2 and before["Relu"] == 2
    assert cse(model) == 0 and ops(model) == before
    check_outputs(model, proto, {"x": X, "x2": RNG.standard_normal(X.shape).astype(np.float32)})


def two_casts_of_f16_weight() -> onnx.ModelProto:
    """y = x @ Cast(W16) + x @ Cast(W16): two Convert(f32) of one f16 weight."""
    w = numpy_helper.from_array(RNG.standard_normal((4, 5)).astype(np.float16), "w16")
    return onnx_model([helper.make_node("Cast", ["w16"], ["wa"], to=TensorProto.FLOAT),
                       helper.make_node("Cast", ["w16"], ["wb"], to=TensorProto.FLOAT),
                       helper.make_node("MatMul", ["x", "wa"], ["ma"]), helper.make_node("MatMul", ["x", "wb"], ["mb"]),
                       helper.make_node("Add", ["ma", "mb"], ["y"])],
                      [x_in()], [info("y", TensorProto.FLOAT, [2, 3, 5])], [w])


def test_cse_keeps_nodes_differing_in_rt_info() -> None:
    """One of the two Converts carries the `decompression` mark (as in an FP16-compressed IR): it must not be
    merged with the plain one, nor the MatMuls reading them. Without the mark both pairs merge."""
    proto = two_casts_of_f16_weight()
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"Add": 1, "Constant": 1, "Convert": 2, "MatMul": 2}
    of_type(model, "Convert")[0].rt_info["decompression"] = {"version": "0"}
    assert cse(model) == 0 and ops(model)["Convert"] == 2 and ops(model)["MatMul"] == 2
    check_outputs(model, proto, {"x": X})

    plain = irforge.convert_model(proto, optimize=False)
    assert cse(plain) == 2
    assert ops(plain) == {"Add": 1, "Constant": 1, "Convert": 1, "MatMul": 1}
    check_outputs(plain, proto, {"x": X})


def test_cse_keeps_two_model_outputs_apart() -> None:
    """y1 = Relu(x) and y2 = Relu(x) are both model outputs: merged they would be one tensor carrying both names
    (OpenVINO could no longer tell the outputs apart), so they stay; their duplicate inputs still merge."""
    proto = onnx_model([helper.make_node("Mul", ["x", "k1"], ["a1"]), helper.make_node("Relu", ["a1"], ["y1"]),
                        helper.make_node("Mul", ["x", "k2"], ["a2"]), helper.make_node("Relu", ["a2"], ["y2"])],
                       [x_in()], [info(n, TensorProto.FLOAT, list(X.shape)) for n in ("y1", "y2")],
                       [f32("k1", 3.0), f32("k2", 3.0)])
    model = irforge.convert_model(proto, optimize=False)
    assert cse(model) == 2  # the constant and the Multiply
    assert ops(model) == {"Constant": 1, "Multiply": 1, "Relu": 2}
    assert [o.names for o in model.outputs] == [{"y1"}, {"y2"}]
    check_outputs(model, proto, {"x": X})


# --- DeadCodeElimination ---------------------------------------------------------------------------------------

def swish_with_side_branch() -> onnx.ModelProto:
    """y1 = x * Sigmoid(x) (a Swish) and y2 = -Exp(Sigmoid(x)) (a second use of the Sigmoid)."""
    return onnx_model([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y1"]),
                       helper.make_node("Exp", ["s"], ["e"]), helper.make_node("Neg", ["e"], ["y2"])],
                      [x_in()], [info("y1", TensorProto.FLOAT, list(X.shape)),
                                 info("y2", TensorProto.FLOAT, list(X.shape))])


def test_dce_removes_branch_of_cut_output() -> None:
    """After cutting the model at y1 the Exp -> Neg branch is dead but still holds a use of the Sigmoid, so the
    Swish pattern (whose Sigmoid may feed nothing else) does not match; DCE drops the branch and it does."""
    proto = swish_with_side_branch()
    model = irforge.convert_model(proto, optimize=False, output="y1")
    sigmoid = of_type(model, "Sigmoid")[0]
    assert len(sigmoid.outputs[0].uses) == 2 and ops(model) == {"Multiply": 1, "Sigmoid": 1}
    assert PassManager([SwishFusion()], validate=True).run(model).records[0].count == 0

    assert PassManager([DeadCodeElimination()], validate=True).run(model).records[0].count == 2  # Exp, Neg
    assert [c.type for c, _ in sigmoid.outputs[0].uses] == ["Multiply"]
    assert ops(model) == {"Multiply": 1, "Sigmoid": 1}
    assert PassManager([SwishFusion()], validate=True).run(model).records[0].count == 1
    assert ops(model) == {"Swish": 1}
    want = run_ort(proto, {"x": X})[:1]
    assert_close(run_ref(model, [X]), want, rtol=1e-5, atol=1e-6, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, [X]), want, rtol=1e-5, atol=1e-6, what="OpenVINO vs ONNX Runtime")


def test_default_pipeline_fuses_after_cut_and_unused_nodes() -> None:
    """The converter's pipeline starts with DCE, so a cut output (or an ONNX node nothing reads) does not keep
    the fusions from matching."""
    proto = swish_with_side_branch()
    cut = irforge.convert_model(proto, output="y1")
    assert ops(cut) == {"Swish": 1}
    assert_close(run_ref(cut, [X]), run_ort(proto, {"x": X})[:1], rtol=1e-5, atol=1e-6)

    unused = onnx_model([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"]),
                         helper.make_node("Exp", ["s"], ["e_unused"])],
                        [x_in()], [info("y", TensorProto.FLOAT, list(X.shape))])
    model = irforge.convert_model(unused, optimize=False)
    assert PassManager([DeadCodeElimination()], validate=True).run(model).records[0].count == 1
    full = irforge.convert_model(unused)
    assert ops(full) == {"Swish": 1}
    check_outputs(full, unused, {"x": X})


def test_dce_on_clean_graph_changes_nothing() -> None:
    model = irforge.convert_model(swish_with_side_branch(), optimize=False)
    report = PassManager([DeadCodeElimination()], validate=True).run(model)
    assert report.records[0].count == 0 and not report.records[0].changed
    assert len(of_type(model, "Sigmoid")[0].outputs[0].uses) == 2


# --- .bin de-duplication ---------------------------------------------------------------------------------------

def twin_convs() -> tuple[onnx.ModelProto, np.ndarray, np.ndarray]:
    """Conv(W1, B1) -> Relu -> Conv(W2, B2) with W2 == W1 and B2 == B1 under other names."""
    w = (RNG.standard_normal((4, 4, 3, 3)) * 0.3).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    proto = onnx_model([helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
                        helper.make_node("Relu", ["c1"], ["r"]),
                        helper.make_node("Conv", ["r", "w2", "b2"], ["y"], pads=[1, 1, 1, 1])],
                       [x_in("x", (1, 4, 5, 5))], [info("y", TensorProto.FLOAT, [1, 4, 5, 5])],
                       [numpy_helper.from_array(w, "w1"), numpy_helper.from_array(b, "b1"),
                        numpy_helper.from_array(w.copy(), "w2"), numpy_helper.from_array(b.copy(), "b2")])
    return proto, w, b


def const_layers(xml: bytes) -> dict[str, tuple[int, int]]:
    """Const layer name -> (offset, size) in the .bin."""
    root = ET.fromstring(xml)
    return {layer.get("name", ""): (int(data.get("offset", -1)), int(data.get("size", -1)))
            for layer in root.iter("layer") if layer.get("type") == "Const"
            for data in [layer.find("data")] if data is not None}


def test_bin_stores_equal_constants_once(tmp_path: Path) -> None:
    proto, w, b = twin_convs()
    model = irforge.convert_model(proto, optimize=False)  # no CSE: four Const layers, two pairs of equal bytes
    assert ops(model)["Constant"] == 4
    path = tmp_path / "twins.xml"
    irforge.save_model(model, path, compress_to_fp16=False)
    xml, blob = path.read_bytes(), path.with_suffix(".bin").read_bytes()
    consts = const_layers(xml)  # the weights, and the biases reshaped to [1,4,1,1] by the frontend
    assert len(consts) == 4 and consts["w1"] == consts["w2"]
    assert sorted(set(consts.values())) == [(0, w.nbytes), (w.nbytes, b.nbytes)]  # 4 layers, 2 blobs
    assert len(blob) == w.nbytes + b.nbytes  # one copy of each

    # OpenVINO loads it and computes ONNX Runtime's result
    x = RNG.standard_normal((1, 4, 5, 5)).astype(np.float32)
    want = run_ort(proto, {"x": x})
    compiled = ov.Core().compile_model(ov.Core().read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert_close([compiled([x])[0]], want, rtol=1e-5, atol=1e-5, what="OpenVINO vs ONNX Runtime")
    # irforge reads it back (four constants, equal values), runs it, and writes the same bytes again
    back = irforge.read_model(path)
    assert ops(back)["Constant"] == 4
    assert_close(run_ref(back, [x]), want, rtol=1e-5, atol=1e-5, what="REF vs ONNX Runtime")
    assert model_to_xml(back) == (xml, blob)
    # after CSE the graph itself holds one copy, and so does the .bin
    assert cse(back) == 2 and ops(back)["Constant"] == 2
    assert model_to_xml(back)[1] == blob


def test_bin_keeps_different_constants_apart() -> None:
    """Control: with W2 != W1 (one element) both weights are stored."""
    proto, w, b = twin_convs()
    w2 = w.copy()
    w2.flat[0] += 1
    proto.graph.initializer[2].CopyFrom(numpy_helper.from_array(w2, "w2"))
    model = irforge.convert_model(proto, optimize=False)
    xml, blob = model_to_xml(model)
    consts = const_layers(xml)
    assert consts["w1"] != consts["w2"] and len(set(consts.values())) == 3  # the biases still shared
    assert len(blob) == 2 * w.nbytes + b.nbytes
    x = RNG.standard_normal((1, 4, 5, 5)).astype(np.float32)
    check_outputs(model, proto, {"x": x})
