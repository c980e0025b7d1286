"""The INT8 IR as written: FakeQuantize count and placement, levels 256 with u8 ranges after ReLU, i8 weights in
narrow range (levels 255: -127..127; the first layer 7-bit) behind Convert -> Multiply with per-output-channel
scales, corrected biases, and one shared range at a Concat. Read back through the IR reader and by OpenVINO."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import irforge
from irforge.ir.graph import Model, Node
from irforge.ir.xml_io import model_from_xml, model_to_xml
from irforge.quantization import QuantizationResult, quantize_report
from tests.models import zoo
from tests.quantization import digits


def _fq_nodes(model: Model) -> list[Node]:
    return [n for n in model.nodes() if n.type == "FakeQuantize"]


def _range(fq: Node) -> tuple[float, float, float, float]:
    return tuple(float(fq.inputs[i].node.data) for i in range(1, 5))  # type: ignore[return-value]


def _weight_chain(layer: Node) -> tuple[np.ndarray, np.ndarray]:
    mul = layer.inputs[1].node
    assert mul.type == "Multiply", layer.name
    convert, scale = mul.inputs[0].node, mul.inputs[1].node
    assert convert.type == "Convert" and convert.attrs["destination_type"].name == "f32"
    q = convert.inputs[0].node
    assert q.type == "Constant" and q.attrs["element_type"].name == "i8"
    return q.data, scale.data  # type: ignore[return-value]


def test_digits_int8_structure(digits_model: Model, digits_int8: QuantizationResult) -> None:
    model = digits_int8.model
    fqs = _fq_nodes(model)
    assert len(fqs) == 3
    feeds = sorted(c.type for fq in fqs for c, _ in fq.outputs[0].uses)
    assert feeds == ["Convolution", "Convolution", "MaxPool"]  # FC's quantizer moved up before MaxPool/Reshape
    for fq in fqs:
        assert fq.attrs["levels"] == 256
        il, ih, ol, oh = _range(fq)
        assert (il, ih) == (ol, oh) and il == 0.0 < ih  # non-negative tensors (input, ReLU outputs): u8
    layers = {n.name: n for n in model.nodes() if n.type in ("Convolution", "MatMul")}
    assert len(layers) == 3
    for name, layer in layers.items():
        q, scale = _weight_chain(layer)
        original = next(n for n in digits_model.nodes() if n.name == name).inputs[1].node.data
        assert scale.shape == (q.shape[0],) + (1,) * (q.ndim - 1)  # per output channel
        limit = 63 if name.startswith("/conv1") else 127  # the first layer keeps 7 bits (overflow fix)
        assert np.abs(q).max() == limit and np.all(np.abs(q).reshape(q.shape[0], -1).max(1) == limit)
        np.testing.assert_allclose(q * scale, original, atol=float(scale.max()) / 2 + 1e-7)


def test_digits_bias_correction_changes_biases(digits_model: Model, digits_int8: QuantizationResult) -> None:
    plan_biases = [n for n in digits_int8.model.nodes() if n.name.endswith("/bias_corrected")]
    assert len(plan_biases) == 3
    for node in plan_biases:
        add = node.outputs[0].uses[0][0]
        original = next(n for n in digits_model.nodes() if n.name == add.name)
        before = next(i.node.data for i in original.inputs if i.node.type == "Constant")
        assert before.shape == node.data.shape and not np.array_equal(before, node.data)
        assert np.abs(before - node.data).max() < 0.1 * np.abs(before).max() + 0.05


def test_ir_round_trip_and_openvino_reads_it(digits_int8: QuantizationResult, tmp_path: Path) -> None:
    import openvino as ov

    xml, blob = model_to_xml(digits_int8.model)
    again = model_from_xml(xml, blob)
    assert again.histogram() == digits_int8.model.histogram()
    irforge.save_model(digits_int8.model, tmp_path / "q.xml")
    ov_model = ov.Core().read_model(tmp_path / "q.xml")
    types = [op.get_type_name() for op in ov_model.get_ordered_ops()]
    assert types.count("FakeQuantize") == 3
    i8 = [op for op in ov_model.get_ordered_ops() if op.get_type_name() == "Constant"
          and op.get_element_type() == ov.Type.i8]
    assert len(i8) == 3
    compiled = ov.Core().compile_model(ov_model, "CPU")
    runtime = compiled.get_runtime_model()
    precisions = {op.get_rt_info()["runtimePrecision"].astype(str) for op in runtime.get_ordered_ops()
                  if op.get_rt_info()["layerType"].astype(str) in ("Convolution", "FullyConnected")}
    assert precisions <= {"u8", "i8"}  # OpenVINO runs the layers as real INT8


@pytest.fixture(scope="module")
def yolo_int8() -> QuantizationResult:
    model = irforge.convert_model(str(zoo.export("yolo", 17)))
    calib = [list(s.values()) for s in zoo.MODELS["yolo"].input_sets()]
    return quantize_report(model, calib, device="REF", progress=False)


def test_concat_inputs_share_one_range(yolo_int8: QuantizationResult) -> None:
    checked = 0
    for concat in (n for n in yolo_int8.model.nodes() if n.type == "Concat"):
        fqs = [_upstream_fq(src.node) for src in concat.inputs]
        if all(fq is not None for fq in fqs):
            assert len({_range(fq) for fq in fqs if fq is not None}) == 1, concat.name
            checked += 1
    assert checked >= 4  # the C2f, SPPF and neck concats run in INT8


_MOVEMENT = ("StridedSlice", "Slice", "MaxPool", "Reshape", "Split", "VariadicSplit")


def _upstream_fq(node: Node) -> Node | None:
    """The FakeQuantize a tensor comes from through value-preserving ops, if any."""
    while node.type in _MOVEMENT:
        node = node.inputs[0].node
    return node if node.type == "FakeQuantize" else None


def test_detector_decode_stays_float(yolo_int8: QuantizationResult) -> None:
    """The box decode (Add/Multiply/Concat feeding the outputs) is not quantized: INT8 would not flow on."""
    model = yolo_int8.model
    for result in model.results:
        assert result.inputs[0].node.type != "FakeQuantize"
        node = result.inputs[0].node
        assert all(src.node.type != "FakeQuantize" for src in node.inputs)


def test_f16_compressed_model_quantizes_from_its_f16_weights(digits_data: digits.Digits) -> None:
    m16 = irforge.convert_model(str(digits_data.onnx_path), compress_to_fp16=True)
    q = quantize_report(m16, digits_data.samples("train", 100), device="REF", progress=False).model
    assert not any("decompression" in n.rt_info for n in q.nodes())  # every f16 weight became i8
    for layer in (n for n in q.nodes() if n.type in ("Convolution", "MatMul")):
        q8, scale = _weight_chain(layer)
        original = next(n for n in m16.nodes() if n.name == layer.name).inputs[1].node  # Convert(f16 weights)
        w = original.inputs[0].node.data.astype(np.float32)
        np.testing.assert_allclose(q8 * scale, w, atol=float(scale.max()) / 2 + 1e-6)


def test_an_int8_model_is_not_quantized_again(digits_int8: QuantizationResult, digits_data: digits.Digits) -> None:
    from irforge.quantization import QuantizationError

    with pytest.raises(QuantizationError, match="already quantized \\(3 FakeQuantize\\)"):
        quantize_report(digits_int8.model, digits_data.samples("train", 10), device="REF", progress=False)
