"""Convolutions: Convolution, GroupConvolution, ConvolutionBackpropData, GroupConvolutionBackpropData.

Also the spatial helpers the pooling ops share (auto_pad resolution, padding with negative pads, compute dtypes).
The kernels loop over kernel offsets only (9 steps for a 3x3 kernel), each step one batched matmul over every
pixel, so a ResNet-50-sized convolution evaluates in a fraction of a second.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, accumulate, as_dtype, from_compute, merged_type, to_compute
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import ElementType

if TYPE_CHECKING:
    from irforge.ir.graph import Node

AUTO_PAD = Attr("auto_pad", "str", "explicit", ("explicit", "same_upper", "same_lower", "valid"))


# ---------------------------------------------------------------- helpers shared with pooling
def dilated(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def same_pads(size: int, kernel_dilated: int, stride: int, auto_pad: str) -> tuple[int, int]:
    """(begin, end) padding that makes the output ceil(size / stride) long; the odd pixel goes to the end for
    same_upper and to the beginning for same_lower."""
    total = max(0, (-(-size // stride) - 1) * stride + kernel_dilated - size)
    small = total // 2
    return (small, total - small) if auto_pad == "same_upper" else (total - small, small)


def resolve_pads(sizes: Sequence[int], kernels_dilated: Sequence[int], strides: Sequence[int], auto_pad: str,
                 pads_begin: Sequence[int], pads_end: Sequence[int]) -> tuple[list[int], list[int]]:
    """The effective (pads_begin, pads_end) of a forward convolution/pooling for concrete spatial sizes."""
    if auto_pad == "valid":
        return [0] * len(sizes), [0] * len(sizes)
    if auto_pad in ("same_upper", "same_lower"):
        pairs = [same_pads(x, k, s, auto_pad) for x, k, s in zip(sizes, kernels_dilated, strides)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return list(pads_begin), list(pads_end)


def pad_spatial(x: np.ndarray, pads_begin: Sequence[int], pads_end: Sequence[int], value: object = 0) -> np.ndarray:
    """Pad the spatial axes (2..) of an N,C,... tensor with `value`; negative pads crop."""
    crop = tuple(slice(max(-b, 0), x.shape[2 + i] - max(-e, 0)) for i, (b, e) in enumerate(zip(pads_begin, pads_end)))
    x = x[(slice(None), slice(None)) + crop]
    widths = [(0, 0), (0, 0)] + [(max(b, 0), max(e, 0)) for b, e in zip(pads_begin, pads_end)]
    if any(b or e for b, e in widths):
        x = np.pad(x, widths, constant_values=value)  # type: ignore[call-overload]
    return x


def check_spatial_attrs(node: "Node", num_spatial: int, names: Sequence[str]) -> None:
    """Per-axis attributes must have one value per spatial axis (or none)."""
    for name in names:
        value = node.attrs.get(name)
        if value is not None and len(value) not in (0, num_spatial):
            raise GraphError(f"node '{node.name}' ({node.type}): attribute '{name}' has {len(value)} values, "
                             f"expected {num_spatial} (one per spatial axis)")


def fill_per_axis(node: "Node", name: str, value: int, num_spatial: int) -> None:
    """Give an optional per-axis attribute its default explicitly: OpenVINO's readers need it written."""
    if not node.attrs.get(name):
        node.attrs[name] = [value] * num_spatial


def explicit_pads(node: "Node", num_spatial: int) -> tuple[list[int], list[int]]:
    """The pads_begin/pads_end attributes (empty ones read as zeros)."""
    return ints_or(node.attrs["pads_begin"], 0, num_spatial), ints_or(node.attrs["pads_end"], 0, num_spatial)


def ints_or(values: Sequence[int] | None, default: int, n: int) -> list[int]:
    """An optional per-axis attribute: its values, or `default` repeated when absent/empty."""
    return list(values) if values else [default] * n



# ---------------------------------------------------------------- kernels
def conv_forward(x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
                 pads_begin: Sequence[int], pads_end: Sequence[int]) -> np.ndarray:
    """Grouped N-d convolution. x: (N, G*Cg, *S); w: (G, Og, Cg, *K); explicit pads. Returns (N, G*Og, *O)."""
    groups, og, cg = w.shape[:3]
    ksize = w.shape[3:]
    xp = pad_spatial(x, pads_begin, pads_end)
    out_sp = [(xp.shape[2 + i] - dilated(k, d)) // s + 1 for i, (k, s, d) in enumerate(zip(ksize, strides, dilations))]
    if min(out_sp, default=1) < 1:
        raise ValueError(f"kernel {list(ksize)} does not fit the padded input {list(xp.shape[2:])}")
    n = x.shape[0]
    xg = xp.reshape(n, groups, cg, *xp.shape[2:])
    acc = np.zeros((n, groups, og, int(np.prod(out_sp))), dtype=np.result_type(x, w))
    lead = (slice(None),) * 3
    for k in np.ndindex(*ksize):
        window = tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s) for ki, o, s, d in zip(k, out_sp, strides, dilations))
        patch = xg[lead + window].reshape(n, groups, cg, -1)
        wk = w[lead + k]  # (G, Og, Cg)
        if cg == 1:  # depthwise: an element-wise product is much faster than many 1x1 matmuls
            acc += wk[None] * patch
        else:
            acc += np.matmul(wk, patch)
    return acc.reshape(n, groups * og, *out_sp)


def conv_backprop(x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
                  pads_begin: Sequence[int], out_sp: Sequence[int]) -> np.ndarray:
    """Grouped N-d transposed convolution. x: (N, G*Cg, *X); w: (G, Cg, Og, *K). Output element y of each
    spatial axis is element y + pads_begin of the full (unpadded) result; positions outside it are zero."""
    groups, cg, og = w.shape[:3]
    ksize = w.shape[3:]
    n, in_sp = x.shape[0], x.shape[2:]
    full = [(xi - 1) * s + dilated(k, d) for xi, k, s, d in zip(in_sp, ksize, strides, dilations)]
    lo = [min(0, p) for p in pads_begin]
    hi = [max(f, p + o) for f, p, o in zip(full, pads_begin, out_sp)]
    buf = np.zeros((n, groups, og, *[h - l for h, l in zip(hi, lo)]), dtype=np.result_type(x, w))
    xg = x.reshape(n, groups, cg, -1)
    lead = (slice(None),) * 3
    for k in np.ndindex(*ksize):
        wk = np.swapaxes(w[lead + k], 1, 2)  # (G, Og, Cg)
        contrib = wk[None] * xg if cg == 1 else np.matmul(wk, xg)
        window = tuple(slice(ki * d - l, ki * d - l + (xi - 1) * s + 1, s)
                       for ki, d, l, xi, s in zip(k, dilations, lo, in_sp, strides))
        buf[lead + window] += contrib.reshape(n, groups, og, *in_sp)
    crop = tuple(slice(p - l, p - l + o) for p, l, o in zip(pads_begin, lo, out_sp))
    return buf[lead + crop].reshape(n, groups * og, *out_sp)


# ---------------------------------------------------------------- ops
class _ConvBase(OpSpec):
    """Shared inference. `grouped`: weights carry a leading groups axis. `backprop`: transposed convolution."""

    grouped: ClassVar[bool] = False
    backprop: ClassVar[bool] = False
    min_inputs = 2
    max_inputs = 2

    @property
    def weight_lead(self) -> int:
        return 3 if self.grouped else 2

    def grouped_weights(self, w: np.ndarray) -> np.ndarray:
        return w if self.grouped else w[None]

    def channels(self, w: PartialShape) -> tuple[Dimension, Dimension]:
        """(input channels, output channels) the weights imply."""
        if not w.rank_is_static:
            return Dimension(), Dimension()
        d = w.dims
        if self.grouped:
            return (d[0] * d[1], d[0] * d[2]) if self.backprop else (d[0] * d[2], d[0] * d[1])
        return (d[0], d[1]) if self.backprop else (d[1], d[0])

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = merged_type(node)
        data, w = node.inputs[0].shape, node.inputs[1].shape
        nsp = len(node.attrs["strides"])
        check_spatial_attrs(node, nsp, ("dilations", "pads_begin", "pads_end", "output_padding"))
        if self.backprop:
            fill_per_axis(node, "output_padding", 0, nsp)
        if nsp < 1 or (data.rank_is_static and data.rank != nsp + 2) or \
                (w.rank_is_static and w.rank != nsp + self.weight_lead):
            raise GraphError(f"node '{node.name}' ({node.type}): data {data} and weights {w} do not have "
                             f"{nsp} spatial axes (the length of strides)")
        in_c, out_c = self.channels(w)
        if data.rank_is_static and data[1].is_static and in_c.is_static and data[1].min != in_c.min:
            raise GraphError(f"node '{node.name}' ({node.type}): data has {data[1]} channels, weights expect {in_c}")
        batch = data[0] if data.rank_is_static else Dimension()
        in_sp = list(data.dims[2:]) if data.rank_is_static else [Dimension()] * nsp
        k_sp = list(w.dims[self.weight_lead:]) if w.rank_is_static else [Dimension()] * nsp
        return [(et, PartialShape([batch, out_c, *self.spatial(node, in_sp, k_sp)]))]

    def spatial(self, node: "Node", in_sp: list[Dimension], k_sp: list[Dimension]) -> list[Dimension]:
        a = node.attrs
        pads_begin, pads_end = explicit_pads(node, len(in_sp))
        out = []
        for i, (x, k) in enumerate(zip(in_sp, k_sp)):
            s = a["strides"][i]
            if a["auto_pad"] in ("same_upper", "same_lower") and x.is_static:
                out.append(Dimension.of(-(-x.min // s)))
            elif x.is_static and k.is_static:
                kd = dilated(k.min, a["dilations"][i])
                (pb,), (pe,) = resolve_pads([x.min], [kd], [s], a["auto_pad"], pads_begin[i:i + 1], pads_end[i:i + 1])
                o = (x.min + pb + pe - kd) // s + 1
                if o < 1:
                    raise GraphError(f"node '{node.name}' ({node.type}): kernel does not fit the padded input "
                                     f"on spatial axis {i}")
                out.append(Dimension.of(o))
            else:
                out.append(Dimension())
        return out

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        a = node.attrs
        x, w = inputs[0], inputs[1]
        et = node.outputs[0].element_type
        w = self.grouped_weights(w)
        nsp = x.ndim - 2
        dil = ints_or(a["dilations"], 1, nsp)
        kd = [dilated(k, d) for k, d in zip(w.shape[3:], dil)]
        pb, pe = resolve_pads(x.shape[2:], kd, a["strides"], a["auto_pad"], *explicit_pads(node, nsp))
        out = conv_forward(accumulate(x, et), accumulate(w, et), a["strides"], dil, pb, pe)
        return [from_compute(out, et)]


_FORWARD_ATTRS_CONV = (Attr("strides", "ints"), Attr("dilations", "ints"), Attr("pads_begin", "ints"),
                       Attr("pads_end", "ints"), AUTO_PAD)
_FORWARD_ATTRS_GROUP = (Attr("strides", "ints"), Attr("pads_begin", "ints"), Attr("pads_end", "ints"),
                        Attr("dilations", "ints"), AUTO_PAD)
OUTPUT_PADDING = Attr("output_padding", "ints", None)


@register
class Convolution(_ConvBase):
    """data [N, C, *S], weights [O, C, *K]."""

    type_name = "Convolution"
    attrs = _FORWARD_ATTRS_CONV


@register
class GroupConvolution(_ConvBase):
    """data [N, G*Cg, *S], weights [G, Og, Cg, *K]."""

    type_name = "GroupConvolution"
    attrs = _FORWARD_ATTRS_GROUP
    grouped = True


class _BackpropBase(_ConvBase):
    """Transposed convolution with an optional output_shape input (spatial dims only)."""

    backprop = True
    max_inputs = 3

    def spatial(self, node: "Node", in_sp: list[Dimension], k_sp: list[Dimension]) -> list[Dimension]:
        if len(node.inputs) > 2:
            value = node.input_value(2)
            if value is not None:
                dims = [int(v) for v in np.asarray(value).reshape(-1)]
                if len(dims) != len(in_sp):
                    raise GraphError(f"node '{node.name}' ({node.type}): output_shape {dims} does not have "
                                     f"{len(in_sp)} spatial dims")
                return [Dimension.of(v) for v in dims]
            return [Dimension()] * len(in_sp)
        a = node.attrs
        nsp = len(in_sp)
        pb, pe = self.attr_pads(node, nsp)
        outp = ints_or(a["output_padding"], 0, nsp)
        dil = ints_or(a["dilations"], 1, nsp)
        out = []
        for i, (x, k) in enumerate(zip(in_sp, k_sp)):
            if x.is_static and k.is_static:
                o = (x.min - 1) * a["strides"][i] + dilated(k.min, dil[i]) - pb[i] - pe[i] + outp[i]
                if o < 1:
                    raise GraphError(f"node '{node.name}' ({node.type}): output spatial axis {i} would be {o}")
                out.append(Dimension.of(o))
            else:
                out.append(Dimension())
        return out

    @staticmethod
    def attr_pads(node: "Node", nsp: int) -> tuple[list[int], list[int]]:
        """Pads without an output_shape input: the attributes when explicit, zero for any auto_pad."""
        if node.attrs["auto_pad"] != "explicit":
            return [0] * nsp, [0] * nsp
        return explicit_pads(node, nsp)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        a = node.attrs
        x, w = inputs[0], inputs[1]
        et = node.outputs[0].element_type
        w = self.grouped_weights(w)
        nsp = x.ndim - 2
        dil = ints_or(a["dilations"], 1, nsp)
        outp = ints_or(a["output_padding"], 0, nsp)
        full = [(xi - 1) * s + dilated(k, d) for xi, k, s, d in zip(x.shape[2:], w.shape[3:], a["strides"], dil)]
        if len(inputs) > 2:
            out_sp = [int(v) for v in np.asarray(inputs[2]).reshape(-1)]
            if a["auto_pad"] in ("same_upper", "same_lower"):
                totals = [max(f + p - o, 0) for f, p, o in zip(full, outp, out_sp)]
                # same_upper puts the odd pixel at the beginning here (OpenVINO's backprop convention)
                pb = [t - t // 2 if a["auto_pad"] == "same_upper" else t // 2 for t in totals]
            else:
                pb = self.attr_pads(node, nsp)[0]
        else:
            pb, pe = self.attr_pads(node, nsp)
            out_sp = [f - b - e + p for f, b, e, p in zip(full, pb, pe, outp)]
        out = conv_backprop(accumulate(x, et), accumulate(w, et), a["strides"], dil, pb, out_sp)
        return [from_compute(out, et)]


@register
class ConvolutionBackpropData(_BackpropBase):
    """data [N, Cin, *X], weights [Cin, Cout, *K], optional output_shape [S]."""

    type_name = "ConvolutionBackpropData"
    attrs = _FORWARD_ATTRS_CONV + (OUTPUT_PADDING,)


@register
class GroupConvolutionBackpropData(_BackpropBase):
    """data [N, G*Cg, *X], weights [G, Cg, Og, *K], optional output_shape [S]."""

    type_name = "GroupConvolutionBackpropData"
    attrs = _FORWARD_ATTRS_GROUP + (OUTPUT_PADDING,)
    grouped = True
