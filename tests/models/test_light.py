"""The onnx "light" models (see tests/models/light.py for where their input and tolerances come from):
convert, write IR, read it back, run on REF against the shipped output and ONNX Runtime, and run our IR in
OpenVINO."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from irforge.ir.graph import Model
from irforge.mo.report import ConversionReport
from tests.models.harness import convert_with_report, max_err, run_openvino_xml, run_ort, run_ref
from tests.models.light import ATOL, NAMES, LightCase, load
from tests.util import assert_close


@dataclass
class Converted:
    case: LightCase
    xml_path: Path
    model: Model | Exception  # a conversion error is re-raised by every test of the model
    report: ConversionReport | None = None
    _ref: list[np.ndarray] | Exception | None = None
    _ort: list[np.ndarray] | None = None

    def ref(self) -> list[np.ndarray]:
        """REF's outputs (or its error), computed once for the two tests that check them."""
        if self._ref is None:
            try:
                if isinstance(self.model, Exception):
                    raise self.model
                self._ref = run_ref(self.model, self.case.inputs)
            except Exception as e:  # noqa: BLE001
                self._ref = e
        if isinstance(self._ref, Exception):
            raise self._ref
        return self._ref

    def ort(self) -> list[np.ndarray]:
        """ONNX Runtime's outputs (computed once: building the big constant weights takes seconds)."""
        if self._ort is None:
            self._ort = run_ort(self.case.proto, self.case.inputs)
        return self._ort


# slow: the light models' constants are large (hundreds of MB); the lowest-versions run (.ci/lowest) leaves them out
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=NAMES)
def light(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Converted]:
    case = load(request.param)
    xml = tmp_path_factory.mktemp("light") / f"{case.name}.xml"
    report = None
    try:
        model: Model | Exception
        model, report = convert_with_report(case.proto, xml)
    except Exception as e:  # noqa: BLE001
        model = e
    yield Converted(case, xml, model, report)
    for p in (xml, xml.with_suffix(".bin")):  # the larger ones weigh hundreds of MB
        p.unlink(missing_ok=True)


def test_ref_matches_shipped_output(light: Converted) -> None:
    case = light.case
    got = light.ref()
    print(f"light_{case.name}: REF max abs err vs shipped output {max_err(got[:1], [case.expected]):.3g}")
    assert_close(got[:1], [case.expected], rtol=case.rtol, atol=ATOL, what=f"light_{case.name} REF")


def test_ref_matches_onnxruntime(light: Converted) -> None:
    """All outputs (the logits included) against ONNX Runtime on the same model."""
    case = light.case
    got = light.ref()
    want = light.ort()
    print(f"light_{case.name}: REF max abs err vs ORT {max_err(got, want):.3g}")
    assert_close(got, want, rtol=case.rtol, atol=ATOL, what=f"light_{case.name} REF vs ORT")


def test_openvino_runs_our_ir(light: Converted) -> None:
    case = light.case
    if isinstance(light.model, Exception):
        raise light.model
    got = run_openvino_xml(light.xml_path, case.inputs)
    want = light.ort()
    print(f"light_{case.name}: OpenVINO max abs err vs ORT {max_err(got, want):.3g}")
    own = _openvino_on_onnx(case)
    if not np.allclose(own[0], case.expected, rtol=case.rtol, atol=ATOL):
        # OpenVINO gets the shipped model itself wrong on this CPU (light_squeezenet's uniform Softmax comes out 0
        # on AVX-512 Zen 4 from OpenVINO 2026.4's own ONNX import): irforge's IR must then give what OpenVINO gives
        # on its own import of the model, so the IR is not what differs
        assert_close(got, own, rtol=case.rtol, atol=ATOL, what=f"light_{case.name} OpenVINO on irforge's IR vs "
                                                               f"on its own import (which misses the shipped output)")
        return
    assert_close(got[:1], [case.expected], rtol=case.rtol, atol=ATOL, what=f"light_{case.name} OpenVINO vs shipped")
    assert_close(got, want, rtol=case.rtol, atol=ATOL, what=f"light_{case.name} OpenVINO vs ORT")


def _openvino_on_onnx(case: LightCase) -> list[np.ndarray]:
    """OpenVINO's CPU plugin (f32) on its own import of the ONNX model."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(case.proto.SerializeToString()), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled(list(case.inputs.values()))
    return [np.asarray(res[o]) for o in compiled.outputs]


def test_all_nine_light_models_found() -> None:
    assert len(NAMES) == 9, NAMES


# Per model: the Convolution count must not change except where ConstantOfShape weights make convolutions on the
# same input identical, which common-subexpression elimination merges (inception_v1: 2, inception_v2: 9). Every
# BatchNormalization and every Multiply by a constant must fold into a convolution's weights, except densenet121's
# 62 scale Multiplies after Concat/pooling (a Relu stands between them and the next convolution) and inception_v2's
# 6 after a merged convolution that feeds two different scale chains.
_CONVS_MERGED = {"inception_v1": 2, "inception_v2": 9}
_BN_LEFT_AS_MULTIPLY = {"densenet121": 62, "inception_v2": 6}


def test_optimizer_shrinks_the_graph(light: Converted) -> None:
    """What the default pipeline must do to each light model (the outputs are checked by the tests above)."""
    if light.report is None:
        raise light.model  # type: ignore[misc]
    name, before, after = light.case.name, light.report.layers_before, light.report.layers_after
    print(f"light_{name}: {sum(before.values())} -> {sum(after.values())} layers")
    assert sum(after.values()) < sum(before.values())
    for gone in ("BatchNormInference", "Broadcast", "ConstantOfShape", "Dropout", "Identity"):
        assert gone not in after, f"{gone} left in light_{name}"
    assert after["Convolution"] == before["Convolution"] - _CONVS_MERGED.get(name, 0)
    assert after.get("Multiply", 0) == _BN_LEFT_AS_MULTIPLY.get(name, 0)
    if name == "shufflenet":  # each Reshape -> Transpose -> Reshape channel shuffle becomes one op
        assert after["ShuffleChannels"] == 16 and "Transpose" not in after
