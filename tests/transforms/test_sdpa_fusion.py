"""SDPAFusion on attention blocks exported from torch: the fused model holds one ScaledDotProductAttention per
block, and REF and OpenVINO (which runs our SDPA IR) give ONNX Runtime's outputs on the original graph."""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch

import irforge
from irforge.ir.graph import Model
from irforge.transforms.base import PassManager
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.sdpa_fusion import SDPAFusion
from irforge.transforms.transpose_fusion import TransposeFusion
from tests.torch_export import export_onnx
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(0)
B, H, L, S, E = 2, 3, 5, 7, 8
Q = RNG.standard_normal((B, H, L, E)).astype(np.float32)
K = RNG.standard_normal((B, H, S, E)).astype(np.float32)
V = RNG.standard_normal((B, H, S, E)).astype(np.float32)
MASK = np.where(RNG.random((B, 1, 1, S)) < 0.3, -1e9, 0.0).astype(np.float32)


def export(fn, args: tuple[np.ndarray, ...] = (Q, K, V, MASK), opset: int = 13) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    return export_onnx(fn, args, opset=opset, input_names=["q", "k", "v", "mask"][:len(args)])


def fuse(proto: onnx.ModelProto) -> tuple[Model, int]:
    model = irforge.convert_model(proto, optimize=False)
    fusion = SDPAFusion()
    PassManager([ConstantFolding(), fusion, TransposeFusion()], validate=True).run(model)
    return model, fusion.count


def check(proto: onnx.ModelProto, args: tuple[np.ndarray, ...] = (Q, K, V, MASK), fused: int = 1) -> Model:
    model, count = fuse(proto)
    assert count == fused
    assert model.histogram().get("ScaledDotProductAttention", 0) == fused
    if fused:
        assert "Softmax" not in model.histogram()
    feeds = [a for a, i in zip(args, ("q", "k", "v", "mask")) if i in {p.name for p in model.inputs}]
    want = run_ort(proto, {p.name: a for p, a in zip(model.inputs, feeds)})
    assert_close(run_ref(model, feeds), want, rtol=1e-5, atol=1e-5, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, feeds), want, rtol=1e-4, atol=1e-5, what="OpenVINO vs ONNX Runtime")
    return model


FUSED = {
    "divide_mask": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(E) + m, -1) @ v,
    "multiply_mask": lambda q, k, v, m: torch.softmax((q @ k.transpose(-1, -2)) * 0.3 + m, -1) @ v,
    "no_scale": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) + m, -1) @ v,
    "no_mask": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) * 0.3, -1) @ v,
    "mask_rank_2": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) * 0.3 + m[0, 0], -1) @ v,
    "k_pre_transposed": lambda q, k, v, m: torch.softmax(q @ k.permute(0, 1, 3, 2).contiguous() * 0.3 + m, 3) @ v,
}


@pytest.mark.parametrize("fn", FUSED.values(), ids=FUSED.keys())
def test_attention_fused(fn) -> None:  # type: ignore[no-untyped-def]
    model = check(export(fn))
    (sdpa,) = [n for n in model.ops() if n.type == "ScaledDotProductAttention"]
    assert sdpa.inputs[1].node.type == "Parameter"  # k^T's transpose was absorbed: k goes in directly
    assert "Transpose" not in model.histogram()


def test_attention_rank_3() -> None:
    q3, k3, v3 = Q[0], K[0], V[0]
    check(export(lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) * 0.3 + m, -1) @ v,
                 (q3, k3, v3, MASK[0])), (q3, k3, v3, MASK[0]))


def test_bert_attention_from_the_zoo() -> None:
    """The zoo's BERT-style encoder (HF-style attention with an extended mask) gets one SDPA per layer."""
    from tests.models import zoo

    proto = onnx.load(zoo.export("bert", 13))
    model, count = fuse(proto)
    assert count == 2
    inputs = zoo.MODELS["bert"].input_sets()[0]
    want = run_ort(proto, inputs)
    assert_close(run_ref(model, list(inputs.values())), want, rtol=1e-4, atol=1e-4, what="REF vs ORT")


NOT_FUSED = {
    "softmax_other_axis": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) * 0.3 + m, 2) @ v,
    "probs_also_output": lambda q, k, v, m: (torch.softmax(q @ k.transpose(-1, -2) * 0.3, -1) @ v,
                                             torch.softmax(q @ k.transpose(-1, -2) * 0.3, -1)),
    "scale_per_head": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) * torch.full((3, 1, 1), 0.3), -1) @ v,
    "mask_broadcasts_scores": lambda q, k, v, m: torch.softmax(q @ k.transpose(-1, -2) + m.unsqueeze(0), -1) @ v,
}


@pytest.mark.parametrize("fn", NOT_FUSED.values(), ids=NOT_FUSED.keys())
def test_attention_not_fused(fn) -> None:  # type: ignore[no-untyped-def]
    check(export(fn), fused=0)
