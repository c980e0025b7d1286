"""Whole models on the CPU device against ONNX Runtime: every zoo model (tests/models/zoo.py, opset 17, every input
set, so dynamic models re-plan per shape) and every onnx `light_*` model.

Tolerances. f32: the zoo's own (ZooModel.atol/rtol: 1e-4 absolute and relative), the light models' own (onnx's:
rtol 1e-3, densenet121 2e-3; atol 1e-7). bf16 (emulated on AVX2: weights and the activation inputs of
convolutions, matrix products and attention rounded to bf16, f32 arithmetic): max |got - want| <= 3e-2 * max(1,
max |want|) per output, on the small zoo models only (the light models' multi-GB constant weights are left out)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import irforge
from tests.models import zoo
from tests.models.conftest import Converted
from tests.models.light import ATOL, NAMES, load
from tests.runtime.cpu.helpers import cpu_config
from tests.util import assert_close, run_ort

ZOO = list(zoo.MODELS)
BF16_ZOO = ["resnet", "mobilenetv3", "yolo", "bert", "unet"]
BF16_REL = 3e-2


def _cpu(model: irforge.Model, config: dict[str, str] | None = None) -> irforge.runtime.CompiledModel:
    return irforge.Core().compile_model(model, "CPU", cpu_config(config))


@pytest.mark.parametrize("name", ZOO)
def test_zoo_f32_matches_onnxruntime(name: str, zoo_ir: Callable[[str, int], Converted]) -> None:
    spec = zoo.MODELS[name]
    conv = zoo_ir(name, 17)
    compiled = _cpu(conv.model, {"INFERENCE_PRECISION_HINT": "f32"})
    for inputs in spec.input_sets():
        want = run_ort(conv.onnx_path, inputs)
        got = compiled(list(inputs.values())).values_list()
        assert_close(got, want, rtol=spec.rtol, atol=spec.atol, what=f"{name} CPU f32 {[v.shape for v in inputs.values()]}")


@pytest.mark.parametrize("name", BF16_ZOO)
def test_zoo_bf16_close_to_onnxruntime(name: str, zoo_ir: Callable[[str, int], Converted]) -> None:
    spec = zoo.MODELS[name]
    conv = zoo_ir(name, 17)
    compiled = _cpu(conv.model, {"INFERENCE_PRECISION_HINT": "bf16"})
    f32 = _cpu(conv.model, {"INFERENCE_PRECISION_HINT": "f32"})
    inputs = spec.input_sets()[0]
    want = run_ort(conv.onnx_path, inputs)
    got = compiled(list(inputs.values())).values_list()
    exact = f32(list(inputs.values())).values_list()
    for i, (g, e, w) in enumerate(zip(got, exact, want)):
        scale = max(1.0, float(np.max(np.abs(w))))
        err = float(np.max(np.abs(g.astype(np.float64) - w)))
        assert err <= BF16_REL * scale, f"{name} bf16 output {i}: max abs err {err:.3g} > {BF16_REL} * {scale:.3g}"
        if w.dtype.kind == "f":
            assert not np.array_equal(g, e), f"{name} output {i}: bf16 gave the f32 result (no rounding happened)"


@pytest.mark.slow  # the light models' large constants (~2 min on 2 cores)
@pytest.mark.parametrize("name", NAMES)
def test_light_model_f32_matches_onnxruntime(name: str) -> None:
    case = load(name)
    model = irforge.convert_model(case.proto)
    got = _cpu(model)(list(case.inputs.values())).values_list()
    want = run_ort(case.proto, case.inputs)
    assert_close(got[:1], [case.expected], rtol=case.rtol, atol=ATOL, what=f"light_{name} CPU vs shipped")
    assert_close(got, want, rtol=case.rtol, atol=ATOL, what=f"light_{name} CPU vs ORT")
