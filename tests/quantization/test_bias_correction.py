"""Fast bias correction: the computed shift is the real mean output shift the weight quantization causes, and
removing it brings the INT8 model's mean outputs closer to FP32's."""
from __future__ import annotations

import numpy as np

import irforge
from irforge.ir.graph import Model
from irforge.quantization import quantize_report
from irforge.quantization.bias_correction import bias_shift
from irforge.quantization.collect import instrument
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.placement import place
from irforge.quantization.weights import quantize_weight
from tests.quantization import digits


def test_shift_equals_mean_of_per_sample_shifts(digits_model: Model, digits_data: digits.Digits) -> None:
    placement = place(digits_model, QuantizationOptions())
    targets = [op.weight for op in placement.ops if op.weight is not None]
    inputs = [t.node.inputs[t.data_index] for t in targets]
    probe = irforge.Core().compile_model(instrument(digits_model, inputs), "REF")
    xs = digits_data.x["train"][:64]
    observed = probe(xs).values_list()[1:]
    for target, x in zip(targets, observed):
        w = target.node.inputs[target.index].node.data
        wq = quantize_weight(w, target.axes).dequantized()
        node = target.node
        per_sample = node.op.evaluate(node, [x, wq])[0].astype(np.float64) - node.op.evaluate(node, [x, w])[0]
        axes = tuple(a for a in range(per_sample.ndim) if a != target.channel_axis)
        measured = per_sample.mean(axis=axes)
        computed = bias_shift(target, x.mean(0, keepdims=True), w, wq)
        assert computed is not None and computed.shape == measured.shape
        np.testing.assert_allclose(computed, measured, rtol=1e-4, atol=1e-6)
        assert np.abs(measured).max() > 0  # the weights' rounding really shifts the mean


def _bypass_fake_quantize(model: Model) -> Model:
    """The model with every FakeQuantize bypassed: only the weights stay quantized."""
    for node in [n for n in model.nodes() if n.type == "FakeQuantize"]:
        node.outputs[0].replace_all_uses_with(node.inputs[0], move_names=False)
    return model


def test_correction_removes_the_weight_shift_of_the_first_layer(digits_model: Model,
                                                                digits_data: digits.Digits) -> None:
    calib = digits_data.samples("train", 300)
    xs = np.concatenate(calib)

    def conv1_mean(model: Model) -> np.ndarray:
        conv = next(n for n in model.nodes() if n.type == "Convolution")
        bias_add = conv.outputs[0].uses[0][0]
        return irforge.Core().compile_model(instrument(model, [bias_add.outputs[0]]), "REF")(xs)[1].mean((0, 2, 3))

    ref = conv1_mean(digits_model)
    on = _bypass_fake_quantize(quantize_report(digits_model, calib, device="REF", progress=False).model)
    off = _bypass_fake_quantize(quantize_report(digits_model, calib, device="REF", progress=False,
                                                fast_bias_correction=False).model)
    shift_off = np.abs(conv1_mean(off) - ref).max()
    shift_on = np.abs(conv1_mean(on) - ref).max()
    assert shift_off > 1e-4 and shift_on < shift_off / 20


def test_correction_lowers_the_int8_error(digits_model: Model, digits_data: digits.Digits) -> None:
    calib = digits_data.samples("train", 300)
    x = digits_data.x["val"]
    ref = irforge.Core().compile_model(digits_model, "REF")(x)[0]

    def nmse(**options: object) -> float:
        q = quantize_report(digits_model, calib, device="REF", progress=False, **options).model
        out = irforge.Core().compile_model(q, "REF")(x)[0]
        return float(np.sum((out - ref) ** 2) / np.sum(ref ** 2))

    assert nmse() < 0.9 * nmse(fast_bias_correction=False)
