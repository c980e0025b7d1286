"""Malformed IR files end in one line naming the file and the layer (exit 2); legal but unusual IR (layers
listed consumers first) loads. Where OpenVINO's reader accepts something odd, irforge follows it."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import irforge
from irforge.errors import ModelReadError
from irforge.ir.xml_io import model_from_xml
from tests.robustness.helpers import fails, run_cli

_PARAM = ('<layer id="0" name="x" type="Parameter" version="opset1"><data shape="4" element_type="f32"/>'
          '<output><port id="0" precision="FP32"><dim>4</dim></port></output></layer>')
_RESULT = ('<layer id="3" name="r" type="Result" version="opset1"><input><port id="0" precision="FP32"><dim>4</dim>'
           '</port></input></layer>')
_EDGES = ('<edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>'
          '<edge from-layer="1" from-port="0" to-layer="2" to-port="1"/>'
          '<edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>')
_BLOB = np.arange(8, dtype=np.float32).tobytes()


def ir(const: str = 'element_type="f32" shape="4" offset="0" size="16"', edges: str = _EDGES,
       add_version: str = "opset1", add_out_dims: str = "<dim>4</dim>", add_out_id: str = "2",
       result: str = _RESULT) -> bytes:
    """x[4] + Const -> Result, with one part replaced."""
    return (f'<?xml version="1.0"?><net name="t" version="11"><layers>{_PARAM}'
            f'<layer id="1" name="w" type="Const" version="opset1"><data {const}/><output><port id="0" '
            f'precision="FP32"><dim>4</dim></port></output></layer>'
            f'<layer id="2" name="add" type="Add" version="{add_version}"><input><port id="0" precision="FP32">'
            f'<dim>4</dim></port><port id="1" precision="FP32"><dim>4</dim></port></input><output>'
            f'<port id="{add_out_id}" precision="FP32">{add_out_dims}</port></output></layer>'
            f'{result}</layers><edges>{edges}</edges></net>').encode()


def _read_fails(xml: bytes, message: str, tmp_path: Path, blob: bytes = _BLOB) -> None:
    with pytest.raises(ModelReadError, match=re.escape(message)):
        model_from_xml(xml, blob, "m.xml")
    (tmp_path / "m.xml").write_bytes(xml)
    (tmp_path / "m.bin").write_bytes(blob)
    line = fails(message, "inspect", str(tmp_path / "m.xml"))
    assert str(tmp_path / "m.xml") in line


def test_the_base_ir_reads(tmp_path: Path) -> None:
    model = model_from_xml(ir(), _BLOB)
    assert model.histogram()["Add"] == 1


@pytest.mark.parametrize("edges,message", [
    (_EDGES.replace('from-port="2"', 'from-port="two"'), "from-port 'two' is not an integer"),
    (_EDGES.replace('to-port="1"', 'to-port="1.5"'), "to-port '1.5' is not an integer"),
    (_EDGES + '<edge from-layer="0" from-port="0" to-layer="2" to-port="1"/>',
     "layer 'add' input port 1 has two incoming edges"),
])
def test_bad_edges(tmp_path: Path, edges: str, message: str) -> None:
    _read_fails(ir(edges=edges), message, tmp_path)


def test_non_integer_port_id(tmp_path: Path) -> None:
    _read_fails(ir(add_out_id="x2"), "layer 'add' output port: port id 'x2' is not an integer", tmp_path)


@pytest.mark.parametrize("const,message", [
    ('element_type="string" shape="4" offset="0" size="16"', "element_type 'string' cannot be stored in a .bin"),
    ('element_type="dynamic" shape="4" offset="0" size="16"', "element_type 'dynamic' cannot be stored in a .bin"),
    ('element_type="f32" shape="-99999999999999999999" offset="0" size="16"', "does not fit in 64 bits"),
    ('element_type="f32" shape="99999999999999999999" offset="0" size="16"', "does not fit in 64 bits"),
    ('element_type="f32" shape="-4" offset="0" size="16"', "Const layer 'w': negative dimension -4"),
    ('element_type="f32" shape="4" offset="x" size="16"', "Const layer 'w': missing or bad offset/size"),
    ('element_type="f32" shape="4000000000,4000000000" offset="0" size="16"', "size 16 is smaller than"),
])
def test_bad_constants(tmp_path: Path, const: str, message: str) -> None:
    _read_fails(ir(const=const), message, tmp_path)


def test_scalar_from_a_larger_blob_is_read_as_openvino_does() -> None:
    """OpenVINO's reader takes a Const whose `size` exceeds what its shape needs (it reads the first element);
    so does irforge."""
    import openvino as ov

    xml = ir(const='element_type="f32" shape="" offset="4" size="16"')
    ours = irforge.Core().compile_model(model_from_xml(xml, _BLOB), "REF")([np.zeros(4, np.float32)])[0]
    core = ov.Core()
    theirs = core.compile_model(core.read_model(model=xml, weights=ov.Tensor(np.frombuffer(_BLOB, np.uint8).copy())),
                                "CPU")(np.zeros(4, np.float32))[0]
    np.testing.assert_array_equal(ours, [1, 1, 1, 1])
    np.testing.assert_array_equal(theirs, ours)


def test_port_dims_that_disagree_are_ignored_as_openvino_does() -> None:
    """OpenVINO re-infers every shape and ignores the `<dim>`s of an op's output ports; so does irforge."""
    model = model_from_xml(ir(add_out_dims="<dim>7</dim>"), _BLOB)
    assert str(model.outputs[0].shape) == "4"


@pytest.mark.parametrize("dims,message", [("<dim>-2</dim>", "bad <dim> '-2'"), ("<dim>1e3</dim>", "bad <dim> '1e3'"),
                                          ("<dim>99999999999999999999</dim>", "bad <dim>")])
def test_bad_port_dims(tmp_path: Path, dims: str, message: str) -> None:
    _read_fails(ir(add_out_dims=dims), message, tmp_path)


def test_unknown_opset_version(tmp_path: Path) -> None:
    _read_fails(ir(add_version="opset999"), "layer 'add': unknown version 'opset999' of op type 'Add'", tmp_path)


def test_no_result(tmp_path: Path) -> None:
    xml = ir(result="", edges=_EDGES.replace('<edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>', ""))
    _read_fails(xml, "m.xml: the model has no Result layer (no outputs)", tmp_path)
    (tmp_path / "x.npy").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros(4, np.float32))
    fails("the model has no Result layer", "infer", str(tmp_path / "m.xml"), "--input", str(tmp_path / "x.npy"),
          "-o", str(tmp_path / "res"))
    assert not (tmp_path / "res").exists()


def _chain_ir(n: int) -> bytes:
    """x -> n ReLUs -> Result, with the layers listed consumers first."""
    layers = [f'<layer id="{n + 1}" name="r" type="Result" version="opset1"><input><port id="0" precision="FP32">'
              f'<dim>4</dim></port></input></layer>']
    edges = [f'<edge from-layer="{n}" from-port="1" to-layer="{n + 1}" to-port="0"/>']
    for i in range(n, 0, -1):
        layers.append(f'<layer id="{i}" name="relu{i}" type="ReLU" version="opset1"><input><port id="0" '
                      f'precision="FP32"><dim>4</dim></port></input><output><port id="1" precision="FP32"><dim>4</dim>'
                      f'</port></output></layer>')
        edges.append(f'<edge from-layer="{i - 1}" from-port="{0 if i == 1 else 1}" to-layer="{i}" to-port="0"/>')
    layers.append(_PARAM)
    return (f'<?xml version="1.0"?><net name="chain" version="11"><layers>{"".join(layers)}</layers>'
            f'<edges>{"".join(edges)}</edges></net>').encode()


def test_deep_ir_listed_consumers_first_loads(tmp_path: Path) -> None:
    (tmp_path / "deep.xml").write_bytes(_chain_ir(3000))
    code, out, err = run_cli("inspect", str(tmp_path / "deep.xml"))
    assert code == 0, err
    assert "3000  Relu" in out
    model = irforge.read_model(tmp_path / "deep.xml")
    x = np.array([-1, 0, 1, 2], np.float32)
    np.testing.assert_array_equal(irforge.Core().compile_model(model, "REF")([x])[0], [0, 0, 1, 2])


def test_cycle_is_reported(tmp_path: Path) -> None:
    xml = _chain_ir(3).replace(b'<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>',
                               b'<edge from-layer="3" from-port="1" to-layer="1" to-port="0"/>')
    _read_fails(xml, "cycle through layer", tmp_path, b"")


def test_result_without_input(tmp_path: Path) -> None:
    """Found by the fuzzer (an IndexError in `inspect`): a Result no edge feeds."""
    xml = ir(edges=_EDGES.replace('<edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>', ""))
    _read_fails(xml, "layer 'r': node 'r' (Result) takes 1..1 inputs, got 0", tmp_path)


def test_edge_into_a_parameter(tmp_path: Path) -> None:
    xml = ir(edges=_EDGES + '<edge from-layer="1" from-port="0" to-layer="0" to-port="0"/>')
    _read_fails(xml, "(Parameter) takes 0..0 inputs, got 1", tmp_path)
