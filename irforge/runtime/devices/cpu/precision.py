"""bf16 helpers. With INFERENCE_PRECISION_HINT=bf16 the compute ops (convolutions, matrix products) take bf16
weights (converted once at compile time) and bf16 activations. Where torch's oneDNN has bf16 kernels they run
in bf16. On CPUs without them (AVX2 only) the hint falls back to f32 (config.py), unless IRFORGE_CPU_BF16=emulate:
then bf16 is emulated, weights and activation inputs rounded to bf16 values and the f32 kernels computing on them
(bf16 numerics, f32 speed or less). Activations between compute ops stay f32.
Nodes marked `precise` in rt_info (OpenVINO's DisableFP16Compression; irforge's accuracy-aware quantization marks
the layers it reverts to f32 so) stay f32 under the bf16 hint: their step is built with an f32 configuration."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from irforge.ir.graph import Node
    from irforge.runtime.devices.cpu.config import CPUConfig

PRECISE_MARKS = ("precise", "disable_fp16_compression")  # rt_info names (OpenVINO 2024+, older IRs)


def round_bf16(arr: np.ndarray) -> np.ndarray:
    """f32 values rounded to the nearest bf16 (ties to even), kept as f32."""
    import ml_dtypes  # imported where bf16 is used (it costs import time)

    return np.asarray(arr, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def round_bf16_tensor(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).to(torch.float32)


def is_precise(node: "Node") -> bool:
    return any(name.startswith(PRECISE_MARKS) for name in node.rt_info)


def config_for(config: "CPUConfig", nodes: Sequence["Node"]) -> "CPUConfig":
    """The configuration a step computing `nodes` is built with: f32 when the hint is bf16 and one of them is
    marked precise."""
    if config.bf16 and any(is_precise(n) for n in nodes):
        return dataclasses.replace(config, precision="f32")
    return config
