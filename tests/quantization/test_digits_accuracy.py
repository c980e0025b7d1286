"""Accuracy on the digits CNN: the default INT8 model stays within 1 point of FP32 on the test split; the
accuracy-aware search meets a 0.002 limit on the validation split and names what it reverted."""
from __future__ import annotations

import numpy as np
import pytest

import irforge
from irforge.ir.graph import Model
from irforge.quantization import QuantizationResult, quantize_with_accuracy_control_report
from tests.quantization import digits
from tests.quantization.conftest import predict


def test_default_int8_within_one_point_on_test_split(digits_model: Model, digits_int8: QuantizationResult,
                                                      digits_data: digits.Digits) -> None:
    x, y = digits_data.x["test"], digits_data.y["test"]
    fp32 = digits.accuracy(predict(digits_model, x), y)
    int8 = digits.accuracy(predict(digits_int8.model, x), y)
    assert fp32 > 0.9  # the fixture really learned the task
    assert int8 >= fp32 - 0.01, (fp32, int8)
    assert digits_int8.report.int8_layers and not digits_int8.report.float_layers


def test_default_int8_in_openvino_keeps_accuracy(digits_int8: QuantizationResult, digits_data: digits.Digits) -> None:
    """The same INT8 IR, run by OpenVINO's real INT8 kernels."""
    from tests.util import run_openvino

    x, y = digits_data.x["test"], digits_data.y["test"]
    ours = predict(digits_int8.model, x)
    theirs = run_openvino(digits_int8.model, [x])[0]
    assert digits.accuracy(theirs, y) >= digits.accuracy(ours, y) - 0.01
    assert np.mean(theirs.argmax(1) == ours.argmax(1)) > 0.98


def _top1(compiled: irforge.CompiledModel, items: list[tuple[np.ndarray, int]]) -> float:
    return float(np.mean([int(np.argmax(compiled(x)[0])) == label for x, label in items]))


@pytest.mark.parametrize("estimator", ["quantile", "mean_minmax"])  # irforge's default, NNCF's default
def test_accuracy_aware_meets_max_drop_on_validation(digits_model: Model, digits_data: digits.Digits,
                                                     estimator: str) -> None:
    val = list(zip(digits_data.samples("val"), digits_data.y["val"].tolist()))
    result = quantize_with_accuracy_control_report(
        digits_model, digits_data.samples("train", 300), val, _top1, max_drop=0.002,
        transform_fn=lambda item: item[0] if isinstance(item, tuple) else item, device="REF", progress=False,
        range_estimator=estimator)
    report = result.report
    fp32 = digits.accuracy(predict(digits_model, digits_data.x["val"]), digits_data.y["val"])
    final = digits.accuracy(predict(result.model, digits_data.x["val"]), digits_data.y["val"])
    assert report.fp_metric == fp32 and abs(report.final_metric - final) < 1e-12
    assert fp32 - final <= 0.002
    if report.fp_metric - report.int8_metric > 0.002:  # the fully quantized model missed: something was reverted
        assert report.reverted_layers
        assert all(name in report.table() for name in report.reverted_layers)
        layers = {layer.name: layer for layer in report.layers}
        assert all(layers[name].precision != "int8" for name in report.reverted_layers)
    assert report.int8_layers, "the search must not give up INT8 altogether"
