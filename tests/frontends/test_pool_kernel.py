"""ONNX pooling with ceil_mode and a kernel larger than the padded input (Hugging Face EfficientNet's pooler,
AvgPool2d(1280, ceil_mode=True) on a 7x7 map): one window over the whole input, as ONNX Runtime and PyTorch compute
it; the IR clips the kernel so OpenVINO takes it too."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import irforge
from tests.models.harness import run_openvino_xml
from tests.util import assert_close, run_ort, run_ref


@pytest.mark.parametrize(("op", "count_include_pad"), [("AveragePool", 0), ("AveragePool", 1), ("MaxPool", None)])
@pytest.mark.parametrize("pads", [[0, 0, 0, 0], [1, 0, 1, 2]])
def test_kernel_larger_than_input(op: str, pads: list[int], count_include_pad: int | None) -> None:
    attrs = {"kernel_shape": [1280, 9], "strides": [1280, 9], "ceil_mode": 1, "pads": pads}
    if count_include_pad is not None:
        attrs["count_include_pad"] = count_include_pad
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 7, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 3, 7, 7)).astype(np.float32)}
    want = run_ort(proto, feeds)
    model = irforge.convert_model(proto)
    assert_close(run_ref(model, [feeds["x"]]), want)
    cpu = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert_close(cpu([feeds["x"]]).values_list(), want)
    with tempfile.TemporaryDirectory() as d:
        xml = Path(d) / "m.xml"
        irforge.save_model(model, xml, compress_to_fp16=False)
        assert_close(run_openvino_xml(xml, [feeds["x"]]), want)
