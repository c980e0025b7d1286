"""FoldConstantIf and If's body refinement on the torch exporter's conditional squeeze (`x.squeeze(d)` on a
dynamic dimension becomes `If(shape[d] == 1, Squeeze, Identity)`, branches of different ranks), nested in another
If as Silero VAD has it: with static input shapes every such If folds (the IR has no If and loads in OpenVINO);
with dynamic ones it stays and REF equals ONNX Runtime whichever branch runs."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import irforge
from irforge.ir.graph import Model
from tests.torch_export import export_onnx
from tests.models.harness import run_openvino_xml
from tests.util import assert_close, run_ort, run_ref


def _nested(x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
    return x.squeeze(1) * 2.0 if bool(flag) else x.squeeze(1) - 1.0


def _models() -> onnx.ModelProto:
    scripted = torch.jit.script(_nested)
    return export_onnx(scripted, [np.ones((3, 1, 4), np.float32), np.array(True)], opset=13,
                       input_names=["x", "flag"], dynamic_axes={"x": {0: "b", 1: "n"}})


def _ifs(model: Model) -> int:
    def count(m: Model) -> int:
        return sum(1 + sum(count(b) for b in n.bodies) if n.type == "If" else 0 for n in m.nodes())
    return count(model)


@pytest.fixture(scope="module")
def proto() -> onnx.ModelProto:
    p = _models()
    assert sum(n.op_type == "If" for n in p.graph.node) == 1
    return p


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("flag", [True, False])
def test_dynamic_shapes_keep_the_ifs_and_match_ort(proto: onnx.ModelProto, n: int, flag: bool) -> None:
    model = irforge.convert_model(proto)
    assert _ifs(model) >= 3  # the outer If and a conditional squeeze in each branch
    feeds = {"x": np.random.default_rng(n).standard_normal((2, n, 4)).astype(np.float32), "flag": np.array(flag)}
    assert_close(run_ref(model, list(feeds.values())), run_ort(proto, feeds))


@pytest.mark.parametrize("n", [1, 5])
def test_static_shapes_fold_the_nested_squeezes(proto: onnx.ModelProto, n: int) -> None:
    """The outer condition is a runtime input, so the outer If stays; the squeezes inside both of its branches
    fold (their bodies were refined with the static input shape), and the If's outputs get a static rank."""
    model = irforge.convert_model(proto, input=[("x", [2, n, 4]), ("flag", [])])
    assert _ifs(model) == 1
    out = model.outputs[0].partial_shape
    assert out.rank_is_static and out.rank == (2 if n == 1 else 3)
    feeds = {"x": np.random.default_rng(n).standard_normal((2, n, 4)).astype(np.float32)}
    for flag in (True, False):
        feeds["flag"] = np.array(flag)
        want = run_ort(proto, feeds)
        assert_close(run_ref(model, list(feeds.values())), want)
        with tempfile.TemporaryDirectory() as d:
            xml = Path(d) / "m.xml"
            irforge.save_model(model, xml, compress_to_fp16=False)
            assert_close(run_openvino_xml(xml, list(feeds.values())), want)  # raises if OpenVINO refuses it


def test_static_condition_inlines_the_branch() -> None:
    proto = export_onnx(lambda x: x.squeeze(1) * 2, [np.ones((3, 1, 4), np.float32)], opset=13, input_names=["x"],
                        dynamic_axes={"x": {0: "b", 1: "n"}})
    assert any(n.op_type == "If" for n in proto.graph.node)
    model = irforge.convert_model(proto, input=[("x", [3, 1, 4])])
    assert _ifs(model) == 0
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 1, 4)).astype(np.float32)}
    assert_close(run_ref(model, [feeds["x"]]), run_ort(proto, feeds))
