"""Fixtures of the quantization tests: the digits CNN (trained once, cached) as an irforge Model, and its default
INT8 quantization (REF device, so the tests do not depend on the CPU device's state)."""
from __future__ import annotations

import numpy as np
import pytest

import irforge
from irforge.ir.graph import Model
from irforge.quantization import QuantizationResult, quantize_report
from tests.quantization import digits


@pytest.fixture(scope="session")
def digits_data() -> digits.Digits:
    return digits.load()


@pytest.fixture(scope="session")
def digits_model(digits_data: digits.Digits) -> Model:
    return irforge.convert_model(str(digits_data.onnx_path))


@pytest.fixture(scope="session")
def digits_int8(digits_model: Model, digits_data: digits.Digits) -> QuantizationResult:
    # first_layer: NNCF's layout (the default, auto, picks 7-bit weights everywhere on CPUs without VNNI)
    return quantize_report(digits_model, digits_data.samples("train", 300), device="REF", progress=False,
                           overflow_fix="first_layer")


def predict(model: Model, xs: np.ndarray, device: str = "REF") -> np.ndarray:
    """Logits of every row of `xs` (run in batches)."""
    compiled = irforge.Core().compile_model(model, device)
    return np.concatenate([compiled(xs[i:i + 100])[0] for i in range(0, len(xs), 100)])
