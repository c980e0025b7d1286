"""End-to-end: each zoo model at opsets 11, 13 and 17 converts, is written as IR and read back, and computes the
same outputs as ONNX Runtime on the REF device and, from the same IR files, in OpenVINO. Dynamic models run at two
input shapes.

Tolerances (ZooModel.atol / rtol): 1e-4 absolute and relative for every model. All are f32 end to end; the
largest reference outputs (YOLO's decoded boxes, up to a few hundred pixels) are covered by the relative part."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest

from tests.models import zoo
from tests.models.conftest import Converted
from tests.models.harness import max_err, run_openvino_xml, run_ort, run_ref
from tests.util import assert_close

CASES = [(name, opset) for name in zoo.MODELS for opset in zoo.OPSETS]
IDS = [f"{name}-opset{opset}" for name, opset in CASES]


@pytest.mark.parametrize(("name", "opset"), CASES, ids=IDS)
def test_ref_matches_onnxruntime(name: str, opset: int, zoo_ir: Callable[[str, int], Converted]) -> None:
    spec = zoo.MODELS[name]
    conv = zoo_ir(name, opset)
    for inputs in spec.input_sets():
        want = run_ort(conv.onnx_path, inputs)
        got = run_ref(conv.model, inputs)
        shapes = {k: v.shape for k, v in inputs.items()}
        print(f"{name} opset {opset} {shapes}: REF max abs err vs ORT {max_err(got, want):.3g}")
        assert_close(got, want, rtol=spec.rtol, atol=spec.atol, what=f"{name} opset {opset} REF {shapes}")


@pytest.mark.parametrize(("name", "opset"), CASES, ids=IDS)
def test_openvino_runs_our_ir(name: str, opset: int, zoo_ir: Callable[[str, int], Converted]) -> None:
    spec = zoo.MODELS[name]
    conv = zoo_ir(name, opset)
    for inputs in spec.input_sets():
        want = run_ort(conv.onnx_path, inputs)
        got = run_openvino_xml(conv.xml_path, inputs)
        shapes = {k: v.shape for k, v in inputs.items()}
        print(f"{name} opset {opset} {shapes}: OpenVINO max abs err vs ORT {max_err(got, want):.3g}")
        assert_close(got, want, rtol=spec.rtol, atol=spec.atol, what=f"{name} opset {opset} OpenVINO {shapes}")


@pytest.mark.parametrize(("name", "opset"), CASES, ids=IDS)
def test_signature(name: str, opset: int, zoo_ir: Callable[[str, int], Converted]) -> None:
    """Inputs and outputs keep their ONNX names and order; dims named in dynamic_axes stay dynamic, the others
    stay static."""
    spec = zoo.MODELS[name]
    model = zoo_ir(name, opset).model
    assert [sorted(p.names) for p in model.inputs] == [[n] for n in spec.input_names]
    assert [n in out.names for n, out in zip(spec.outputs, model.outputs)] == [True] * len(spec.outputs)
    example = spec.input_sets()[0]
    for port, (in_name, value) in zip(model.inputs, example.items()):
        dynamic = spec.dynamic_axes.get(in_name, {})
        dims = port.shape.dims
        assert len(dims) == value.ndim, f"{in_name}: rank {len(dims)} != {value.ndim}"
        for axis, d in enumerate(dims):
            if axis in dynamic:
                assert d.is_dynamic, f"{in_name} dim {axis} should be dynamic, is {d}"
            else:
                assert d.is_static and d.get_length() == value.shape[axis], f"{in_name} dim {axis} is {d}"


@pytest.mark.parametrize("opset", zoo.OPSETS)
def test_ifmodel_export_has_if(opset: int) -> None:
    """The If model really holds a data-dependent If, and its two input sets take both branches."""
    graph = onnx.load(zoo.export("ifmodel", opset)).graph
    assert "If" in {n.op_type for n in graph.node}
    sums = [float(np.sum(s["input"])) for s in zoo.MODELS["ifmodel"].input_sets()]
    assert min(sums) < 0 < max(sums)


# What the default pipeline must leave of each zoo model (op: count; ops not named must not grow). The ONNX export
# keeps BatchNormalization (it must fold into the convolutions, leaving their bias Adds), writes SiLU as x*sigmoid(x),
# Hardswish/Hardsigmoid before opset 14 as arithmetic, LayerNorm before opset 17, erf-Gelu and attention as
# arithmetic, and reshape targets computed from ShapeOf (which must become constants).
_OPTIMIZED: dict[str, dict[str, int]] = {
    "resnet": {"Convolution": 9, "Add": 13, "Multiply": 0, "BatchNormInference": 0},
    "mobilenetv3": {"HSwish": 7, "HSigmoid": 3, "Multiply": 3, "BatchNormInference": 0},
    "yolo": {"Swish": 22, "Sigmoid": 2, "BatchNormInference": 0},
    "bert": {"MVN": 5, "Gelu": 2, "ScaledDotProductAttention": 2, "Softmax": 0, "Erf": 0, "Sqrt": 0, "Power": 0,
             "ReduceMean": 0, "Divide": 0, "ShapeOf": 1, "Concat": 0},
    "lstm": {"LSTMSequence": 2},
    "gru": {"GRUSequence": 2},
    "unet": {"BatchNormInference": 0, "Multiply": 0},
    "ifmodel": {"If": 1},
}


@pytest.mark.parametrize(("name", "opset"), CASES, ids=IDS)
def test_optimizer_fuses(name: str, opset: int, zoo_ir: Callable[[str, int], Converted]) -> None:
    report = zoo_ir(name, opset).report
    before, after = report.layers_before, report.layers_after
    print(f"{name} opset {opset}: {sum(before.values())} -> {sum(after.values())} layers")
    assert {op: after.get(op, 0) for op in _OPTIMIZED[name]} == _OPTIMIZED[name]
    assert "Dropout" not in after and "Identity" not in after
    grown = {op: (before.get(op, 0), n) for op, n in after.items() if n > before.get(op, 0) and op not in _OPTIMIZED[name]
             and op != "Add"}  # bias Adds replace BatchNorms
    assert not grown, f"ops that grew: {grown}"
    assert sum(after.values()) <= sum(before.values())
