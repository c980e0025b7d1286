"""ReverseInputChannelsFusion on the example model converted with --reverse-input-channels."""
from pathlib import Path

import numpy as np

from irforge.frontends.onnx import convert_model as translate
from irforge.mo.preprocess import InputPrep, apply_normalization
from irforge.transforms.base import PassManager
from irforge.transforms.reverse_channels import ReverseInputChannelsFusion
from tests.util import run_openvino, run_ort, run_ref

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mobilenet_v2_tiny.onnx"


def test_reversal_folds_into_first_conv() -> None:
    model = translate(EXAMPLE)
    apply_normalization(model, InputPrep(reverse_channels=True))
    assert model.histogram()["Gather"] == 1
    report = PassManager([ReverseInputChannelsFusion()], validate=True).run(model)
    assert report.records[0].count == 1 and "Gather" not in model.histogram()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    want = run_ort(EXAMPLE, {"image": np.ascontiguousarray(x[:, ::-1])})[0]
    np.testing.assert_allclose(run_ref(model, [x])[0], want, atol=1e-4)
    np.testing.assert_allclose(run_openvino(model, [x])[0], want, atol=1e-4)


def test_non_permutation_gather_is_kept() -> None:
    model = translate(EXAMPLE)
    apply_normalization(model, InputPrep(reverse_channels=True))
    gather = next(n for n in model.ops() if n.type == "Gather")
    gather.inputs[1].node.data = np.array([0, 0, 1], np.int64)  # duplicates a channel: not a permutation
    PassManager([ReverseInputChannelsFusion()], validate=True).run(model)
    assert model.histogram()["Gather"] == 1
