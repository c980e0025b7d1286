"""Convolutions on oneDNN through torch's mkldnn fusion ops, activations channels-last (NHWC, the layout
OpenVINO's CPU plugin also picks on AVX2), weights prepacked at compile time for the plan's input shape.

Convolution / GroupConvolution absorb the post-op chain after them (see fusion.py): bias, activation (eltwise
post-op), a residual Add (sum post-op written into the residual's buffer when nothing reads it later, else a
binary post-op) and a Relu after it. ConvolutionBackpropData / GroupConvolutionBackpropData absorb bias and
activation. 1-D convolutions run as 2-D ones with a unit height. Asymmetric pads are applied with a zero pad."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.ir.ops.convolution import dilated, explicit_pads, ints_or, resolve_pads
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import PostOps, match_post_ops, owned_epilogue
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.precision import round_bf16, round_bf16_tensor
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, lowers, on_first_use

mkldnn = torch.ops.mkldnn
CL = torch.channels_last


@dataclass
class ConvGeometry:
    weights: np.ndarray  # torch layout: forward [O, C/g, kh, kw]; transposed [C, O/g, kh, kw] (1-D: kh = 1)
    groups: int
    strides: list[int]
    dilations: list[int]
    padding: list[int]  # symmetric part
    extra: list[int] | None  # F.pad amounts (w_begin, w_end, h_begin, h_end) for the asymmetric rest
    output_padding: list[int]  # transposed only
    one_d: bool
    out_channels: int
    crop: list[tuple[int, int]] | None = None  # transposed only: (start, length) per spatial axis of the result


def _backprop_pads(node: Node, x_shape: tuple[int, ...], k: list[int], strides: list[int], dil: list[int]
                   ) -> tuple[list[int], list[int]] | None:
    """(pads_begin, output spatial sizes) of a transposed convolution, as the reference kernel computes them."""
    a = node.attrs
    nsp = len(x_shape) - 2
    outp = ints_or(a["output_padding"], 0, nsp)
    full = [(xi - 1) * s + dilated(kk, d) for xi, kk, s, d in zip(x_shape[2:], k, strides, dil)]
    if len(node.inputs) > 2:
        return None  # output_shape input: handled by the caller only when it is a plan-time constant
    if a["auto_pad"] != "explicit":
        pb, pe = [0] * nsp, [0] * nsp
    else:
        pb, pe = explicit_pads(node, nsp)
    return pb, [f - b - e + p for f, b, e, p in zip(full, pb, pe, outp)]


def geometry(node: Node, g: GraphView) -> ConvGeometry | None:
    x, w_out = node.inputs[0], node.inputs[1]
    w = g.const(w_out)
    shape = g.static_shape(x)
    if w is None or shape is None or len(shape) not in (3, 4) or w.dtype.kind != "f":
        return None
    a = node.attrs
    nsp = len(shape) - 2
    grouped = node.type.startswith("Group")
    backprop = node.type.endswith("BackpropData")
    groups = int(w.shape[0]) if grouped else 1
    if grouped:  # [G, Og, Cg, k] -> [G*Og, Cg, k];  backprop [G, Cg, Og, k] -> [G*Cg, Og, k]
        w = w.reshape((w.shape[0] * w.shape[1],) + w.shape[2:])
    k = list(w.shape[2:])
    strides = list(a["strides"])
    dil = ints_or(a["dilations"], 1, nsp)
    crop: list[tuple[int, int]] | None = None
    if backprop:
        out_channels = w.shape[1] * groups
        if len(node.inputs) > 2:
            out_sp_value = g.const(node.inputs[2])
            if out_sp_value is None or a["auto_pad"] != "explicit":
                return None
            pb = explicit_pads(node, nsp)[0]
            out_sp = [int(v) for v in out_sp_value.reshape(-1)]
        else:
            got = _backprop_pads(node, shape, k, strides, dil)
            if got is None:
                return None
            pb, out_sp = got
        full = [(xi - 1) * s + dilated(kk, d) for xi, kk, s, d in zip(shape[2:], k, strides, dil)]
        if any(p < 0 for p in pb):
            return None
        outp = [o - f + 2 * p for o, f, p in zip(out_sp, full, pb)]
        padding, extra = pb, None
        if any(not 0 <= op < s for op, s in zip(outp, strides)):
            # torch's symmetric padding cannot express it (oneDNN's deconvolution takes an output padding below the
            # stride only, where ATen allows below the dilation too): compute with less padding and crop the result
            padding = [min(b, f - b - o) for b, f, o in zip(pb, full, out_sp)]
            if any(p < 0 for p in padding):
                return None  # the output reaches past the full result (zeros there): reference kernel
            outp = [0] * nsp
            crop = [(b - p, o) for b, p, o in zip(pb, padding, out_sp)]
    else:
        out_channels = w.shape[0]
        kd = [dilated(kk, d) for kk, d in zip(k, dil)]
        pb, pe = resolve_pads(list(shape[2:]), kd, strides, a["auto_pad"], *explicit_pads(node, nsp))
        if any(p < 0 for p in pb + pe):
            return None
        padding = [min(b, e) for b, e in zip(pb, pe)]
        rest = [(b - p, e - p) for b, e, p in zip(pb, pe, padding)]
        extra = None
        if any(r != (0, 0) for r in rest):
            extra = [v for pair in reversed(rest) for v in pair]
        outp = [0] * nsp
    one_d = nsp == 1
    if one_d:
        w = w.reshape(w.shape[:2] + (1,) + w.shape[2:])
        strides, dil, padding, outp = [1] + strides, [1] + dil, [0] + padding, [0] + outp
    return ConvGeometry(np.asarray(w, np.float32), groups, strides, dil, padding, extra, outp, one_d, out_channels,
                        crop)


def _supported(node: Node) -> bool:
    return node.inputs[0].element_type.name == "f32" and node.outputs[0].element_type.name == "f32"


@dataclass
class ConvInfo:
    geo: ConvGeometry
    post: PostOps
    gemm: str | None = None  # "nchw": a 1x1 convolution computed as one GEMM producing a planar result


def _gemm_layout(node: Node, geo: ConvGeometry, g: GraphView, post: PostOps) -> str | None:
    """Whether a 1x1, stride-1, unpadded convolution runs as one GEMM producing a planar (NCHW) result: when its
    value goes to a Reshape that merges the spatial axes (YOLO's detection heads), where a channels-last result
    would need a slow transpose. (A GEMM for small 1x1 convolutions in general would avoid oneDNN's per-call
    setup, but MKL rounds identical output channels differently in its tail blocks; traced segments remove that
    setup cost instead.)"""
    w = geo.weights
    if geo.groups != 1 or geo.one_d or w.shape[2:] != (1, 1) or geo.strides != [1, 1] or geo.padding != [0, 0] \
            or geo.extra is not None:
        return None
    shape = g.static_shape(node.inputs[0])
    assert shape is not None
    n = shape[0]
    out = post.out
    assert out is not None
    use = g.sole_consumer(out)
    if use is not None and use[0].type == "Reshape":
        target = g.static_shape(use[0].outputs[0])
        if target is not None and target[:2] == (n, w.shape[0]) and len(target) == 3:
            return "nchw"
    return None


class _ConvBase(Lowering):
    transposed = False

    def match(self, node: Node, g: GraphView) -> Match | None:
        if not _supported(node):
            return None
        geo = geometry(node, g)
        if geo is None:
            return None
        residual = not self.transposed and geo.groups == 1 and not geo.one_d
        post = match_post_ops(node.outputs[0], g, 1, geo.out_channels, residual=residual)
        gemm = None if self.transposed else _gemm_layout(node, geo, g, post)
        if gemm is not None and post.post_act is None and post.residual is not None and post.act is not None:
            gemm = None
        inputs = [node.inputs[0]] + ([post.residual] if post.residual is not None else [])
        assert post.out is not None
        return Match(self, [node] + post.nodes, inputs, [post.out], ConvInfo(geo, post, gemm))

    def prepared_weights(self, ctx: BuildContext, m: Match) -> tuple[np.ndarray, np.ndarray | None]:
        info: ConvInfo = m.info
        post = info.post
        w = info.geo.weights
        if post.scale is not None:  # folded in f64 and rounded once (no f64 copy of weights without a scale)
            w = w.astype(np.float64)
            if self.transposed:
                g = info.geo.groups
                shaped = w.reshape((g, w.shape[0] // g, w.shape[1]) + w.shape[2:])
                shaped = shaped * post.scale.reshape((g, 1, -1) + (1,) * (w.ndim - 2))
                w = shaped.reshape(w.shape)
            else:
                w = w * post.scale.reshape((-1,) + (1,) * (w.ndim - 1))
        bias = None if post.bias is None else post.bias.astype(np.float32)
        w32 = w.astype(np.float32)  # its own memory: the IR constant may be a read-only view of the .bin
        if ctx.config.bf16:
            w32 = round_bf16(w32)
            bias = None if bias is None else round_bf16(bias)
        return w32, bias

    def kernel_tensors(self, ctx: BuildContext, m: Match
                       ) -> tuple[str, np.ndarray, torch.Tensor, torch.Tensor | None, list[int]]:
        """What a oneDNN convolution step is built from: the bf16 mode ("native", "emulated" or ""), the prepared
        f32 weights, those weights in the kernel's dtype and channels-last, the bias in that dtype, and the padded
        input shape the weights are reordered for."""
        w, b = self.prepared_weights(ctx, m)
        bf16 = "native" if ctx.config.bf16_native else ("emulated" if ctx.config.bf16 else "")
        dtype = torch.bfloat16 if bf16 == "native" else torch.float32
        shape = ctx.g.static_shape(m.root.inputs[0])
        assert shape is not None
        wt = torch.from_numpy(w).to(dtype).contiguous(memory_format=CL)
        B = None if b is None else torch.from_numpy(b).to(dtype)
        return bf16, w, wt, B, _padded_shape(shape, m.info.geo)


def _padded_shape(shape: tuple[int, ...], geo: ConvGeometry) -> list[int]:
    s = list(shape)
    if geo.one_d:
        s = s[:2] + [1] + s[2:]
    if geo.extra is not None:
        s[-1] += geo.extra[0] + geo.extra[1]
        if len(geo.extra) > 2:
            s[-2] += geo.extra[2] + geo.extra[3]
    return s


def _input_adapter(geo: ConvGeometry, bf16: str) -> Callable[[Any], Any] | None:
    """The per-call transformation of the input before the kernel (unit height, asymmetric pad, bf16)."""
    parts: list[Callable[[Any], Any]] = []
    if geo.one_d:
        parts.append(lambda x: x.unsqueeze(2))
    if geo.extra is not None:
        extra = geo.extra
        parts.append(lambda x: F.pad(x, extra))
    if bf16 == "emulated":
        parts.append(round_bf16_tensor)
    elif bf16 == "native":
        parts.append(lambda x: x.to(torch.bfloat16))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]

    def chain(x: Any) -> Any:
        for p in parts:
            x = p(x)
        return x
    return chain


@lowers("Convolution", "GroupConvolution")
class ConvolutionLowering(_ConvBase):
    def build(self, ctx: BuildContext, m: Match) -> Built:
        info: ConvInfo = m.info
        if info.gemm is not None:
            return self._build_gemm(ctx, m)
        geo, post = info.geo, info.post
        bf16, _, wt, B, in_shape = self.kernel_tensors(ctx, m)
        pad, stride, dil, groups = geo.padding, geo.strides, geo.dilations, geo.groups
        adapt = _input_adapter(geo, bf16)
        act = post.act
        attr, scalars, algo = (act.attr, act.scalars, act.algorithm) if act else ("none", [], None)
        prec = "bf16" if ctx.config.bf16 else "f32"
        kind = "groupconv" if groups > 1 else "conv"
        exec_type = f"onednn_{kind}{post.describe()}_{prec}"
        squeeze = geo.one_d
        to_f32 = bf16 == "native"
        trace = None if to_f32 else _conv_trace(wt, B, geo, adapt, post)
        weight = on_first_use(lambda: mkldnn._reorder_convolution_weight(wt, pad, stride, dil, groups, in_shape),
                              now=trace is None)

        if post.residual is None:
            conv = mkldnn._convolution_pointwise

            def fn(x: Any) -> Any:
                if adapt is not None:
                    x = adapt(x)
                y = conv(x, weight(), B, pad, stride, dil, groups, attr, scalars, algo)
                if squeeze:
                    y = y.squeeze(2)
                return y.float() if to_f32 else y
            return Built(fn, exec_type, fresh=True, trace_fn=trace)

        unary = "relu" if post.post_act is not None else None
        if ctx.can_overwrite(post.residual) and not to_f32:
            inplace = mkldnn._convolution_pointwise_.binary

            def fn_sum(x: Any, r: Any) -> Any:
                if adapt is not None:
                    x = adapt(x)
                return inplace(r, x, weight(), B, pad, stride, dil, groups, "add", 1.0, unary, [], None)
            return Built(fn_sum, exec_type.replace("+add", "+sum"), fresh=True, overwrites=1, trace_fn=trace)
        binary = mkldnn._convolution_pointwise.binary

        def fn_binary(x: Any, r: Any) -> Any:
            if adapt is not None:
                x = adapt(x)
            if to_f32:
                r = r.to(torch.bfloat16)
            y = binary(x, r, weight(), B, pad, stride, dil, groups, "add", 1.0, unary, [], None)
            return y.float() if to_f32 else y
        return Built(fn_binary, exec_type, fresh=True, trace_fn=trace)


    def _build_gemm(self, ctx: BuildContext, m: Match) -> Built:
        """out = W @ x + b per image, planar (x's channels-last memory is read as a transposed matrix, which MKL
        takes directly); the activation, residual and the activation after it run in place on the result."""
        info: ConvInfo = m.info
        post = info.post
        w, b = self.prepared_weights(ctx, m)
        shape = ctx.g.static_shape(m.root.inputs[0])
        assert shape is not None
        n, c, h, wd = shape
        o = w.shape[0]
        w2 = torch.from_numpy(np.ascontiguousarray(w.reshape(o, c)))
        bias = torch.zeros(o) if b is None else torch.from_numpy(b)
        emulate = ctx.config.bf16
        epilogue = owned_epilogue(post)
        prec = "bf16" if ctx.config.bf16 else "f32"
        col = bias.reshape(o, 1)
        if n == 1:
            def conv(x: Any) -> Any:
                return torch.addmm(col, w2, x.reshape(c, h * wd)).view(1, o, h, wd)
        else:
            def conv(x: Any) -> Any:
                return torch.baddbmm(col, w2.expand(n, o, c), x.reshape(n, c, h * wd)).view(n, o, h, wd)

        def fn(x: Any, r: Any = None) -> Any:
            if emulate:
                x = round_bf16_tensor(x)
            return epilogue(conv(x), r)
        # not traced: oneDNN Graph rejects the GEMM on a transposed view (a segment ends here instead)
        return Built(fn, f"mkl_conv1x1_{info.gemm}{post.describe()}_{prec}", fresh=True, trace_fn=None)


def _conv_trace(w: torch.Tensor, b: torch.Tensor | None, geo: ConvGeometry, adapt: Callable[[Any], Any] | None,
                post: PostOps) -> Callable[..., Any]:
    """The convolution group in plain ATen ops (what TorchScript's oneDNN Graph fuser recognizes). `w` is
    channels-last: ATen then returns NHWC whatever the input's layout, and the trace records those strides for
    every value a partition hands to an ATen op (planar weights made a planar model input turn the whole trace
    NCHW, with a reorder at each partition boundary)."""
    stride, pad, dil, groups = geo.strides, geo.padding, geo.dilations, geo.groups
    act = post.act.fn if post.act is not None else None
    post_act = post.post_act.fn if post.post_act is not None else None
    squeeze = geo.one_d
    if post.act is not None and post.act.attr == "hardsigmoid" and post.residual is None:
        # oneDNN Graph has no HardSigmoid: clamp(y / 6 + 0.5, 0, 1) with the affine part folded into the
        # convolution keeps the gate (squeeze-excite) inside the partition
        w = w / 6.0
        b = (torch.zeros(w.shape[0]) if b is None else b) / 6.0 + 0.5
        act = _unit_clamp

    def trace(x: Any, r: Any = None) -> Any:
        if adapt is not None:
            x = adapt(x)
        y = F.conv2d(x, w, b, stride, pad, dil, groups)
        if act is not None:
            y = act(y)
        if r is not None:
            y = y + r
            if post_act is not None:
                y = post_act(y)
        return y.squeeze(2) if squeeze else y
    return trace


def _unit_clamp(x: Any) -> Any:
    return torch.clamp(x, 0.0, 1.0)


@lowers("ConvolutionBackpropData", "GroupConvolutionBackpropData")
class DeconvolutionLowering(_ConvBase):
    transposed = True

    def build(self, ctx: BuildContext, m: Match) -> Built:
        info: ConvInfo = m.info
        geo, post = info.geo, info.post
        bf16, w, wt, B, in_shape = self.kernel_tensors(ctx, m)
        pad, outp, stride, dil, groups = geo.padding, geo.output_padding, geo.strides, geo.dilations, geo.groups
        adapt = _input_adapter(geo, bf16)
        act = post.act
        attr, scalars, algo = (act.attr, act.scalars, act.algorithm) if act else ("none", [], None)
        prec = "bf16" if ctx.config.bf16 else "f32"
        deconv = mkldnn._convolution_transpose_pointwise
        squeeze = geo.one_d
        to_f32 = bf16 == "native"

        crop = None if geo.crop is None else (...,) + tuple(slice(a, a + n) for a, n in geo.crop)

        def fn(x: Any) -> Any:
            if adapt is not None:
                x = adapt(x)
            y = deconv(x, weight(), B, pad, outp, stride, dil, groups, attr, scalars, algo)
            if squeeze:
                y = y.squeeze(2)
            if crop is not None:
                y = y[crop]
            return y.float() if to_f32 else y
        w_plain = torch.from_numpy(w)
        act_fn = act.fn if act is not None else None

        def trace(x: Any) -> Any:
            if adapt is not None:
                x = adapt(x)
            y = F.conv_transpose2d(x, w_plain, B, stride, pad, outp, groups, dil)
            if act_fn is not None:
                y = act_fn(y)
            if squeeze:
                y = y.squeeze(2)
            return y[crop] if crop is not None else y
        weight = on_first_use(lambda: mkldnn._reorder_convolution_transpose_weight(
            wt, pad, outp, stride, dil, groups, in_shape), now=to_f32)
        return Built(fn, f"onednn_deconv{post.describe()}_{prec}", fresh=True, trace_fn=None if to_f32 else trace)
