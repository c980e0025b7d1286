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
* float -> float on a per-tensor grid (`grid_fake_quantize`): clamp(round(x * (1 / scale)), -zp, 255 - zp) * scale,
  four in-place element-wise passes (1x72x56x56 channels-last: 0.13 ms, where quantize + dequantize take 0.45 ms
  and torch.fake_quantize_per_tensor_affine longer still); traced (`grid_fake_quantize_traced`), the same ops
  become post-ops of the oneDNN Graph partition before them (round included), where quantize_per_tensor +
  dequantize stay two ATen calls between partitions; per-channel grids: five vectorized passes
  (lowerings/quantized.py);
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


def _grid_constants(grid: Grid) -> tuple[float, float, float, float]:
    """(1 / scale as float32, lowest and highest level relative to the zero point, scale) for the formula."""
    inv = float(np.float32(1.0 / grid.scale))
    return inv, float(-grid.zero_point), float(255 - grid.zero_point), grid.scale


def grid_fake_quantize(grid: Grid) -> tuple[Any, Any]:
    """(eager, traced) functions of float32 x: x fake-quantized on `grid` (256 levels), the same float32 arithmetic
    in both (mul, round half to even, clamp, mul), so a traced segment and the eager step give the same bits."""
    inv, lo, hi, scale = _grid_constants(grid)

    def eager(x: torch.Tensor) -> torch.Tensor:
        return x.mul(inv).round_().clamp_(lo, hi).mul_(scale)

    # one-element tensors, not Python scalars: traced, a scalar operand becomes aten::as_tensor + unsqueeze nodes
    # that the TorchScript interpreter runs outside the partition on every call (~2 x 59 on MobileNetV3)
    inv_t = torch.full((1,), inv, dtype=torch.float32)
    scale_t = torch.full((1,), scale, dtype=torch.float32)

    def traced(x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.round(x * inv_t), lo, hi) * scale_t
    return eager, traced


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
