"""TransposeFusion: consecutive Transposes become one, or vanish when they cancel."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import irforge
from irforge.transforms.base import PassManager
from irforge.transforms.transpose_fusion import TransposeFusion
from tests.util import assert_close, run_openvino, run_ort, run_ref

X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)


def _model(perms: list[list[int]], extra_output: bool = False):  # type: ignore[no-untyped-def]
    nodes, name = [], "x"
    for i, perm in enumerate(perms):
        nodes.append(helper.make_node("Transpose", [name], [f"t{i}"], perm=perm))
        name = f"t{i}"
    nodes.append(helper.make_node("Relu", [name], ["y"]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_output:
        outs.append(helper.make_tensor_value_info("t0", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape)], outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize(("perms", "left"), [
    ([[0, 2, 1, 3], [0, 1, 3, 2]], 1),
    ([[0, 2, 3, 1], [0, 3, 1, 2]], 0),  # NHWC -> NCHW round trip cancels
    ([[3, 2, 1, 0], [1, 0, 3, 2], [0, 2, 1, 3]], 1),
])
def test_transposes_merge(perms: list[list[int]], left: int) -> None:
    proto = _model(perms)
    model = irforge.convert_model(proto, optimize=False)
    PassManager([TransposeFusion()], validate=True).run(model)
    assert model.histogram().get("Transpose", 0) == left
    want = run_ort(proto, {"x": X})
    assert_close(run_ref(model, [X]), want, atol=0, what="REF")
    assert_close(run_openvino(model, [X]), want, atol=0, what="OpenVINO")


def test_inner_transpose_used_elsewhere_stays() -> None:
    proto = _model([[0, 2, 1, 3], [0, 1, 3, 2]], extra_output=True)
    model = irforge.convert_model(proto, optimize=False)
    p = TransposeFusion()
    PassManager([p], validate=True).run(model)
    assert p.count == 0 and model.histogram()["Transpose"] == 2
