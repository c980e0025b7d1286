"""INT8 values at run time and the element-wise kernels around them.

A value the INT8 plan carries in 8 bits (quant_patterns.py) lives in its slot as the FakeQuantize's integer codes:
a plain torch uint8 tensor (channels-last where a convolution wrote it) whose meaning, `value = (code -
zero_point) * scale`, is a plan-time constant (`Grid`). Signed (i8-like) ranges are u8 codes with zero point 128:
torch's oneDNN INT8 convolution takes u8 sources only. torch's quantized kernels (max pooling, add, mul) want
quantized tensors; `wrap` and `unwrap` convert without copying (torch's own `_make_per_tensor_quantized_tensor`
copies, `int_repr` copies and is slow on channels-last data: 0.7 ms for 56x56x256).

FakeQuantize kernels (measured on 1x16x112x112, 1 thread):
* `quantize`: float -> codes (entering an INT8 region), torch's vectorized quantize_per_tensor (~90 us): code =
  clamp(nearbyint(x * (1 / scale)) + zero_point). It equals the reference formula round((x - il) * 255 / (ih - il))
  except for values within f32 rounding of a tie between two levels (one code apart);
* float -> float on a per-tensor grid: `quantize` then `dequantize` (torch.fake_quantize_per_tensor_affine takes
  1.9 ms here); per-channel grids: five vectorized element-wise passes (lowerings/quantized.py);
* `fake_quantize_exact`: any ranges and levels, the specification's formula computed as the reference kernel
  computes it (float64, multiplications first, round half to even), so it gives the reference's bits."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# torch 2.13 flags quantized tensors as deprecated (pytorch#184982) on first use; the oneDNN INT8 convolution and
# linear kernels take plain uint8 tensors, only the element-wise kernels here go through quantized tensors
warnings.filterwarnings("ignore", message="torch.quantize_per_tensor, torch.quantize_per_channel", category=UserWarning)


@dataclass(frozen=True)
class Grid:
    """The real value of an 8-bit code: (code - zero_point) * scale."""

    scale: float
    zero_point: int

    def same(self, other: "Grid") -> bool:
        return self.zero_point == other.zero_point and abs(self.scale - other.scale) <= 1e-7 * abs(self.scale)


def wrap(codes: torch.Tensor, grid: Grid) -> torch.Tensor:
    """A quint8 tensor over the memory of `codes` (no copy)."""
    q = torch._empty_affine_quantized([0], scale=grid.scale, zero_point=grid.zero_point, dtype=torch.quint8)
    q.set_(codes.untyped_storage(), codes.storage_offset(), codes.size(), codes.stride())
    return q


def unwrap(q: torch.Tensor) -> torch.Tensor:
    """The uint8 codes of a quint8 tensor (no copy)."""
    t = torch.empty(0, dtype=torch.uint8)
    t.set_(q.untyped_storage(), q.storage_offset(), q.size(), q.stride())
    return t


def quantize(x: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Codes of float `x` on `grid`, in x's memory format (oneDNN reorders a planar image's few channels faster
    than torch's channels-last copy: 0.3 ms for 3x224x224)."""
    if x.dtype != torch.float32:
        x = x.float()
    return unwrap(torch.quantize_per_tensor(x, grid.scale, grid.zero_point, torch.quint8))


def dequantize(codes: torch.Tensor, grid: Grid) -> torch.Tensor:
    return wrap(codes, grid).dequantize()


def fake_quantize_exact(x: torch.Tensor, il: Any, ih: Any, ol: Any, oh: Any, levels: int) -> torch.Tensor:
    """FakeQuantize of float `x` with ranges given as Python floats or float64 tensors broadcastable to x, exactly
    as the reference kernel (irforge.ir.ops.quantization.fake_quantize) computes it."""
    x64 = x.double()
    n = float(levels - 1)
    q = torch.round((x64 - il) * n / (ih - il))
    out = q * (oh - ol) / n + ol
    lo = min(il, ih) if isinstance(il, float) else torch.minimum(il, ih)
    hi = max(il, ih) if isinstance(il, float) else torch.maximum(il, ih)
    out = torch.where(x64 <= lo, ol, torch.where(x64 > hi, oh, out))
    return out.to(x.dtype)


def ranges_f64(values: list[np.ndarray], rank: int) -> list[Any]:
    """FakeQuantize range constants as Python floats (one element each) or float64 tensors of the data's rank."""
    if all(v.size == 1 for v in values):
        return [float(np.asarray(v, np.float64).reshape(-1)[0]) for v in values]
    out = []
    for v in values:
        arr = np.asarray(v, np.float64)
        arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
        out.append(torch.from_numpy(np.ascontiguousarray(arr)))
    return out
