"""Every zoo model quantizes with a few random calibration samples and runs on REF and in OpenVINO. With 7-bit
weights everywhere (overflow_fix="enable") OpenVINO's INT8 kernels compute what the IR says on any x86 CPU, so its
outputs must be close to irforge REF's on the same INT8 IR; with the default (8-bit weights after the first
layer) the IR still loads and runs there (CPUs without VNNI may saturate some 8-bit products)."""
from __future__ import annotations

import numpy as np
import pytest

import irforge
from irforge.ir.graph import Model
from irforge.quantization import quantize_report
from tests.models import zoo
from tests.util import run_openvino, run_ref


def _calibration(name: str) -> list[list[np.ndarray]]:
    """The zoo's input sets and random variations of them (floats ~ N(0, 1), ids in the vocabulary)."""
    rng = np.random.default_rng(0)
    items = []
    for inputs in zoo.MODELS[name].input_sets():
        items.append(list(inputs.values()))
        for _ in range(2):
            items.append([rng.standard_normal(v.shape).astype(v.dtype) if v.dtype.kind == "f"
                          else (v if set(np.unique(v)) <= {0, 1} else rng.integers(0, 100, v.shape).astype(v.dtype))
                          for v in inputs.values()])
    return items


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a64 - b64) / (np.linalg.norm(b64) + 1e-12))


@pytest.fixture(scope="module")
def converted() -> dict[str, Model]:
    return {}


def _model(converted: dict[str, Model], name: str) -> Model:
    if name not in converted:
        converted[name] = irforge.convert_model(str(zoo.export(name, 17)))
    return converted[name]


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_zoo_model_quantizes_and_runs(name: str, converted: dict[str, Model]) -> None:
    model = _model(converted, name)
    calib = _calibration(name)
    result = quantize_report(model, calib, device="REF", progress=False, overflow_fix="enable")
    q = result.model
    q.validate()
    assert result.report.int8_layers, "some layer must be in INT8"
    assert q.histogram().get("FakeQuantize", 0) == result.report.fake_quantizes > 0
    inputs = list(zoo.MODELS[name].input_sets()[0].values())
    ours, fp = run_ref(q, inputs), run_ref(model, inputs)
    theirs = run_openvino(q, inputs)
    for a, f, b in zip(ours, fp, theirs):
        assert np.all(np.isfinite(a)) and a.shape == f.shape
        assert _rel(a, f) < 0.15, "INT8 too far from FP32"
        assert _rel(b, a) < 0.02, "OpenVINO's INT8 differs from irforge REF on the same IR"


@pytest.mark.parametrize("name", ["resnet", "mobilenetv3", "bert"])
def test_default_int8_ir_runs_in_openvino(name: str, converted: dict[str, Model]) -> None:
    model = _model(converted, name)
    q = quantize_report(model, _calibration(name), device="REF", progress=False).model
    inputs = list(zoo.MODELS[name].input_sets()[0].values())
    for a, b in zip(run_ref(q, inputs), run_openvino(q, inputs)):
        assert np.all(np.isfinite(b)) and a.shape == b.shape
        assert _rel(b, a) < 0.25
