"""ONNX Trilu (Select over a Range-built triangle mask) with dynamic shapes and a runtime k: REF, CPU and OpenVINO on
irforge's IR equal ONNX Runtime (the node cases in tests/conformance check REF on static shapes)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import irforge
from tests.models.harness import run_openvino_xml
from tests.util import assert_close, run_ort, run_ref


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 3])
@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 3), (1, 2, 3, 3)])
def test_trilu_dynamic_shapes_runtime_k(upper: int, k: int, shape: tuple[int, ...]) -> None:
    dims = [f"d{i}" for i in range(len(shape))]
    node = helper.make_node("Trilu", ["x", "k"], ["y"], upper=upper)
    graph = helper.make_graph([node], "trilu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims),
                                                helper.make_tensor_value_info("k", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    feeds = {"x": np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32),
             "k": np.array(k, np.int64)}
    want = run_ort(proto, feeds)
    model = irforge.convert_model(proto)
    inputs = list(feeds.values())
    assert_close(run_ref(model, inputs), want, rtol=0, atol=0)
    cpu = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert_close(cpu(inputs).values_list(), want, rtol=0, atol=0)
    with tempfile.TemporaryDirectory() as d:
        xml = Path(d) / "m.xml"
        irforge.save_model(model, xml, compress_to_fp16=False)
        assert_close(run_openvino_xml(xml, inputs), want, rtol=0, atol=0)
