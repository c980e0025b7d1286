"""bf16 helpers. With INFERENCE_PRECISION_HINT=bf16 the compute ops (convolutions, matrix products) take bf16
weights (converted once at compile time) and bf16 activations. Where torch's oneDNN has bf16 kernels they run
in bf16; elsewhere (AVX2 machines) bf16 is emulated: weights and activation inputs are rounded to bf16 values and
the f32 kernels compute on them (bf16 numerics, f32 speed). Activations between compute ops stay f32."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import torch


def round_bf16(arr: np.ndarray) -> np.ndarray:
    """f32 values rounded to the nearest bf16 (ties to even), kept as f32."""
    return np.asarray(arr, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def round_bf16_tensor(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).to(torch.float32)
