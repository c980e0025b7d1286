"""Weights: symmetric, per output channel, narrow range (levels 255: -127..127; with the overflow fix 7 bits,
-63..63), stored as OpenVINO/NNCF write them: an i8 Const -> Convert(f32) -> Multiply(per-channel scale) feeding
the layer in place of its floating-point weights (a plain Constant or an f16 Constant -> Convert decompression)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from irforge.ir.graph import Node, Output, constant, make
from irforge.ir.types import Type


@dataclass
class QuantizedWeight:
    q: np.ndarray  # int8 values
    scale: np.ndarray  # float32, broadcastable to q (1 on the reduced axes)
    levels: int

    def dequantized(self) -> np.ndarray:
        return self.q.astype(np.float32) * self.scale


def quantize_weight(w: np.ndarray, axes: tuple[int, ...], half_range: bool = False) -> QuantizedWeight:
    """Per-channel symmetric narrow-range quantization of `w`; `axes` are the kept (channel) axes."""
    w32 = np.asarray(w, np.float32)
    reduce = tuple(a for a in range(w32.ndim) if a not in axes)
    absmax = np.abs(w32).max(axis=reduce, keepdims=True) if w32.ndim else np.abs(w32)
    qmax = 63 if half_range else 127
    scale = (absmax / qmax).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)  # an all-zero channel stays zero
    q = np.clip(np.round(w32 / scale), -qmax, qmax).astype(np.int8)
    return QuantizedWeight(q, scale, 2 * qmax + 1)


def insert_weight_chain(node: Node, index: int, qw: QuantizedWeight) -> Output:
    """Feed input `index` of `node` from i8 Const -> Convert -> Multiply(scale); returns the Multiply output."""
    et = node.inputs[index].element_type
    base = f"{node.name}/fq_weights_{index}"
    q = constant(qw.q, name=f"{base}/quantized")
    conv = make("Convert", [q], name=f"{base}/convert", destination_type=et)
    scale = constant(qw.scale.astype(et.dtype if et.dtype is not None else np.float32), name=f"{base}/scale")
    mul = make("Multiply", [conv.output(0), scale], name=base)
    node.set_input(index, mul.output(0))
    return mul.output(0)


def compress_weight_f16(node: Node, index: int, value: np.ndarray) -> Output:
    """Feed input `index` of `node` from an f16 Const -> Convert decompression (as `compress_to_fp16` writes)."""
    et = node.inputs[index].element_type
    base = f"{node.name}/weights_{index}"
    with np.errstate(over="ignore"):
        half = constant(np.asarray(value).astype(np.float16), name=f"{base}_compressed")
    conv = make("Convert", [half], name=base, destination_type=et if et.is_float else Type.f32)
    conv.rt_info["decompression"] = {"version": "0"}
    node.set_input(index, conv.output(0))
    return conv.output(0)
