"""Quantizer placement on the zoo models: the hybrid set (Conv/MatMul inputs; INT8 flowing through ReLU, pooling,
Add/Multiply and Concat only where it reaches INT8 layers), quantizers moved up to one shared FakeQuantize,
ignored types/names, and groups whose revert really takes their layers out of INT8."""
from __future__ import annotations

import numpy as np
import pytest

import irforge
from irforge.errors import OptionError
from irforge.ir.graph import Model, Node
from irforge.quantization.insert import build
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.pipeline import prepare
from irforge.quantization.placement import QUANTIZED_TYPES, place
from tests.models import zoo

_CACHE: dict[str, Model] = {}


def _zoo(name: str) -> Model:
    if name not in _CACHE:
        _CACHE[name] = irforge.convert_model(str(zoo.export(name, 17)))
    return _CACHE[name]


def _fed(node: Node) -> list[Node]:
    """The quantized ops a tensor reaches through value-preserving ops."""
    out = []
    for consumer, _ in node.outputs[0].uses:
        if consumer.type in ("MaxPool", "Reshape", "Transpose", "Slice", "StridedSlice", "Split", "Concat",
                             "Gather", "Squeeze", "Unsqueeze", "VariadicSplit"):
            out += _fed(consumer)
        else:
            out.append(consumer)
    return out


def test_resnet_residual_adds_run_in_int8_but_not_the_last() -> None:
    placement = place(_zoo("resnet"), QuantizationOptions())
    flow = sorted(op.node.name for op in placement.ops if op.node.type == "Add")
    # the last block's Add feeds the global pool (ReduceMean): INT8 would not flow on, so it stays float
    assert flow == ["/layers/layers.0/Add", "/layers/layers.1/Add"]
    bias_adds = [op for op in placement.ops if op.node.type == "Add" and "BatchNormalization" in op.node.name]
    assert not bias_adds  # an Add of a constant bias is no INT8 op


def test_bert_keeps_layernorm_residuals_and_attention_in_float() -> None:
    model = _zoo("bert")
    placement = place(model, QuantizationOptions())
    assert all(op.node.type == "MatMul" for op in placement.ops)
    weighted = [op for op in placement.ops if op.weight is not None]
    assert len(weighted) == len([n for n in model.nodes() if n.type == "MatMul"])
    for q in placement.quantizers:
        assert all(c.type in ("MatMul", "Transpose", "Reshape", "Gather") for c, _ in q.slots)


def test_one_fake_quantize_per_tensor_and_moved_through_maxpool() -> None:
    model = _zoo("yolo")
    q = build(prepare(model, [list(s.values()) for s in zoo.MODELS["yolo"].input_sets()],
                      QuantizationOptions(device="REF", progress=False)).plan)
    fqs = [n for n in q.nodes() if n.type == "FakeQuantize"]
    assert len({id(n.inputs[0]) for n in fqs}) == len(fqs)  # never two quantizers on one tensor
    sppf_pool = [n for n in q.nodes() if n.type == "MaxPool"]
    assert sppf_pool and all(n.inputs[0].node.type in ("FakeQuantize", "MaxPool") for n in sppf_pool)
    for fq in fqs:
        assert all(c.type in QUANTIZED_TYPES | {"Add", "Multiply", "AvgPool"} for c in _fed(fq)), fq.name


def test_mobilenet_squeeze_excite_multiply_is_quantized() -> None:
    placement = place(_zoo("mobilenetv3"), QuantizationOptions())
    mults = [op.node for op in placement.ops if op.node.type == "Multiply"]
    assert mults and all("block" in n.name for n in mults)
    groups = {op.group for op in placement.ops if op.node.type == "GroupConvolution"}
    assert groups  # depthwise convolutions are INT8 layers too


@pytest.mark.parametrize("name", ["resnet", "yolo", "mobilenetv3"])
def test_reverting_a_group_leaves_its_layers_without_quantizers(name: str) -> None:
    model = _zoo(name)
    prepared = prepare(model, [list(s.values()) for s in zoo.MODELS[name].input_sets()],
                       QuantizationOptions(device="REF", progress=False))
    plan = prepared.plan
    full = build(plan)
    n_full = sum(n.type == "FakeQuantize" for n in full.nodes())
    for group in plan.placement.groups:
        reverted = build(plan, {group.gid: "fp32"})
        n = sum(node.type == "FakeQuantize" for node in reverted.nodes())
        assert n == n_full - len(group.quantizers)
        names = {op.name for op in group.ops}
        for node in reverted.nodes():
            if node.name in names:
                for src in node.inputs:
                    producer = src.node
                    while producer.type in ("MaxPool", "Reshape", "Slice", "StridedSlice", "Concat", "Split"):
                        producer = producer.inputs[0].node
                    assert producer.type != "FakeQuantize", (group.label(), node.name)
                    assert not (producer.type == "Multiply" and producer.name.endswith("/fq_weights_1"))


def test_ignored_types_and_names() -> None:
    model = _zoo("resnet")
    every = place(model, QuantizationOptions())
    no_matmul = place(model, QuantizationOptions(ignored_types=("MatMul",)))
    assert [op.node.type for op in no_matmul.ops].count("MatMul") == 0
    assert len(no_matmul.quantizers) == len(every.quantizers) - 1
    no_stem = place(model, QuantizationOptions(ignored_names=("^/stem/",)))
    assert all(not op.node.name.startswith("/stem/") for op in no_stem.ops)
    assert {n.name for n in no_stem.ignored} >= {n.name for n in model.nodes() if n.name.startswith("/stem/")}
    ignore_conv_type = place(model, QuantizationOptions(ignored_types="convolution"))  # case-insensitive
    assert all(op.node.type != "Convolution" for op in ignore_conv_type.ops)
    with pytest.raises(OptionError, match="ignored_names: 'zzz' matches no node"):
        place(model, QuantizationOptions(ignored_names=("zzz",)))
    with pytest.raises(OptionError, match="not a valid regular expression"):
        QuantizationOptions(ignored_names=("(",))


def test_options_are_checked() -> None:
    with pytest.raises(OptionError, match="preset must be one of performance, mixed"):
        QuantizationOptions(preset="fast")
    with pytest.raises(OptionError, match="range_estimator must be one of"):
        QuantizationOptions(range_estimator="kl")
    with pytest.raises(OptionError, match="subset_size must be a positive integer"):
        QuantizationOptions(subset_size=0)
    with pytest.raises(OptionError, match="unknown quantization option"):
        irforge.quantize(_zoo("resnet"), [np.zeros((1, 3, 32, 32), np.float32)], presett="mixed")


def test_mixed_preset_gives_asymmetric_ranges_with_zero_on_a_level() -> None:
    model = _zoo("mobilenetv3")
    calib = [list(s.values()) for s in zoo.MODELS["mobilenetv3"].input_sets()] * 2
    q = irforge.quantize(model, calib, preset="mixed", device="REF", progress=False)
    signed = 0
    for fq in (n for n in q.nodes() if n.type == "FakeQuantize"):
        lo, hi = float(fq.inputs[1].node.data), float(fq.inputs[2].node.data)
        if lo < 0:
            signed += 1
            zero = -lo / ((hi - lo) / 255)
            assert abs(zero - round(zero)) < 1e-3 and abs(lo) != pytest.approx(hi * 128 / 127)
    assert signed > 0
