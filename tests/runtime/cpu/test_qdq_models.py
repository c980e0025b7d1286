"""Pre-quantized ONNX files (ONNX Runtime's quantize_static, tests/models/qdq.py) on the CPU device: outputs within
INT8 rounding of ONNX Runtime's on the same file, and every layer between quantized values running INT8.

Per model and format variant (QDQ per tensor / per channel, u8 / i8 activations; QOperator): cosine similarity of
each output with ONNX Runtime's >= 0.99, and the steps that leave INT8 counted from the profile: heavy steps
(Convolution, GroupConvolution, MatMul) that do not run an INT8 kernel, and float FakeQuantize steps. Layers of
every size run INT8 here (IRFORGE_CPU_INT8_MIN_MACS=0: the models are small; at the default threshold small
layers stay f32 by design, see quant_patterns.min_macs).

What remains, by model (the `CASES` ceilings; a layer's FakeQuantize, also one whose result is a model output,
runs inside the layer's INT8 kernel, and ResNet's residual Adds run in their convolution's sum post-op):
* bert: the two attention MatMuls per layer (Q K^T and P V, both inputs activations: the INT8 MatMul takes constant
  i8 weights), and the FakeQuantizes around LayerNorm, Softmax, Erf-GELU, the residual Adds, the bias Adds ORT
  quantizes apart from their MatMul (each MatMul's own FakeQuantize runs in its INT8 kernel) and the
  Reshape/Transpose heads (the float ops ORT's QDQ format brackets one by one);
* yolo: the FakeQuantizes around the detection head's float arithmetic (grid, exp, concat of unequal grids) and the
  CSP blocks' Slice/Concat of values on different grids.
"""
from __future__ import annotations

import numpy as np
import pytest

import irforge
from tests.models import qdq
from tests.runtime.cpu.helpers import cpu_config

HEAVY = ("Convolution", "GroupConvolution", "MatMul")
# (model, variant) -> ceiling of heavy steps not running INT8, and of float FakeQuantize steps (see the docstring)
CASES = {
    ("resnet", v): (0, 0) for v in qdq.VARIANTS
} | {
    ("mobilenetv3", v): (0, 0) for v in qdq.VARIANTS
} | {
    ("yolo", "qdq_pc_u8"): (0, 63), ("yolo", "qop_pc_u8"): (0, 56),
    ("bert", "qdq_pc_u8"): (4, 72), ("bert", "qop_pt_i8"): (4, 59),
}


@pytest.fixture(autouse=True)
def _every_layer_int8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRFORGE_CPU_INT8", "exact")
    monkeypatch.setenv("IRFORGE_CPU_INT8_MIN_MACS", "0")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64) + 1e-30))


def not_int8(perf: list) -> tuple[list[str], list[str]]:
    """(heavy steps without an INT8 kernel, float FakeQuantize steps), as 'name: exec type'."""
    heavy = [f"{p.node_name}: {p.exec_type}" for p in perf if p.node_type in HEAVY and "_I8" not in p.exec_type]
    fq = [f"{p.node_name}: {p.exec_type}" for p in perf if "fakequantize" in p.exec_type and "_I8" not in p.exec_type]
    return heavy, fq


@pytest.mark.parametrize("name,variant", sorted(CASES), ids=[f"{n}-{v}" for n, v in sorted(CASES)])
def test_quantized_model_runs_int8(name: str, variant: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = qdq.quantized(name, variant)
    inputs = qdq.MODELS[name].inputs(0)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)
    compiled = irforge.Core().compile_model(irforge.convert_model(str(path)), "CPU",
                                            cpu_config({"PERF_COUNT": "YES"}))
    request = compiled.create_infer_request()
    got = list(request.infer(list(inputs.values())).values_list())
    for g, e, out in zip(got, expected, qdq.MODELS[name].outputs):
        assert g.shape == e.shape, out
        assert cosine(g, e) >= 0.99, f"{out}: cosine {cosine(g, e):.4f} against ONNX Runtime"
    heavy, fq = not_int8(request.get_profiling_info())
    max_heavy, max_fq = CASES[(name, variant)]
    assert len(heavy) <= max_heavy, heavy
    assert len(fq) <= max_fq, fq
    if name == "resnet":  # every block's sum in its convolution (IRFORGE_CPU_INT8_SUM=fused, the default)
        kinds = [p.exec_type for p in request.get_profiling_info()]
        assert any("+sum" in k for k in kinds) and not any("qadd" in k for k in kinds), kinds
