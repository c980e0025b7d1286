"""Smart reshape (irforge/transforms/smart_reshape.py): a hard-coded 2-D Reshape before a MatMul is relaxed to
[-1, K] so the model takes new batch sizes, as OpenVINO's Model.reshape does; the relaxed model computes what the
original did, and the reshaped one what a batch of single runs gives (checked against OpenVINO too)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import irforge
from irforge.errors import GraphError
from irforge.transforms.smart_reshape import relax_reshapes_before_matmul


def _caffe2_style(trans_b: int, seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> Reshape to a hard-coded [1, C*H*W] -> Gemm, as caffe2's exports (alexnet, vgg) flatten."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((10, 4 * 8 * 8) if trans_b else (4 * 8 * 8, 10)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(fc, "fc"),
             numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([1, 4 * 8 * 8], np.int64), "flat")]
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["r"]),
             h.make_node("Reshape", ["r", "flat"], ["f"]), h.make_node("Gemm", ["f", "fc", "b"], ["y"], transB=trans_b)]
    graph = h.make_graph(nodes, "caffe2_style", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 10])], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 9)])


def _run(model: irforge.Model, x: np.ndarray) -> np.ndarray:
    return irforge.compile_model(model, "REF")([x])[0]


@pytest.mark.parametrize("trans_b", [0, 1])
def test_relaxed_target_computes_the_same(trans_b: int) -> None:
    model = irforge.convert_model(_caffe2_style(trans_b))
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    before = _run(model, x)
    assert relax_reshapes_before_matmul(model) == 1
    reshape = next(n for n in model.nodes() if n.type == "Reshape")
    assert reshape.input_value(1).tolist() == [-1, 256]
    np.testing.assert_array_equal(_run(model, x), before)
    assert relax_reshapes_before_matmul(model) == 0  # already relaxed


@pytest.mark.parametrize("trans_b", [0, 1])
def test_reshape_to_a_new_batch_matches_single_runs_and_openvino(trans_b: int) -> None:
    source = _caffe2_style(trans_b)
    model = irforge.convert_model(source)
    xs = np.random.default_rng(2).standard_normal((3, 3, 8, 8)).astype(np.float32)
    singles = np.concatenate([_run(model, x[None]) for x in xs])
    model.reshape([3, 3, 8, 8])
    np.testing.assert_allclose(_run(model, xs), singles, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(irforge.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(xs)[0],
                               singles, rtol=1e-4, atol=1e-4)
    ov = pytest.importorskip("openvino")
    ov_model = ov.Core().read_model(source.SerializeToString())
    ov_model.reshape([3, 3, 8, 8])
    np.testing.assert_allclose(ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(xs)[0],
                               singles, rtol=1e-4, atol=1e-4)


def test_a_reshape_that_fails_leaves_the_model_as_it_was() -> None:
    model = irforge.convert_model(_caffe2_style(1))
    with pytest.raises(GraphError, match="after reshaping"):
        model.reshape([1, 3, 9, 8])  # 4*9*8 features do not fit the 256-wide FC weight
    assert model.input(0).get_partial_shape() == [1, 3, 8, 8]
    assert model.output(0).get_partial_shape() == [1, 10]
    x = np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)
    assert _run(model, x).shape == (1, 10)
