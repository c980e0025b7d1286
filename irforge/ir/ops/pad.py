"""Pad: extend (or, from opset12, crop) a tensor on its edges with a constant, edge, reflect or symmetric rule."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype
from irforge.ir.shape import Dimension, PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node

PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def source_indices(out_len: int, pad_begin: int, size: int, mode: str) -> np.ndarray:
    """For each output position along one axis, the input position it copies (constant mode: clipped; the
    caller overwrites the positions outside [0, size))."""
    idx = np.arange(out_len, dtype=np.int64) - pad_begin
    if mode in ("constant", "edge") or size == 1:
        return np.clip(idx, 0, size - 1)
    if mode == "reflect":  # edges not repeated: period 2(n-1)
        period = 2 * (size - 1)
        i = np.abs(idx) % period
        return np.where(i >= size, period - i, i)
    period = 2 * size  # symmetric: edges repeated
    i = idx % period
    return np.where(i >= size, period - 1 - i, i)


def pad_array(x: np.ndarray, pads_begin: list[int], pads_end: list[int], mode: str, value: object) -> np.ndarray:
    """NumPy Pad with OpenVINO semantics: negative pads crop; reflect/symmetric mirror the original data."""
    out = x
    for axis, (pb, pe) in enumerate(zip(pads_begin, pads_end)):
        n = x.shape[axis]
        out_len = max(pb + n + pe, 0)
        if pb == 0 and pe == 0:
            continue
        if n == 0:
            if mode != "constant" and out_len:
                raise GraphError(f"Pad: mode '{mode}' cannot pad the empty axis {axis}")
            shape = list(out.shape)
            shape[axis] = out_len
            out = np.full(shape, value, dtype=x.dtype)
            continue
        out = np.take(out, source_indices(out_len, pb, n, mode), axis=axis)
        if mode == "constant":
            pos = np.arange(out_len) - pb
            outside = (pos < 0) | (pos >= n)
            if outside.any():
                index = [slice(None)] * out.ndim
                index[axis] = outside
                out[tuple(index)] = value
    return out


class _PadBase(OpSpec):
    attrs = (Attr("pad_mode", "str", choices=PAD_MODES),)
    min_inputs = 3
    max_inputs = 4
    allow_negative: ClassVar[bool] = True

    def _pads(self, node: "Node", index: int) -> list[int] | None:
        v = node.input_value(index)
        return None if v is None else [int(p) for p in np.asarray(v).reshape(-1)]

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        data = node.inputs[0]
        for i in (1, 2):
            et = node.inputs[i].element_type
            if not et.is_dynamic and not et.is_integral:
                raise GraphError(f"node '{node.name}' (Pad): pads must be integers, got {et}")
        rank = data.shape.rank if data.shape.rank_is_static else None
        if rank is None:
            for i in (1, 2):
                s = node.inputs[i].shape
                if s.is_static and s.rank == 1:
                    rank = s.to_shape()[0]
        if rank is None:
            return [(data.element_type, PartialShape(None))]
        begin, end = self._pads(node, 1), self._pads(node, 2)
        for pads in (begin, end):
            if pads is not None and len(pads) != rank:
                raise GraphError(f"node '{node.name}' (Pad): {len(pads)} pads for a rank-{rank} input")
            if pads is not None and not self.allow_negative and min(pads, default=0) < 0:
                raise GraphError(f"node '{node.name}' (Pad-1): negative pads need Pad-12")
        in_dims = data.shape.dims if data.shape.rank_is_static else (Dimension(),) * rank
        if begin is None or end is None:
            return [(data.element_type, PartialShape.dynamic(rank))]
        dims = [Dimension.of(max(d.min + b + e, 0)) if d.is_static else Dimension()
                for d, b, e in zip(in_dims, begin, end)]
        return [(data.element_type, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        begin = [int(p) for p in np.asarray(inputs[1]).reshape(-1)]
        end = [int(p) for p in np.asarray(inputs[2]).reshape(-1)]
        mode = node.attrs["pad_mode"]
        if mode in ("reflect", "symmetric"):
            limit = 1 if mode == "reflect" else 0
            for axis, (pb, pe) in enumerate(zip(begin, end)):
                if max(pb, pe) > x.shape[axis] - limit:
                    raise GraphError(f"node '{node.name}' (Pad): {mode} pads {pb}, {pe} too large for axis {axis} "
                                     f"of size {x.shape[axis]}")
        if len(inputs) > 3:
            value = np.asarray(inputs[3]).reshape(()).astype(x.dtype)
        else:
            value = np.array("" if x.dtype == object else 0, dtype=x.dtype)
        return [as_dtype(pad_array(x, begin, end, mode, value), node.outputs[0].element_type)]


@register
class Pad(_PadBase):
    """Pad-12: pads may be negative (crop)."""

    type_name = "Pad"
    version = "opset12"


@register
class Pad1(_PadBase):
    """Pad-1, for reading older IR: pads must be non-negative."""

    type_name = "Pad"
    version = "opset1"
    allow_negative = False
