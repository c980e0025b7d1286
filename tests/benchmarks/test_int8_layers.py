"""The per-layer INT8 comparison of benchmarks/int8_runtime.py (`--layers`): minimum per step over profiles, kernel
kinds, matching by node name and what only one engine runs. Pure functions on made-up profiles (no timing)."""
from __future__ import annotations

from benchmarks.int8_runtime import fastest, kernel_kind, layer_report


def test_fastest_keeps_each_steps_minimum_and_drops_steps_that_did_not_run() -> None:
    a = [("conv1", "Convolution", "onednn_qconv+bias+relu+fq_I8", 3e-3), ("add", "Add", "torch_qadd+relu+fq_I8", 5e-4),
         ("skipped", "Reorder", "undef", 0.0)]
    b = [("conv1", "Convolution", "onednn_qconv+bias+relu+fq_I8", 2e-3), ("add", "Add", "torch_qadd+relu+fq_I8", 6e-4),
         ("skipped", "Reorder", "undef", 0.0)]
    got = fastest([a, b])
    assert [(v[0], v[3]) for v in got] == [("conv1", 2e-3), ("add", 5e-4)]


def test_kernel_kind_strips_precision_suffixes() -> None:
    assert kernel_kind(("c", "Convolution", "onednn_qconv+bias_I8_f32out", 1.0)) == "onednn_qconv+bias"
    assert kernel_kind(("c", "Convolution", "jit_avx2_1x1_I8", 1.0)) == "Convolution jit_avx2_1x1_I8"
    assert kernel_kind(("r", "Relu", "torch_relu_inplace", 1.0)) == "torch_relu_inplace"


def test_layer_report_matches_by_name_and_lists_unfused_steps() -> None:
    irf = [("conv1", "Convolution", "onednn_qconv+bias+relu+fq_I8", 3e-3),
           ("add", "Add", "torch_qadd+relu+fq_I8", 5e-4)]
    ov = [("conv1", "Convolution", "jit_avx2_I8", 2e-3), ("reorder", "Reorder", "jit_uni_I8", 1e-4)]
    text = "\n".join(layer_report(irf, ov))
    assert "irforge: 3.50 ms over 2 steps" in text
    assert "matched layers: 1, irforge 3.00 ms, OpenVINO 2.00 ms" in text
    assert "irforge only: 0.50 ms over 1 steps: torch_qadd+relu+fq 0.50" in text
    assert "OpenVINO only: 0.10 ms over 1 steps: Reorder jit_uni_I8 0.10" in text
