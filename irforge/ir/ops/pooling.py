"""Pooling: MaxPool (opset1, opset8 with indices, opset14 with ceil_torch) and AvgPool (opset1, opset14,
opset16 with dilations).

Output sizes follow OpenVINO's pooling shape rules: the rounding applies after padding (also for
auto_pad=valid), `ceil` may let the last window start in the end padding, `ceil_torch` may not. Windows that
reach past the padded input only see padding. The kernels loop over kernel offsets, never over pixels.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, from_compute, normalize_axis, to_compute
from irforge.ir.ops.convolution import (
    AUTO_PAD,
    check_spatial_attrs,
    dilated,
    explicit_pads,
    fill_per_axis,
    ints_or,
    pad_spatial,
    resolve_pads,
)
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node

ROUNDING = Attr("rounding_type", "str", "floor", ("floor", "ceil"))
ROUNDING_TORCH = Attr("rounding_type", "str", "floor", ("floor", "ceil", "ceil_torch"))


def pool_out_size(size: int, kernel_dilated: int, stride: int, pad_begin: int, pad_end: int, rounding: str) -> int:
    """One spatial output size under OpenVINO's rules (explicit pads already resolved)."""
    span = size + pad_begin + pad_end - kernel_dilated
    if rounding == "floor":
        return span // stride + 1
    out = -(-span // stride) + 1
    if rounding == "ceil_torch" and (out - 1) * stride >= size + pad_begin:
        out -= 1  # the last window would start in the end padding
    return out


class _Window:
    """The sliding-window geometry of one pooling node on a concrete input: per spatial axis the pads, the output
    size and, for each kernel offset, the input coordinates the outputs read."""

    def __init__(self, node: "Node", shape: Sequence[int]) -> None:
        a = node.attrs
        sizes = list(shape[2:])
        nsp = len(sizes)
        self.kernel = list(a["kernel"])
        self.strides = list(a["strides"])
        self.dilations = ints_or(a.get("dilations"), 1, nsp)
        kd = [dilated(k, d) for k, d in zip(self.kernel, self.dilations)]
        self.pads_begin, pads_end = resolve_pads(sizes, kd, self.strides, a["auto_pad"], *explicit_pads(node, nsp))
        self.out = [pool_out_size(x, k, s, b, e, a["rounding_type"])
                    for x, k, s, b, e in zip(sizes, kd, self.strides, self.pads_begin, pads_end)]
        if min(self.out, default=1) < 1:
            raise ValueError(f"kernel {self.kernel} does not fit the padded input {sizes}")
        self.pads_end = pads_end
        # the end padding the kernels apply: far enough for every window (ceil rounding may reach past the pads)
        self.reach_end = [max(e, (o - 1) * s + k - x - b)
                          for x, k, s, b, e, o in zip(sizes, kd, self.strides, self.pads_begin, pads_end, self.out)]
        self.sizes = sizes

    def offsets(self) -> list[tuple[int, ...]]:
        return list(np.ndindex(*self.kernel))

    def window(self, k: tuple[int, ...]) -> tuple[slice, ...]:
        """Slices of the padded input that kernel offset `k` reads for all outputs."""
        steps = zip(k, self.dilations, self.out, self.strides)
        return (slice(None), slice(None)) + tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s) for ki, d, o, s in steps)

    def coords(self, axis: int, k: int) -> np.ndarray:
        """Unpadded input coordinates along spatial `axis` read at kernel offset `k` (may be out of range)."""
        return np.arange(self.out[axis]) * self.strides[axis] + k * self.dilations[axis] - self.pads_begin[axis]

    def valid(self, k: tuple[int, ...]) -> np.ndarray:
        """Boolean [*out]: which outputs read a real (non-padding) element at kernel offset `k`."""
        mask = np.ones((), dtype=bool)
        for i, ki in enumerate(k):
            c = self.coords(i, ki)
            mask = np.multiply.outer(mask, (c >= 0) & (c < self.sizes[i]))
        return mask


class _PoolBase(OpSpec):
    min_inputs = 1
    max_inputs = 1

    def out_shape(self, node: "Node") -> PartialShape:
        data = node.inputs[0].shape
        a = node.attrs
        nsp = len(a["kernel"])
        check_spatial_attrs(node, nsp, ("strides", "dilations", "pads_begin", "pads_end"))
        if any(at.name == "dilations" for at in self.attrs):
            fill_per_axis(node, "dilations", 1, nsp)
        if not data.rank_is_static:
            return PartialShape.dynamic(nsp + 2)
        if nsp < 1 or data.rank != nsp + 2:
            raise GraphError(f"node '{node.name}' ({node.type}): kernel {a['kernel']} does not match input {data}")
        dil = ints_or(a.get("dilations"), 1, nsp)
        pads_begin, pads_end = explicit_pads(node, nsp)
        dims = list(data.dims[:2])
        for i, x in enumerate(data.dims[2:]):
            if not x.is_static:
                dims.append(Dimension())
                continue
            kd = dilated(a["kernel"][i], dil[i])
            s = a["strides"][i]
            (pb,), (pe,) = resolve_pads([x.min], [kd], [s], a["auto_pad"], pads_begin[i:i + 1], pads_end[i:i + 1])
            o = pool_out_size(x.min, kd, s, pb, pe, a["rounding_type"])
            if o < 1 or kd > x.min + pb + pe:
                raise GraphError(f"node '{node.name}' ({node.type}): kernel does not fit the padded input on "
                                 f"spatial axis {i}")
            dims.append(Dimension.of(o))
        return PartialShape(dims)


# ---------------------------------------------------------------- MaxPool
def max_pool(x: np.ndarray, win: _Window, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window and the index of its first maximum in the input flattened from `axis` on. As in
    OpenVINO's reference, the search starts from the lowest finite value with index 0 (so a window that reads
    only padding yields that value)."""
    n, c = x.shape[:2]
    sp_strides = [int(np.prod(win.sizes[i + 1:])) for i in range(len(win.sizes))]
    spatial_size = int(np.prod(win.sizes))
    xp = pad_spatial(x, win.pads_begin, win.reach_end, 0)
    lowest = _finfo(x.dtype).min if x.dtype.kind in "fV" else np.iinfo(x.dtype).min  # V: bf16, f8
    best = np.full((n, c, *win.out), lowest, dtype=x.dtype)
    index = np.zeros((n, c, *win.out), dtype=np.int64)
    for k in win.offsets():
        vals = xp[win.window(k)]
        flat = np.zeros((), dtype=np.int64)
        for i, ki in enumerate(k):
            flat = np.add.outer(flat, win.coords(i, ki) * sp_strides[i])
        better = win.valid(k) & (vals > best)
        best = np.where(better, vals, best)
        index = np.where(better, flat, index)
    lead = [n, c][axis:] if axis < 2 else []
    if lead:  # offsets of the batch/channel planes the index counts
        plane = np.arange(int(np.prod(lead))).reshape([1] * (2 - len(lead)) + lead + [1] * len(win.sizes))
        index = index + plane * spatial_size
    return best, index


class _MaxPoolBase(_PoolBase):
    with_indices: ClassVar[bool] = True

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = node.inputs[0].element_type
        shape = self.out_shape(node)
        if not self.with_indices:
            return [(et, shape)]
        idx_type = node.attrs["index_element_type"]
        if idx_type not in (Type.i32, Type.i64):
            raise GraphError(f"node '{node.name}' ({node.type}): index_element_type must be i32 or i64")
        if node.inputs[0].shape.rank_is_static:
            normalize_axis(node.attrs["axis"], node.inputs[0].shape.rank, node)
        return [(et, shape), (idx_type, shape)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        et = node.outputs[0].element_type
        axis = normalize_axis(node.attrs["axis"], x.ndim, node) if self.with_indices else 0
        as_f32 = et.name == "bf16" or x.dtype.kind not in "biuf"  # bf16/f8 values: compare as f32
        values, index = max_pool(to_compute(x, et) if as_f32 else x, _Window(node, x.shape), axis)
        if as_f32:
            values = from_compute(values, et)
        if not self.with_indices:
            return [values]
        return [values, index.astype(node.outputs[1].element_type.dtype)]


@register
class MaxPool(_MaxPoolBase):
    """MaxPool-1: no dilations, no indices output."""

    type_name = "MaxPool"
    version = "opset1"
    attrs = (Attr("strides", "ints"), Attr("pads_begin", "ints"), Attr("pads_end", "ints"), Attr("kernel", "ints"),
             ROUNDING, AUTO_PAD)
    with_indices = False


_MAXPOOL8_ATTRS = (Attr("strides", "ints"), Attr("dilations", "ints", None), Attr("pads_begin", "ints"),
                   Attr("pads_end", "ints"), Attr("kernel", "ints"), ROUNDING, AUTO_PAD,
                   Attr("index_element_type", "type", Type.i64), Attr("axis", "int", 0))


@register
class MaxPool8(_MaxPoolBase):
    """MaxPool-8: dilations and a second output with the flat index (from dimension `axis` on) of each max."""

    type_name = "MaxPool"
    version = "opset8"
    attrs = _MAXPOOL8_ATTRS


@register
class MaxPool14(_MaxPoolBase):
    """MaxPool-14: MaxPool-8 plus rounding_type=ceil_torch."""

    type_name = "MaxPool"
    version = "opset14"
    attrs = tuple(ROUNDING_TORCH if a.name == "rounding_type" else a for a in _MAXPOOL8_ATTRS)


# ---------------------------------------------------------------- AvgPool
class _AvgPoolBase(_PoolBase):
    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return [(node.inputs[0].element_type, self.out_shape(node))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Sum of the real elements of each window over a count: the real elements when exclude-pad is set or
        no padding is present, else the whole kernel (OpenVINO's reference: pads and the area past them count)."""
        x = inputs[0]
        et = node.outputs[0].element_type
        win = _Window(node, x.shape)
        xc = to_compute(x, et)
        xp = pad_spatial(xc, win.pads_begin, win.reach_end, 0)
        total = np.zeros(x.shape[:2] + tuple(win.out), dtype=np.result_type(xc, np.float32))
        count = np.zeros(tuple(win.out), dtype=np.int64)
        for k in win.offsets():
            total += xp[win.window(k)]
            count += win.valid(k)
        if not node.attrs["exclude-pad"] and (any(win.pads_begin) or any(win.pads_end)):
            count = np.full_like(count, int(np.prod(win.kernel)))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(count > 0, total / np.maximum(count, 1), 0)
        if et.is_integral:
            out = np.rint(out) if et.name in ("i8", "u8") else np.trunc(out)
        return [from_compute(out, et)]


_AVGPOOL1_ATTRS = (Attr("kernel", "ints"), Attr("strides", "ints"), Attr("pads_begin", "ints"),
                   Attr("pads_end", "ints"), Attr("exclude-pad", "bool"), AUTO_PAD, ROUNDING)
_AVGPOOL14_ATTRS = _AVGPOOL1_ATTRS[:-1] + (ROUNDING_TORCH,)


@register
class AvgPool(_AvgPoolBase):
    type_name = "AvgPool"
    version = "opset1"
    attrs = _AVGPOOL1_ATTRS


@register
class AvgPool14(_AvgPoolBase):
    """AvgPool-14: AvgPool-1 plus rounding_type=ceil_torch."""

    type_name = "AvgPool"
    version = "opset14"
    attrs = _AVGPOOL14_ATTRS


@register
class AvgPool16(_AvgPoolBase):
    """AvgPool-16: AvgPool-14 plus dilations."""

    type_name = "AvgPool"
    version = "opset16"
    attrs = _AVGPOOL14_ATTRS + (Attr("dilations", "ints", None),)


def _finfo(dtype: np.dtype) -> object:
    """NumPy's finfo for its own floats, ml_dtypes' for bf16 and f8 (imported only then: it costs ~1 s)."""
    if dtype in (np.float16, np.float32, np.float64):
        return np.finfo(dtype)
    import ml_dtypes

    return ml_dtypes.finfo(dtype)
