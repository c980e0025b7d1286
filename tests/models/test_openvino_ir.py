"""IR written by OpenVINO itself loads in irforge and computes what OpenVINO computes; and irforge's own writer
is stable: write -> read -> write gives the same bytes.

OpenVINO's IR is made from the opset-17 export of each zoo model (OpenVINO's ONNX frontend normalizes the opset
differences away: the opset-11 export gives the same op set), saved with compress_to_fp16=False and with the default
compress_to_fp16=True (f16 weights followed by Convert to f32). Both sides then run the same f16-rounded weights, so
the tolerance stays 1e-4 (absolute and relative)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import irforge
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.models import zoo
from tests.models.conftest import Converted
from tests.models.harness import max_err, run_openvino_xml, run_ref
from tests.util import assert_close

OV_OPSET = 17
COMPRESS = {"f32": False, "f16": True}
OV_CASES = [(name, c) for name in zoo.MODELS for c in COMPRESS]


@pytest.fixture(scope="module")
def openvino_ir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """`openvino_ir(name, "f32" | "f16")`: the path of the IR OpenVINO writes for the zoo model."""
    import openvino as ov

    root = tmp_path_factory.mktemp("openvino_ir")

    def get(name: str, weights: str) -> Path:
        xml = root / f"{name}-{weights}.xml"
        if not xml.is_file():
            ov_model = ov.convert_model(str(zoo.export(name, OV_OPSET)))
            ov.save_model(ov_model, str(xml), compress_to_fp16=COMPRESS[weights])
        return xml

    return get


@pytest.mark.slow  # REF runs every zoo model twice (~70 s on 2 cores)
@pytest.mark.parametrize(("name", "weights"), OV_CASES, ids=[f"{n}-{w}" for n, w in OV_CASES])
def test_ref_runs_openvino_ir(name: str, weights: str, openvino_ir: Callable[[str, str], Path]) -> None:
    spec = zoo.MODELS[name]
    xml = openvino_ir(name, weights)
    model = irforge.read_model(xml)
    model.validate()
    for inputs in spec.input_sets():
        want = run_openvino_xml(xml, inputs)
        got = run_ref(model, inputs)
        shapes = {k: v.shape for k, v in inputs.items()}
        print(f"{name} OpenVINO IR ({weights} weights) {shapes}: REF max abs err vs OpenVINO {max_err(got, want):.3g}")
        assert_close(got, want, rtol=spec.rtol, atol=spec.atol, what=f"{name} OpenVINO IR {weights} {shapes}")


def _assert_rewrite_identical(xml: bytes, blob: bytes, what: str) -> None:
    again_xml, again_blob = model_to_xml(model_from_xml(xml, blob))
    assert again_xml == xml, f"{what}: the XML changes on write -> read -> write"
    assert again_blob == blob, f"{what}: the weights change on write -> read -> write"


CASES = [(name, opset) for name in zoo.MODELS for opset in zoo.OPSETS]


@pytest.mark.parametrize(("name", "opset"), CASES, ids=[f"{n}-opset{o}" for n, o in CASES])
def test_irforge_rewrite_is_byte_identical(name: str, opset: int, zoo_ir: Callable[[str, int], Converted]) -> None:
    """The IR irforge wrote for the converted model equals what irforge writes after reading it back."""
    conv = zoo_ir(name, opset)
    xml, blob = conv.xml_path.read_bytes(), conv.xml_path.with_suffix(".bin").read_bytes()
    assert model_to_xml(conv.model) == (xml, blob), f"{name} opset {opset}: write -> read -> write differs"
    _assert_rewrite_identical(xml, blob, f"{name} opset {opset}")


@pytest.mark.parametrize(("name", "weights"), OV_CASES, ids=[f"{n}-{w}" for n, w in OV_CASES])
def test_openvino_ir_rewrite_is_stable(name: str, weights: str, openvino_ir: Callable[[str, str], Path]) -> None:
    """OpenVINO's IR read by irforge and written: a second read -> write gives the same bytes."""
    xml_path = openvino_ir(name, weights)
    xml, blob = model_to_xml(irforge.read_model(xml_path))
    _assert_rewrite_identical(xml, blob, f"{name} OpenVINO IR ({weights})")
