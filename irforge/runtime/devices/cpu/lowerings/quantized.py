"""INT8 lowerings: what quant_patterns.py decides runs on 8-bit codes, computed with torch's oneDNN INT8 kernels.

* Convolution / GroupConvolution fed by a Q-value, with i8 weights: `onednn::qconv2d_pointwise` (u8 source with
  its zero point, s8 weights prepacked for the plan's shape, per-channel scales) absorbing the per-channel scale and
  bias after it, one activation oneDNN fuses (Relu, Clamp, HSwish, Swish) and, when its result is carried, the
  next FakeQuantize: the kernel requantizes straight to that FakeQuantize's grid and writes u8 codes (when that
  result is not carried, the step then dequantizes them: one pass over bytes, where a float FakeQuantize step made
  four over floats). Without a FakeQuantize after it, it writes f32 (dequantized in the kernel). A residual Add
  after the FakeQuantize (ResNet's block sum) joins the kernel as oneDNN's sum post-op, accumulating into the
  residual's codes (IRFORGE_CPU_INT8_SUM, quant_patterns.py).
* MatMul with constant i8 weights: `onednn::qlinear_pointwise`, the same way (activations: Relu, Clamp, Gelu,
  Tanh, HSwish, Swish).
* Add / Multiply of two Q-values (broadcasting), then Relu, then a FakeQuantize whose result is carried: torch's
  quantized add/mul(_relu) on codes (float arithmetic, one rounding).
* MaxPool and data movement (Reshape, Transpose, Concat, Split, Slice, Gather, ...) move codes (the grid is
  unchanged); data movement runs the float lowering's own kernel on the codes.
* FakeQuantize on its own: quantization to codes when its result is carried (of carried codes: nothing when the
  grids agree, else a requantization), else fake quantization in float.
* ReduceMean of carried codes: (mean of the codes - zero point) * scale, a float result (a global average pool).
* An activation of carried codes into a carried FakeQuantize: dequantize, the activation in float, quantize.

Weights whose adjacent-channel pairs can saturate the 16-bit sums of CPUs without VNNI run as two saturation-free
kernels under IRFORGE_CPU_INT8=exact (see quant_patterns.py). Exec types name the kernel, the fused post-ops and
the precision: `onednn_qconv+bias+relu+fq_I8` (u8 codes out), `..._I8_f32out` (f32 out), `..._I8x2` (split weights),
`onednn_qconv+bias+sum+relu+fq_I8` (the residual Add absorbed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node, Output
from irforge.ir.ops.pooling import _Window
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import Activation, activation_of, fold_affine, same_value_type
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.int8_tensors import (Grid, dequantize, fake_quantize_exact, grid_fake_quantize,
                                                      quantize, ranges_f64, unwrap, wrap)
from irforge.ir.ops.reduction import reduction_axes
from irforge.runtime.devices.cpu.quant_patterns import (MOVES, FQSpec, Int8Plan, QWeights, Residual, accepts,
                                                        binary_tail, channel_grids, data_inputs, fused_sum, has_vnni,
                                                        int8_plan, residual_tail, unary_tail)
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, lowering_for, lowers, lowers_first

onednn = torch.ops.onednn


# ---------------------------------------------------------------- post-op chains
# oneDNN's INT8 kernels take these eltwise post-ops (GELU and Tanh only on linear layers)
_INT8_ACTS = ("relu", "hardtanh", "hardswish", "swish")
_INT8_LINEAR_ACTS = _INT8_ACTS + ("gelu", "tanh")


def _activation(node: Node, g: GraphView, linear: bool) -> Activation | None:
    act = activation_of(node, g)
    return act if act is not None and act.attr in (_INT8_LINEAR_ACTS if linear else _INT8_ACTS) else None


@dataclass
class Chain:
    """What a compute op absorbs: per-channel scale and bias, one activation, the FakeQuantize it requantizes
    to (`dequant`: that result is not carried, so the step dequantizes the codes it wrote, one pass over 8-bit
    data where a float FakeQuantize step takes four over 32-bit data) and, for a convolution, the residual Add
    after that FakeQuantize (then the step requantizes to the Add's FakeQuantize instead: `out_fq`)."""

    nodes: list[Node]
    scale: np.ndarray | None
    bias: np.ndarray | None
    act: Activation | None
    fq: FQSpec | None
    out: Output
    residual: Residual | None = None
    dequant: bool = False

    @property
    def out_fq(self) -> FQSpec | None:
        """The FakeQuantize whose codes the step writes (None: it writes floats)."""
        return self.residual.fq if self.residual is not None else self.fq

    def describe(self) -> str:
        res = self.residual
        tail = "" if res is None else "+sum" + ("+relu" if res.relu is not None else "")
        return ("+bias" if self.bias is not None else "") + (f"+{self.act.attr}" if self.act else "") + tail + \
            ("+fq" if self.fq else "")


def _chain(start: Output, g: GraphView, plan: Int8Plan, axis: int, channels: int, linear: bool) -> Chain:
    ch = Chain([], None, None, None, None, start)
    rank = start.shape.rank
    while ch.act is None:
        use = g.sole_consumer(ch.out)
        if use is None or not same_value_type(use[0], ch.out):
            break
        node, idx = use
        folded = fold_affine(node, idx, g, rank, axis, channels, ch.scale, ch.bias)
        if folded is not None:
            ch.scale, ch.bias = folded
        else:
            ch.act = _activation(node, g, linear)
            if ch.act is None:
                break
        ch.nodes.append(node)
        ch.out = node.outputs[0]
    _take_fq(ch, g, plan)
    return ch


def _fq_after(out: Output, g: GraphView, plan: Int8Plan) -> FQSpec | None:
    """The per-tensor FakeQuantize `out` goes into alone (as its data input)."""
    use = g.sole_consumer(out)
    return plan.fq.get(use[0].uid) if use is not None and use[1] == 0 else None


def _take_fq(ch: Chain, g: GraphView, plan: Int8Plan) -> None:
    """Absorb the FakeQuantize after the chain: the step writes its codes (carried) or their values (`dequant`)."""
    spec = _fq_after(ch.out, g, plan)
    if spec is not None:
        ch.fq = spec
        ch.dequant = not plan.is_carried(spec.node.outputs[0])
        ch.nodes.append(spec.node)
        ch.out = spec.node.outputs[0]


def _entry(plan: Int8Plan, value: Output) -> Callable[[Any], Any] | None:
    """How a step turns its input into codes: None when the value is carried (already codes), else quantization
    of the float Q-value on its own grid (exact: the values lie on it)."""
    if plan.is_carried(value):
        return None
    grid = plan.grid(value)
    assert grid is not None
    return lambda x: quantize(x, grid)


def _split(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """q = a + b with |a| <= 64 and |b| <= 63: both saturation-free on vpmaddubsw."""
    a = np.clip(q.astype(np.int16), -64, 64)
    return a.astype(np.int8), (q.astype(np.int16) - a).astype(np.int8)


def _needs_split(w: QWeights, mode: str) -> bool:
    return mode == "exact" and not has_vnni() and not w.safe


def _scales(w: QWeights, ch: Chain) -> tuple[torch.Tensor, torch.Tensor | None]:
    scale = w.scale if ch.scale is None else w.scale * ch.scale
    return torch.from_numpy(scale.astype(np.float32)), \
        None if ch.bias is None else torch.from_numpy(ch.bias.astype(np.float32))


def _signed_rows(w: QWeights, ch: Chain) -> np.ndarray:
    """The weights with rows negated where the absorbed per-channel scale is negative (scales stay positive)."""
    if ch.scale is None or not np.any(ch.scale < 0):
        return w.q
    q = w.q.astype(np.int16)
    q[ch.scale < 0] *= -1
    return q.astype(np.int8)


def _fits_int8(w: QWeights, ch: Chain) -> bool:
    return ch.scale is None or not np.any((ch.scale < 0)[:, None] & (w.q.reshape(w.q.shape[0], -1) == -128))


# ---------------------------------------------------------------- convolution
@dataclass
class QConvInfo:
    w: QWeights
    chain: Chain


class _QuantizedLayer(Lowering):
    """A layer with INT8 weights and the post-op chain it absorbs; `linear`: a matrix product (channels last, GELU
    and Tanh post-ops), else a convolution (channels on axis 1)."""

    linear = False

    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        w = plan.weights.get(node.uid)
        if w is None:
            return None
        axis = node.outputs[0].shape.rank - 1 if self.linear else 1
        ch = _chain(node.outputs[0], g, plan, axis, w.q.shape[0], linear=self.linear)
        if not _fits_int8(w, ch):
            return None
        if not self.linear:
            _take_residual(ch, node, w, g, plan)
        inputs = [node.inputs[0]] + ([ch.residual.other] if ch.residual is not None else [])
        return Match(self, [node] + ch.nodes, inputs, [ch.out], QConvInfo(w, ch))

    def build(self, ctx: BuildContext, m: Match) -> Built:
        b = self.build_kernel(ctx, m)
        ch = m.info.chain
        if not ch.dequant:
            return b
        assert ch.fq is not None
        grid, fn = ch.fq.grid, b.fn

        def dequantized(x: Any) -> Any:
            return dequantize(fn(x), grid)
        return Built(dequantized, b.exec_type + "_f32out", fresh=True, trace_fn=None)

    def build_kernel(self, ctx: BuildContext, m: Match) -> Built:
        """The step writing codes (or floats without a FakeQuantize)."""
        raise NotImplementedError


def _take_residual(ch: Chain, node: Node, w: QWeights, g: GraphView, plan: Int8Plan) -> None:
    """Absorb the residual Add after the chain's FakeQuantize (quant_patterns.residual_tail) into oneDNN's sum
    post-op: the convolution's float result plus the dequantized residual codes, Relu, requantized once to the
    Add's FakeQuantize. oneDNN applies the sum before the eltwise post-op, so a chain with an activation keeps the
    separate Add, as do 1-D convolutions and split weights (quant_patterns.py)."""
    if ch.fq is None or ch.dequant or ch.act is not None or not fused_sum() or plan.geometry[node.uid].one_d or \
            _needs_split(w, plan.mode):
        return
    res = residual_tail(ch.fq.node, g, plan)
    if res is None:
        return
    ch.residual = res
    ch.nodes += [res.add] + ([res.relu] if res.relu is not None else []) + [res.fq.node]
    ch.out = res.fq.node.outputs[0]


def _kernel_weights(info: QConvInfo) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, np.ndarray]:
    """Per-channel weight scales, their zero points, the bias and the signed weight rows of a layer."""
    ws, bias = _scales(info.w, info.chain)
    return ws, torch.zeros(ws.shape[0], dtype=torch.int64), bias, _signed_rows(info.w, info.chain)


def _kernel_output(ch: Chain) -> tuple[float, int, torch.dtype | None, str, list[float], str]:
    """The output scale, zero point and dtype (None: codes of the absorbed FakeQuantize) and the eltwise post-op
    (attr, scalars, algorithm) torch's INT8 kernels take for `ch`."""
    fq = ch.out_fq
    out = (fq.requant.scale, fq.requant.zero_point, None) if fq else (1.0, 0, torch.float32)
    act = ch.act
    return out + ((act.attr, act.scalars, act.algorithm or "") if act else ("none", [], ""))


@lowers_first("Convolution", "GroupConvolution")
class QuantizedConvolution(_QuantizedLayer):
    def build_kernel(self, ctx: BuildContext, m: Match) -> Built:
        info: QConvInfo = m.info
        node, ch = m.root, info.chain
        plan = int8_plan(ctx.g)
        geo = plan.geometry[node.uid]
        x_grid = plan.grid(node.inputs[0])
        assert x_grid is not None
        xs, xz = x_grid.scale, x_grid.zero_point
        ws, wz, bias, q = _kernel_weights(info)
        stride, pad, dil, groups = geo.strides, geo.padding, geo.dilations, geo.groups

        def pack(qw: np.ndarray) -> torch.Tensor:
            return onednn.qconv_prepack(torch.from_numpy(np.ascontiguousarray(qw)), ws, xs, xz, stride, pad, dil,
                                        groups, geo.in_shape)
        out_scale, out_zp, out_dtype, attr, scalars, algo = _kernel_output(ch)
        act = ch.act
        enter = _entry(plan, node.inputs[0])
        extra, one_d = geo.extra, geo.one_d

        def prepare(x: Any) -> Any:
            if enter is not None:
                x = enter(x)
            if one_d:
                x = x.unsqueeze(2)
            if extra is not None:
                x = F.pad(x, extra, value=xz)
            return x
        kind = "qgroupconv" if groups > 1 else "qconv"
        out = "" if ch.fq else "_f32out"
        conv = onednn.qconv2d_pointwise
        if ch.residual is not None:
            W = pack(q)
            res = ch.residual
            acc = plan.grid(res.other)
            assert acc is not None
            carried = plan.is_carried(res.other)
            overwrite = carried and ctx.can_overwrite(res.other)
            unary = "relu" if res.relu is not None else None
            binary = onednn.qconv2d_pointwise.binary

            def fn_sum(x: Any, r: Any) -> Any:
                # the sum post-op accumulates into `r`'s memory (u8 codes, channels-last): a copy unless the plan
                # grants this step that memory
                if not carried:
                    r = quantize(r, acc)
                elif not overwrite:
                    r = r.clone()
                if not r.is_contiguous(memory_format=torch.channels_last):
                    r = r.contiguous(memory_format=torch.channels_last)
                return binary(prepare(x), xs, xz, W, ws, wz, r, bias, stride, pad, dil, groups, out_scale, out_zp,
                              None, acc.scale, acc.zero_point, "sum", 1.0, unary, [], None)
            return Built(fn_sum, f"onednn_{kind}{ch.describe()}_I8", fresh=not overwrite,
                         overwrites=1 if overwrite else None, trace_fn=None)
        if not _needs_split(info.w, plan.mode):
            W = pack(q)

            def fn(x: Any) -> Any:
                y = conv(prepare(x), xs, xz, W, ws, wz, bias, stride, pad, dil, groups, out_scale, out_zp,
                         out_dtype, attr, scalars, algo)
                return y.squeeze(2) if one_d else y
            return Built(fn, f"onednn_{kind}{ch.describe()}_I8{out}", fresh=True, trace_fn=None)

        qa, qb = _split(q)
        Wa, Wb = pack(qa), pack(qb)
        binary = onednn.qconv2d_pointwise.binary
        unary = "relu" if act is not None and act.attr == "relu" else None
        late = act.fn if act is not None and unary is None else None
        requant = ch.fq.requant if ch.fq else None

        def fn_split(x: Any) -> Any:
            x = prepare(x)
            t = conv(x, xs, xz, Wb, ws, wz, None, stride, pad, dil, groups, 1.0, 0, torch.float32, "none", [], "")
            y = binary(x, xs, xz, Wa, ws, wz, t, bias, stride, pad, dil, groups, 1.0, 0, torch.float32, 1.0, 0,
                       "sum", 1.0, unary, [], None)
            if late is not None:
                y = late(y)
            if one_d:
                y = y.squeeze(2)
            return quantize(y, requant) if requant is not None else y
        return Built(fn_split, f"onednn_{kind}{ch.describe()}_I8x2{out}", fresh=True, trace_fn=None)


# ---------------------------------------------------------------- matrix product
@lowers_first("MatMul")
class QuantizedMatMul(_QuantizedLayer):
    linear = True

    def build_kernel(self, ctx: BuildContext, m: Match) -> Built:
        info: QConvInfo = m.info
        node, ch = m.root, info.chain
        plan = int8_plan(ctx.g)
        x_grid = plan.grid(node.inputs[0])
        shape = ctx.g.static_shape(node.inputs[0])
        assert x_grid is not None and shape is not None
        xs, xz = x_grid.scale, x_grid.zero_point
        ws, wz, bias, q = _kernel_weights(info)
        rows = int(np.prod(shape[:-1]))

        def pack(qw: np.ndarray) -> torch.Tensor:
            return onednn.qlinear_prepack(torch.from_numpy(np.ascontiguousarray(qw)), [rows, shape[-1]])
        out_scale, out_zp, out_dtype, attr, scalars, algo = _kernel_output(ch)
        act = ch.act
        enter = _entry(plan, node.inputs[0])
        linear = onednn.qlinear_pointwise
        out = "" if ch.fq else "_f32out"
        if not _needs_split(info.w, plan.mode):
            W = pack(q)

            def fn(x: Any) -> Any:
                if enter is not None:
                    x = enter(x)
                return linear(x, xs, xz, W, ws, wz, bias, out_scale, out_zp, out_dtype, attr, scalars, algo)
            return Built(fn, f"onednn_qlinear{ch.describe()}_I8{out}", fresh=True, trace_fn=None)

        qa, qb = _split(q)
        Wa, Wb = pack(qa), pack(qb)
        late = act.fn if act is not None else None
        requant = ch.fq.requant if ch.fq else None

        def fn_split(x: Any) -> Any:
            if enter is not None:
                x = enter(x)
            y = linear(x, xs, xz, Wa, ws, wz, bias, 1.0, 0, torch.float32, "none", [], "")
            y.add_(linear(x, xs, xz, Wb, ws, wz, None, 1.0, 0, torch.float32, "none", [], ""))
            if late is not None:
                y = late(y)
            return quantize(y, requant) if requant is not None else y
        return Built(fn_split, f"onednn_qlinear{ch.describe()}_I8x2{out}", fresh=True, trace_fn=None)


# ---------------------------------------------------------------- Add / Multiply of two Q-values
@dataclass
class QBinaryInfo:
    relu: bool
    fq: FQSpec


_QUANTIZED_BINARY = {("Add", False): "add", ("Add", True): "add_relu", ("Multiply", False): "mul",
                     ("Multiply", True): "mul_relu"}


@lowers_first("Add", "Multiply")
class QuantizedBinary(Lowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        if not plan.active or not accepts(node, 0, g, plan):
            return None
        relu, spec = binary_tail(node, g, plan)
        assert spec is not None
        nodes = [node] + ([relu] if relu is not None else []) + [spec.node]
        return Match(self, nodes, list(node.inputs), [spec.node.outputs[0]], QBinaryInfo(relu is not None, spec))

    def build(self, ctx: BuildContext, m: Match) -> Built:
        info: QBinaryInfo = m.info
        plan = int8_plan(ctx.g)
        a, b = m.root.inputs
        ga, gb = plan.grid(a), plan.grid(b)
        assert ga is not None and gb is not None
        ca, cb = plan.is_carried(a), plan.is_carried(b)
        relu = info.relu
        kind = m.root.type.lower()
        name = "+relu" if relu else ""
        out = info.fq.requant
        op = getattr(torch.ops.quantized, _QUANTIZED_BINARY[(m.root.type, relu)])

        def fn(x: Any, y: Any) -> Any:
            qx = wrap(x if ca else quantize(x, ga), ga)
            qy = wrap(y if cb else quantize(y, gb), gb)
            return unwrap(op(qx, qy, out.scale, out.zero_point))
        return Built(fn, f"torch_q{kind}{name}+fq_I8", fresh=True, trace_fn=None)


# ---------------------------------------------------------------- grid-preserving ops
def maxpool_params(node: Node, g: GraphView) -> tuple[list[int], list[int], list[int], list[int], bool] | None:
    """(kernel, strides, padding, dilations, ceil_mode) of a 2-D MaxPool torch's pooling computes exactly."""
    from irforge.runtime.devices.cpu.lowerings.pooling import _native_padding

    shape = g.static_shape(node.inputs[0])
    if shape is None or len(shape) != 4:
        return None
    try:
        win = _Window(node, shape)
    except ValueError:
        return None
    for ceil in (False, True):
        pad = _native_padding(win, ceil)
        if pad is not None:
            return list(win.kernel), list(win.strides), pad, list(win.dilations), ceil
    return None


def _exit(plan: Int8Plan, out: Output) -> Callable[[Any], Any] | None:
    """How a step hands on codes: None when its result is carried, else dequantization."""
    if plan.is_carried(out):
        return None
    grid = plan.grid(out)
    assert grid is not None
    return lambda c: dequantize(c, grid)


def _moving(node: Node, g: GraphView, plan: Int8Plan) -> bool:
    """Whether a grid-preserving op reads or writes codes (else it is left to its float lowering)."""
    if plan.grid(node.outputs[0]) is None:
        return False
    return any(plan.is_carried(o) for o in node.outputs) or \
        any(plan.is_carried(node.inputs[i]) for i in data_inputs(node))


def _convert(fn: Callable[..., Any], enters: list[Callable[[Any], Any] | None],
             leaves: list[Callable[[Any], Any] | None], multi: bool) -> Callable[..., Any]:
    """`fn` on codes: inputs quantized where `enters` says, outputs dequantized where `leaves` says."""
    if not any(enters) and not any(leaves):
        return fn

    def converted(*xs: Any) -> Any:
        res = fn(*[x if e is None else e(x) for x, e in zip(xs, enters)])
        if multi:
            return tuple(r if lv is None else lv(r) for r, lv in zip(res, leaves))
        return res if leaves[0] is None else leaves[0](res)
    return converted


@lowers_first("MaxPool")
class QuantizedMaxPool(Lowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        if not _moving(node, g, plan):
            return None
        return Match(self, [node], [node.inputs[0]], [node.outputs[0]])

    def build(self, ctx: BuildContext, m: Match) -> Built:
        plan = int8_plan(ctx.g)
        node = m.root
        grid = plan.grid(node.outputs[0])
        assert grid is not None
        params = maxpool_params(node, ctx.g)
        assert params is not None
        k, s, pad, d, ceil = params

        def pool(c: Any) -> Any:
            return unwrap(F.max_pool2d(wrap(c, grid), k, s, pad, d, ceil))
        leave = _exit(plan, node.outputs[0])
        fn = _convert(pool, [_entry(plan, node.inputs[0])], [leave], False)
        return Built(fn, "torch_qmaxpool_I8" + ("_f32out" if leave else ""), fresh=True, trace_fn=None)


@lowers_first(*MOVES)
class QuantizedMove(Lowering):
    """Data movement on codes: the float lowering's own kernel (torch's view/copy ops do not look at the dtype),
    with quantization/dequantization where a neighbour holds floats."""

    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        if not _moving(node, g, plan):
            return None
        base = lowering_for(node.type)
        assert base is not None
        inner = base.match(node, g)
        if inner is None or inner.nodes != [node]:
            return None
        return Match(self, [node], inner.inputs, inner.outputs, inner)

    def build(self, ctx: BuildContext, m: Match) -> Built:
        plan = int8_plan(ctx.g)
        inner: Match = m.info
        b = inner.lowering.build(ctx, inner)
        enters = [_entry(plan, v) if plan.grid(v) is not None else None for v in inner.inputs]
        leaves = [_exit(plan, o) for o in inner.outputs]
        fn = _convert(b.fn, enters, leaves, len(inner.outputs) > 1)
        converted = any(enters) or any(leaves)
        out = "_f32out" if any(leaves) else ""
        return Built(fn, f"{b.exec_type}_I8{out}", fresh=b.fresh or converted, trace_fn=None)


# ---------------------------------------------------------------- FakeQuantize on its own
@lowers("FakeQuantize")
class FakeQuantizeLowering(Lowering):
    """A FakeQuantize no compute op absorbed: codes when its result is carried (entering an INT8 region); else
    quantize + dequantize (256 levels, per-tensor or per-channel grids with zero on a level, the same input and
    output range: two vectorized passes); else the exact float formula (any constant ranges and levels)."""

    def match(self, node: Node, g: GraphView) -> Match | None:
        if not g.is_runtime(node.inputs[0]) or any(g.const(s) is None for s in node.inputs[1:]) or \
                node.inputs[0].element_type.name not in ("f32", "f16", "bf16") or not g.torch_ok(node) or \
                not node.outputs[0].shape.rank_is_static:
            return None
        return Match(self, [node], [node.inputs[0]], [node.outputs[0]])

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        plan = int8_plan(ctx.g)
        spec = plan.fq.get(node.uid)
        if spec is not None and plan.is_carried(node.outputs[0]):
            requant = spec.requant
            src = plan.grid(node.inputs[0])
            if plan.is_carried(node.inputs[0]) and src is not None:
                return _requantize(src, requant)
            return Built(lambda x: quantize(x, requant), "torch_quantize_I8", fresh=True, trace_fn=None)
        if spec is not None and spec.requant.same(spec.grid):
            # four in-place passes eagerly; traced, post-ops of the partition before it (int8_tensors.py)
            eager, traced = grid_fake_quantize(spec.grid)
            return Built(eager, "torch_fakequantize_f32", fresh=True, trace_fn=traced)
        values = [ctx.g.const(s) for s in node.inputs[1:]]
        rank = node.outputs[0].shape.rank
        per_channel = channel_grids(values, rank) if node.attrs["levels"] == 256 else None  # type: ignore[arg-type]
        if per_channel is not None:
            axis, scales, zps = per_channel
            view = [1] * rank
            view[axis] = -1
            inv = (1.0 / scales).float().reshape(view)
            zero = zps.float().reshape(view)
            step = scales.float().reshape(view)

            def fq_channels(x: Any) -> Any:
                # five vectorized passes (torch.quantize_per_channel takes 12x longer)
                return torch.addcmul(zero, x, inv).round_().clamp_(0, 255).sub_(zero).mul_(step)
            return Built(fq_channels, "torch_fakequantize_per_channel_f32", fresh=True,
                         trace_fn=lambda x: (torch.addcmul(zero, x, inv).round().clamp(0, 255) - zero) * step)
        il, ih, ol, oh = ranges_f64(values, rank)  # type: ignore[arg-type]
        levels = int(node.attrs["levels"])
        return Built(lambda x: fake_quantize_exact(x, il, ih, ol, oh, levels), "torch_fakequantize_exact_f32",
                     fresh=True)


def _requantize(src: Grid, requant: Grid) -> Built:
    """A FakeQuantize of carried codes on grid `src` whose result is carried: the same codes when its input range
    is that grid (every value already lies on a level inside the range), else the codes of the dequantized values
    on `requant` (torch's dequantize + quantize_per_tensor: two vectorized passes)."""
    if requant.same(src):
        return Built(lambda c: c, "codes_passthrough_I8", fresh=False, trace_fn=None)
    return Built(lambda c: quantize(dequantize(c, src), requant), "torch_requantize_I8", fresh=True, trace_fn=None)


# ---------------------------------------------------------------- reductions of codes
@lowers_first("ReduceMean")
class QuantizedMean(Lowering):
    """ReduceMean of carried codes: the mean is linear, so (mean(codes) - zero point) * scale, one pass over the
    8-bit codes (the float Q-value is never written)."""

    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        if not plan.active or not plan.is_carried(node.inputs[0]):
            return None
        return Match(self, [node], [node.inputs[0]], [node.outputs[0]])

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        grid = int8_plan(ctx.g).grid(node.inputs[0])
        axes = reduction_axes(node, node.inputs[0].shape.rank, ctx.g.const(node.inputs[1]))  # type: ignore[arg-type]
        keep = bool(node.attrs["keep_dims"])
        assert grid is not None
        zp, scale = float(grid.zero_point), float(np.float32(grid.scale))

        def fn(c: Any) -> Any:
            return torch.mean(c, dim=axes, keepdim=keep, dtype=torch.float32).sub_(zp).mul_(scale)
        return Built(fn, "torch_qreducemean_I8_f32out", fresh=True, trace_fn=None)


# ---------------------------------------------------------------- activations between two grids
_ACTIVATIONS = ("Relu", "Sigmoid", "Tanh", "HSwish", "HSigmoid", "Swish", "Clamp", "Gelu", "PRelu")


@lowers_first(*_ACTIVATIONS)
class QuantizedActivation(Lowering):
    """An activation of carried codes whose result goes into a carried FakeQuantize (quant_patterns.unary_tail):
    dequantize, the activation in float, quantize to the FakeQuantize's codes (three vectorized passes where the
    float route would write the fake-quantized input, compute the activation and quantize it again)."""

    def match(self, node: Node, g: GraphView) -> Match | None:
        plan = int8_plan(g)
        if not plan.active or not plan.is_carried(node.inputs[0]):
            return None
        spec = unary_tail(node, g, plan)
        act = activation_of(node, g)
        if spec is None or act is None:
            return None
        return Match(self, [node, spec.node], [node.inputs[0]], [spec.node.outputs[0]], (act, spec))

    def build(self, ctx: BuildContext, m: Match) -> Built:
        act, spec = m.info
        src = int8_plan(ctx.g).grid(m.root.inputs[0])
        assert src is not None
        fn_act, requant = act.inplace or act.fn, spec.requant

        def fn(c: Any) -> Any:
            return quantize(fn_act(dequantize(c, src)), requant)
        return Built(fn, f"torch_q{act.attr}+fq_I8", fresh=True, trace_fn=None)
