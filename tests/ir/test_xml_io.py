"""IR v11 writer/reader: byte-identical round trip, OpenVINO loads what we write, and bad files fail clearly."""
import numpy as np
import pytest

import irforge
from irforge.errors import ModelReadError
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml, pack_constant, unpack_constant
from tests.util import run_openvino, run_ref


def _model() -> Model:
    x = parameter(Type.f32, "?,3".split(","), "x")
    w = constant(np.array([1, -2, 3], np.float32), name="w")
    w2 = constant(np.array([1, -2, 3], np.float32), name="w_same_bytes")
    a = make("Add", [x.output(0), w], name="add")
    a.output(0).names = {"sum", "with,comma"}
    m = make("Multiply", [a.output(0), w2], name="mul")
    r = make("Relu", [m.output(0)], name="relu")
    r.rt_info = {"fused_names": {"version": "0", "value": "a,b"}}
    return Model([result(r.output(0), "y/sink_port_0")], [x], "tiny")


def test_round_trip_byte_identical_and_dedup() -> None:
    xml, blob = model_to_xml(_model())
    assert len(blob) == 12  # identical constants are stored once
    assert b'names="sum,with\\,comma"' in xml and b'type="ReLU"' in xml and b'type="Const"' in xml
    m2 = model_from_xml(xml, blob)
    assert model_to_xml(m2) == (xml, blob)
    assert m2.output(0).node.rt_info == {"fused_names": {"version": "0", "value": "a,b"}}
    assert "with,comma" in m2.outputs[0].node.inputs[0].node.inputs[0].names


def test_openvino_runs_our_ir() -> None:
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    m = _model()
    np.testing.assert_allclose(run_openvino(m, [x])[0], run_ref(m, [x])[0], rtol=1e-6)


@pytest.mark.parametrize("et,values", [(Type.u4, [0, 15, 7, 1, 2]), (Type.i4, [-8, 7, -1, 0, 3]), (Type.u1, [1, 0, 1, 1, 0, 0, 0, 0, 1])])
def test_sub_byte_packing(et, values) -> None:  # type: ignore[no-untyped-def]
    arr = np.array(values, dtype=et.dtype)
    raw = pack_constant(arr, et)
    assert len(raw) == (len(values) * et.bits + 7) // 8
    np.testing.assert_array_equal(unpack_constant(raw, et, [len(values)]), arr)
    if et is Type.u4:
        assert raw[0] == 0xF0  # element 0 in the low nibble


def test_save_and_read_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    irforge.save_model(_model(), tmp_path / "m.xml", compress_to_fp16=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.xml"]
    m = irforge.read_model(tmp_path / "m.xml")
    assert m.name == "tiny" and m.inputs[0].name == "x"


BAD = [
    (b"hello", b"", "not an IR file"),
    (b"<net name='a' version='7'><layers/></net>", b"", "not an IR v10/v11 file"),
    (b"<net name='a' version='11'><layers><layer id='0' name='x' type='Frobnicate' version='opset1'/></layers></net>",
     b"", "layer 'x': unknown op type 'Frobnicate'"),
    (b"<net name='a' version='11'><layers><layer id='0' name='w' type='Const' version='opset1'>"
     b"<data element_type='f32' shape='4' offset='0' size='16'/><output><port id='0' precision='FP32'/></output>"
     b"</layer></layers></net>", b"\0" * 8, "Const layer 'w': data at offset 0 size 16 lies beyond the end"),
    (b"<net name='a' version='11'><layers><layer id='0' name='w' type='Const' version='opset1'>"
     b"<data element_type='FP32' shape='4' offset='0' size='16'/></layer></layers></net>", b"\0" * 16, "lower-case"),
    (b"<net name='a' version='11'><layers><layer id='0' name='x' type='Parameter' version='opset1'/></layers></net>",
     b"", "Parameter layer 'x' has no <data>"),
    (b"<net name='a' version='11'><layers><layer id='0' name='x' type='Parameter' version='opset1'>"
     b"<data shape='2' element_type='f32'/><output><port id='0' precision='FP32'/></output></layer>"
     b"<layer id='1' name='r' type='ReLU' version='opset1'/></layers>"
     b"<edges><edge from-layer='0' from-port='3' to-layer='1' to-port='0'/></edges></net>", b"", "undeclared port 3"),
    (b"<net name='a' version='11'><layers><layer id='0' name='x' type='Parameter' version='opset1'>"
     b"<data shape='2' element_type='f32'/><output><port id='0'/></output></layer></layers></net>", b"",
     "has no precision"),
]


@pytest.mark.parametrize("xml,blob,message", BAD)
def test_bad_ir_is_rejected_clearly(xml: bytes, blob: bytes, message: str) -> None:
    with pytest.raises(ModelReadError, match=message.replace("(", "\\(")):
        model_from_xml(xml, blob, "bad.xml")


def test_missing_required_attribute_names_layer() -> None:
    xml = (b"<net name='a' version='11'><layers><layer id='0' name='w' type='Const' version='opset1'>"
           b"<data shape='1' offset='0' size='4'/></layer></layers></net>")
    with pytest.raises(ModelReadError, match="w"):
        model_from_xml(xml, b"\0" * 4, "bad.xml")
