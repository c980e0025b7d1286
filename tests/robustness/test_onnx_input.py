"""Malformed ONNX models end in one line naming the file, node or tensor (exit 2), never a traceback, and leave
no output behind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import irforge
from irforge.errors import IRForgeError
from tests.robustness.helpers import fails, files_under, graph_model, relu_model, run_cli, save


def _external_data_model(location: str) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    w.data_location = T.EXTERNAL
    w.ClearField("raw_data")
    entry = w.external_data.add()
    entry.key, entry.value = "location", location
    return graph_model([h.make_node("Add", ["x", "w"], ["y"])], [h.make_tensor_value_info("x", T.FLOAT, [4])],
                       [h.make_tensor_value_info("y", T.FLOAT, [4])], [w])


@pytest.mark.parametrize("location,message", [
    ("missing.bin", "bad external data (Data of TensorProto ( tensor name: w) should be stored in"),
    ("../outside.bin", "points outside the directory"),
    ("/etc/hostname", "should be a relative path"),
])
def test_external_data_missing_or_outside_the_folder(tmp_path: Path, location: str, message: str) -> None:
    (tmp_path / "outside.bin").write_bytes(b"\0" * 16)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    path = save(_external_data_model(location), model_dir / "ext.onnx")
    out = tmp_path / "out"
    line = fails(message, "convert", str(path), "-o", str(out))
    assert str(path) in line
    assert files_under(out) == []
    fails(message, "inspect", str(path))


def test_external_data_beyond_the_end_of_its_file(tmp_path: Path) -> None:
    model = _external_data_model("w.bin")
    entry = model.graph.initializer[0].external_data.add()
    entry.key, entry.value = "length", "16"
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    fails("External data length (16) exceeds available data", "convert", str(save(model, tmp_path / "ext.onnx")),
          "-o", str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []


def _with_bytes(model: onnx.ModelProto, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)  # the protobuf's length prefixes stay right
    data = model.SerializeToString()
    assert old in data
    return data.replace(old, new)


def test_non_utf8_node_name_is_decoded_with_replacement(tmp_path: Path) -> None:
    """Decision: node names only label layers, so invalid UTF-8 there is decoded with U+FFFD and the model
    converts (the IR reads back, in irforge and OpenVINO)."""
    path = tmp_path / "m.onnx"
    path.write_bytes(_with_bytes(relu_model(), b"relu", b"r\xff\xfeu"))
    code, _, err = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert code == 0, err
    model = irforge.read_model(tmp_path / "out" / "m.xml")
    assert any("\ufffd" in n.name for n in model.nodes())


def test_non_utf8_tensor_name_is_rejected(tmp_path: Path) -> None:
    """Decision: tensor names wire the graph; a lossy decoding could merge two of them, so they are rejected."""
    model = graph_model([h.make_node("Relu", ["xxxx"], ["y"], name="relu")],
                        [h.make_tensor_value_info("xxxx", T.FLOAT, [1, 4])],
                        [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])
    path = tmp_path / "m.onnx"
    path.write_bytes(_with_bytes(model, b"xxxx", b"x\xff\xfex"))
    fails("is not valid UTF-8", "convert", str(path), "-o", str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []


def test_unknown_element_type(tmp_path: Path) -> None:
    model = relu_model()
    model.graph.input[0].type.tensor_type.elem_type = 99
    fails("tensor 'x': unknown ONNX element type 99", "convert", str(save(model, tmp_path / "m.onnx")), "-o",
          str(tmp_path / "out"))


@pytest.mark.parametrize("opset", [0, -3, 99])
def test_opset_outside_the_supported_range(tmp_path: Path, opset: int) -> None:
    fails(f"ONNX opset {opset} is not supported (irforge converts opsets 1 to {onnx.defs.onnx_opset_version()})",
          "convert", str(save(relu_model(opset), tmp_path / "m.onnx")), "-o", str(tmp_path / "out"))


def test_oldest_and_newest_opsets_convert(tmp_path: Path) -> None:
    for opset in (1, onnx.defs.onnx_opset_version()):
        assert irforge.convert_model(relu_model(opset)).histogram()["Relu"] == 1


@pytest.mark.parametrize("group,message", [
    (0, "ONNX node 'c' (Conv): group=0 must be a positive integer"),
    (-7, "group=-7 must be a positive integer"),
    (3, "group=3 does not divide the 8 filters"),
])
def test_conv_group_is_checked(tmp_path: Path, group: int, message: str) -> None:
    w = np.ones((8, 1, 3, 3), np.float32)
    model = graph_model([h.make_node("Conv", ["x", "w"], ["y"], name="c", group=group)],
                        [h.make_tensor_value_info("x", T.FLOAT, [1, 8, 5, 5])],
                        [h.make_tensor_value_info("y", T.FLOAT, None)], [w], ["w"])
    fails(message, "convert", str(save(model, tmp_path / "m.onnx")), "-o", str(tmp_path / "out"))


def test_two_nodes_writing_one_tensor(tmp_path: Path) -> None:
    model = graph_model([h.make_node("Relu", ["x"], ["t"], name="a"), h.make_node("Neg", ["x"], ["t"], name="b"),
                         h.make_node("Abs", ["t"], ["y"], name="c")],
                        [h.make_tensor_value_info("x", T.FLOAT, [4])], [h.make_tensor_value_info("y", T.FLOAT, [4])])
    fails("tensor 't' is produced twice (by node 'a' and by node 'b')", "convert",
          str(save(model, tmp_path / "m.onnx")), "-o", str(tmp_path / "out"))


def test_node_writing_a_graph_input(tmp_path: Path) -> None:
    model = graph_model([h.make_node("Relu", ["x"], ["x"], name="a")], [h.make_tensor_value_info("x", T.FLOAT, [4])],
                        [h.make_tensor_value_info("x", T.FLOAT, [4])])
    fails("tensor 'x' is produced twice (by graph input and by node 'a')", "convert",
          str(save(model, tmp_path / "m.onnx")), "-o", str(tmp_path / "out"))


def test_arithmetic_on_strings_is_refused_comparison_is_not(tmp_path: Path) -> None:
    """OpenVINO refuses Relu/Add/And on string tensors; irforge says so at conversion instead of writing IR
    OpenVINO cannot read. Equal of strings stays convertible (OpenVINO reads it too)."""
    def model(op: str) -> onnx.ModelProto:
        return graph_model([h.make_node(op, ["a", "b"][:1 if op == "Relu" else 2], ["y"], name="n")],
                           [h.make_tensor_value_info(i, T.STRING, [2]) for i in "ab"][:1 if op == "Relu" else 2],
                           [h.make_tensor_value_info("y", T.BOOL if op == "Equal" else T.STRING, None)])
    for op in ("Relu", "Add", "And"):
        fails("is a string tensor; this op takes numbers", "convert", str(save(model(op), tmp_path / f"{op}.onnx")),
              "-o", str(tmp_path / "out"))
    assert irforge.convert_model(model("Equal")).histogram()["Equal"] == 1


def test_negative_input_dim(tmp_path: Path) -> None:
    model = relu_model()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -5
    fails("tensor 'x': dimension 1 is -5", "convert", str(save(model, tmp_path / "m.onnx")), "-o",
          str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -1  # some exporters' "dynamic"
    assert str(irforge.convert_model(model).inputs[0].shape) == "1,?"


def test_python_api_raises_irforge_errors() -> None:
    model = relu_model(99)
    with pytest.raises(IRForgeError, match="opset 99"):
        irforge.convert_model(model)


def test_graph_without_outputs(tmp_path: Path) -> None:
    """Would otherwise give an IR without a Result (which no reader takes)."""
    model = relu_model()
    del model.graph.output[:]
    fails("ONNX graph 'm' has no outputs", "convert", str(save(model, tmp_path / "m.onnx")), "-o",
          str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []


def test_subgraph_attribute_of_the_wrong_type(tmp_path: Path) -> None:
    """Found by the fuzzer: an If whose branch attribute is a string."""
    branch = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "b", [], [h.make_tensor_value_info("t", T.FLOAT, [2])])
    model = graph_model([h.make_node("If", ["c"], ["y"], name="if", then_branch=branch, else_branch="oops")],
                        [h.make_tensor_value_info("c", T.BOOL, []), h.make_tensor_value_info("x", T.FLOAT, [2])],
                        [h.make_tensor_value_info("y", T.FLOAT, [2])])
    fails("If (node 'if'): attribute 'else_branch' is not a graph", "convert", str(save(model, tmp_path / "m.onnx")),
          "-o", str(tmp_path / "out"))
