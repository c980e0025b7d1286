"""The INT8 plan of a specialized graph: which values travel as 8-bit codes and which ops run INT8 kernels.

An INT8 IR (irforge.quantize, NNCF) marks quantized tensors with FakeQuantize(levels=256, per-tensor ranges) and
stores weights as i8 Const -> Convert(f32) -> Multiply(per-output-channel scale). Specialization folds that chain
into f32 weights; the i8 data is read back here from the folded nodes (their Constants are still in the clone) and
checked to reproduce the folded weights bit for bit, so REF and the INT8 kernels use the same weights.

Terms:
* a *Q-value* is a value every element of which lies on a known 256-level grid (`Grid`): a FakeQuantize's output,
  and what MaxPool and data movement (Reshape, Transpose, Concat of inputs on one grid, Split, Slice, Gather with
  constant indices, ...) make of Q-values;
* an op *accepts codes* on an input when its INT8 lowering (lowerings/quantized.py) reads that input as codes:
  Convolution/GroupConvolution/MatMul with i8 weights (input 0), at least IRFORGE_CPU_INT8_MIN_MACS
  multiply-accumulates (`min_macs`: smaller layers run f32 on the fake-quantized values, faster than torch's
  per-call cost of an INT8 operator) and a reduction of at least MIN_DEPTH per output (depthwise layers and
  3-channel 3x3 stems run f32: memory-bound, no faster in INT8), or a MatMul with at least MIN_WEIGHTS weights
  (bound by their bytes); MaxPool and data movement (their data inputs) when their result is carried;
  Add/Multiply of two Q-values when the FakeQuantize after them (through an optional Relu) is carried; a
  FakeQuantize of a Q-value when its own result is carried (a requantization of codes, nothing at all when both
  grids agree: ONNX Runtime's QDQ files put a QuantizeLinear/DequantizeLinear pair with the input's parameters
  after MaxPool, Reshape, ...); an element-wise activation (fusion.activation_of: Sigmoid, HSigmoid, Swish, ...)
  whose result goes alone into a carried FakeQuantize (SiLU and HardSwish written as x * act(x) with Q/DQ pairs
  after each op); ReduceMean (`SINKS`: a float result computed from the codes, (mean(codes) -
  zero_point) * scale: the global average pool ending a CNN). Codes thus flow only where they reach an INT8 layer;
* a Q-value is *carried* (its slot holds uint8 codes, not floats) when every op reading it accepts codes and it is
  not a model output. Each INT8 lowering reads carried inputs as codes and quantizes float Q-values on entry (exact:
  they lie on the grid), and writes codes when its result is carried, floats otherwise (the dequantization where
  float layers begin).

Saturation (measured with torch 2.13's oneDNN and fbgemm INT8 kernels on AVX2 without VNNI): u8 x s8 products are
summed in pairs of adjacent input channels (2j, 2j+1, same kernel tap) by vpmaddubsw into saturating 16-bit
integers. A pair saturates only when 255 * (sum of its same-sign weights) exceeds the 16-bit range, so a layer is
exact for any input when every pair's positive and negative weight sums are at most 128 (`pair_safe`): always
with 7-bit weights (the overflow fix, -63..63) and for depthwise convolutions; rarely with 8-bit weights. CPUs with
VNNI (vpdpbusd) accumulate in 32 bits and never saturate.

IRFORGE_CPU_INT8 chooses what a layer with saturating weights does on a CPU without VNNI:
* `exact` (default): the INT8 kernel twice, on weights split into two saturation-free halves (clamp to +-64 and
  the rest), summed by oneDNN's sum post-op: exact, but slower than one f32 convolution (ResNet-50 with 8-bit
  weights after the first layer: 1.1x its f32 time), so on such CPUs quantize with overflow_fix="enable";
* `fast`: the INT8 kernel once (saturating pairs clip, as OpenVINO's CPU plugin does on such CPUs);
* `off`: no INT8 kernels (FakeQuantize runs in float, layers run in f32).
Exactness otherwise: the kernels sum integers exactly and requantize once in f32 (round half to even), REF
computes the float layer and rounds in float64; results differ only where REF's value lies within f32 rounding of
a tie between two levels (one level apart there).

One deliberate exception (IRFORGE_CPU_INT8_SUM, `fused` by default): a convolution whose FakeQuantize goes alone
into a residual Add of codes (-> Relu) -> carried FakeQuantize (ResNet's block sum, `residual_tail`) runs as one
oneDNN kernel with a sum post-op, as OpenVINO's CPU plugin runs it: the convolution's float result plus the
dequantized residual, requantized once. REF rounds the convolution's result to its own grid first, so an element
may land one level of the output grid away (at most half a step of the skipped grid before the final rounding).
The separate quantized Add cost ResNet-50 ~7% of its time (a pass over both operands per block, 16 steps);
`separate` keeps it, and REF's bits. (The same skip for the bias Add ORT's QDQ files put between a MatMul's
FakeQuantize and the next one measured no faster on BERT-mini and moved its cosine with ORT from 0.9999 to 0.998:
not done.)"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch

from irforge.ir.graph import Node, Output
from irforge.ir.ops.convolution import dilated, explicit_pads, ints_or, resolve_pads
from irforge.runtime.devices.cpu.config import cpu_flags
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.int8_tensors import Grid

LEVELS = 256
MODES = ("exact", "fast", "off")
RESHAPES = ("Reshape", "Squeeze", "Unsqueeze")
# data movement: the float lowering's own kernel moves codes as well (every input after the data is a constant)
MOVES = RESHAPES + ("Transpose", "Concat", "Split", "VariadicSplit", "Slice", "StridedSlice", "Gather",
                    "Broadcast", "Tile", "ShuffleChannels")
COMPUTE = ("Convolution", "GroupConvolution", "MatMul")
BINARY = ("Add", "Multiply")
# ops that read codes and write floats (a linear reduction: computed on the codes, then dequantized once)
SINKS = ("ReduceMean",)
DEFAULT_MIN_MACS = 4_000_000
# multiply-accumulates per output element (C/groups * kernel size; a matrix product's K) below which a layer stays
# f32 whenever IRFORGE_CPU_INT8_MIN_MACS is not 0: with a short reduction the layer is bound by memory and torch's
# INT8 kernel is no faster than the f32 one inside a traced segment (MobileNetV3's 3x3 stem on 3 channels, K = 27:
# quantize + INT8 convolution 0.72 ms against FakeQuantize + f32 convolution 0.44 ms at 1 thread; depthwise
# layers, K = 9 or 25, likewise), while ResNet-50's 7x7 stem (K = 147) runs 2.7x faster in INT8
MIN_DEPTH = 64
# weight elements from which a matrix product runs INT8 whatever its multiply-accumulates: a [1, K] x [K, N] layer
# (a classifier head) reads each weight once, so it is bound by the weights' bytes, 4x fewer in INT8 (ResNet-50's
# 2048x1000 head: 0.5 ms f32 in the plan, weights cold; the INT8 kernel 0.08 ms warm against 0.18 ms f32)
MIN_WEIGHTS = 1 << 19


def min_macs() -> int:
    """Multiply-accumulates below which a layer stays f32 (IRFORGE_CPU_INT8_MIN_MACS; default 4M per intra-op
    thread of the plan): torch's INT8 operators cost ~50-80 us per call on top of the arithmetic (primitive
    creation, quantized tensor bookkeeping), f32 layers in a traced oneDNN Graph segment (segments.py) almost
    nothing, so a small layer does not earn the call back (MobileNetV3-style at 224, 1 thread: 4.3 ms with a 4M
    threshold, 6.7 ms with none, 3.8 ms with 8M; its f32 plan 2.9 ms)."""
    default = DEFAULT_MIN_MACS * torch.get_num_threads()
    try:
        return max(0, int(os.environ.get("IRFORGE_CPU_INT8_MIN_MACS", str(default))))
    except ValueError:
        return default


def int8_mode() -> str:
    raw = os.environ.get("IRFORGE_CPU_INT8", "exact").strip().lower()
    if raw in ("0", "off", "false", "no"):
        return "off"
    return raw if raw in MODES else "exact"


def has_vnni() -> bool:
    """Whether the CPU's INT8 dot products accumulate in 32 bits (no pair saturation)."""
    flags = cpu_flags()
    return bool({"avx512_vnni", "avx_vnni", "amx_int8", "avx_vnni_int8"} & flags)


# ---------------------------------------------------------------- FakeQuantize grids
@dataclass(frozen=True)
class FQSpec:
    """A FakeQuantize the INT8 kernels can compute: a float x becomes the code clamp(round(x / requant.scale) +
    requant.zero_point, 0, 255) (its input range), and the code means `grid` (its output range)."""

    node: Node
    requant: Grid
    grid: Grid


def range_grid(low: float, high: float) -> Grid | None:
    """The 256-level grid of [low, high] when zero falls on a level (an integer zero point in 0..255)."""
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        return None
    scale = (high - low) / (LEVELS - 1)
    z = -low / scale
    zp = int(round(z))
    if not 0 <= zp <= LEVELS - 1 or abs(z - zp) > 1e-3:
        return None
    return Grid(scale, zp)


def fq_spec(node: Node, g: GraphView) -> FQSpec | None:
    if node.type != "FakeQuantize" or node.attrs["levels"] != LEVELS:
        return None
    x = node.inputs[0]
    if x.element_type.name != "f32" or not g.is_runtime(x) or node.outputs[0].element_type.name != "f32":
        return None
    values = [g.const(s) for s in node.inputs[1:]]
    if any(v is None or v.size != 1 for v in values):
        return None
    il, ih, ol, oh = (float(np.asarray(v, np.float64).reshape(-1)[0]) for v in values)  # type: ignore[arg-type]
    requant, grid = range_grid(il, ih), range_grid(ol, oh)
    if requant is None or grid is None:
        return None
    return FQSpec(node, requant, grid)


def channel_grids(values: list[np.ndarray], rank: int) -> tuple[int, torch.Tensor, torch.Tensor] | None:
    """(axis, scales float64, zero points int64) of FakeQuantize ranges [il, ih, ol, oh] that vary along one axis
    (NNCF's per-channel activation ranges before depthwise convolutions), with the same input and output range and
    zero on a level in every channel; None otherwise."""
    if not (np.array_equal(values[0], values[2]) and np.array_equal(values[1], values[3])):
        return None
    lo, hi = (np.asarray(v, np.float64) for v in values[:2])
    if lo.shape != hi.shape or lo.ndim > rank or lo.size < 2:
        return None
    full = (1,) * (rank - lo.ndim) + lo.shape
    axes = [i for i, d in enumerate(full) if d != 1]
    if len(axes) != 1:
        return None
    grids = [range_grid(float(a), float(b)) for a, b in zip(lo.reshape(-1), hi.reshape(-1))]
    if any(gr is None for gr in grids):
        return None
    return (axes[0], torch.tensor([gr.scale for gr in grids], dtype=torch.float64),  # type: ignore[union-attr]
            torch.tensor([gr.zero_point for gr in grids], dtype=torch.int64))  # type: ignore[union-attr]


# ---------------------------------------------------------------- i8 weights
@dataclass
class QWeights:
    """Symmetric per-output-channel INT8 weights: `q` int8 (convolution [O, C/groups, kh, kw], 1-D with kh = 1;
    matrix product [N, K]) and `scale` float64 [O] (positive)."""

    q: np.ndarray
    scale: np.ndarray

    @property
    def safe(self) -> bool:
        return pair_safe(self.q)


def pair_safe(q: np.ndarray) -> bool:
    """No pair of adjacent input channels (axis 1) can saturate a 16-bit vpmaddubsw sum for any u8 input."""
    a = q.astype(np.int32)
    if a.shape[1] == 1:
        return True
    if a.shape[1] % 2:
        a = np.concatenate([a, np.zeros_like(a[:, :1])], axis=1)
    even, odd = a[:, 0::2], a[:, 1::2]
    pos = np.maximum(even, 0) + np.maximum(odd, 0)
    neg = np.maximum(-even, 0) + np.maximum(-odd, 0)
    return int(pos.max(initial=0)) <= 128 and int(neg.max(initial=0)) <= 128


def static_value(out: Output, g: GraphView, depth: int = 0) -> np.ndarray | None:
    """The plan-time value of `out`, also for values folded away by specialization (re-evaluated from their
    Constants with the reference kernels); None for runtime values."""
    v = g.const(out)
    if v is not None:
        return v
    node = out.node
    if node.type == "Constant":
        return node.data
    if node.uid in g.live or node.type in ("Parameter", "Result") or node.bodies or depth > 8:
        return None
    args = [static_value(s, g, depth + 1) for s in node.inputs]
    if any(a is None for a in args):
        return None
    try:
        return np.asarray(node.op.evaluate(node, args)[out.index])  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - not a foldable chain: no INT8 weights
        return None


def _dequantized(out: Output, g: GraphView) -> tuple[np.ndarray, np.ndarray] | None:
    """(q int8, scale float64 broadcast to q's shape) of weights written as i8 Const -> Convert -> Multiply(scale)
    [-> Reshape/Squeeze/Unsqueeze], in the shape of `out`."""
    node = out.node
    target = None
    if node.type in RESHAPES:
        if not out.shape.is_static:
            return None
        target = tuple(out.shape.to_shape())
        node = node.inputs[0].node
    if node.type != "Multiply":
        return None
    for i in (0, 1):
        conv, other = node.inputs[i].node, node.inputs[1 - i]
        if conv.type != "Convert":
            continue
        q = static_value(conv.inputs[0], g)
        s = static_value(other, g)
        if q is None or s is None or q.dtype != np.int8 or s.dtype.kind != "f" or s.ndim > q.ndim:
            continue
        try:
            full = np.broadcast_to(np.asarray(s, np.float64), q.shape)
        except ValueError:
            continue
        if target is not None:
            q, full = q.reshape(target), full.reshape(target)
        return q, full
    return None


def _per_row(q: np.ndarray, scale: np.ndarray) -> QWeights | None:
    """q [O, ...] with a scale constant along every axis but 0: positive per-row scales (rows negated as needed)."""
    rows = scale.reshape(scale.shape[0], -1)
    vec = rows[:, 0].copy()
    if not np.all(rows == vec[:, None]):
        return None
    neg = vec < 0
    if neg.any():
        if np.any(q[neg] == -128):
            return None
        q = q.copy()
        q[neg] = -q[neg]
        vec = np.abs(vec)
    return QWeights(np.ascontiguousarray(q), vec)


def conv_weights(node: Node, g: GraphView) -> QWeights | None:
    """INT8 weights of a Convolution/GroupConvolution in torch's layout [O, C/groups, kh, kw]."""
    folded = g.const(node.inputs[1])
    got = _dequantized(node.inputs[1], g)
    if got is None or folded is None or folded.dtype != np.float32:
        return None
    q, scale = got
    if not np.array_equal(q.astype(np.float32) * scale.astype(np.float32), folded):
        return None  # not what the reference computes with
    if node.type == "GroupConvolution":
        q = q.reshape((q.shape[0] * q.shape[1],) + q.shape[2:])
        scale = scale.reshape(q.shape)
    if q.ndim == 3:
        q, scale = q[:, :, None, :], scale[:, :, None, :]
    if q.ndim != 4:
        return None
    return _per_row(q, scale)


def linear_weights(node: Node, g: GraphView) -> QWeights | None:
    """INT8 weights [N, K] of a MatMul whose input 1 is a constant 2-D dequantized i8 matrix."""
    folded = g.const(node.inputs[1])
    got = _dequantized(node.inputs[1], g)
    if got is None or folded is None or folded.ndim != 2 or folded.dtype != np.float32:
        return None
    q, scale = got
    if not np.array_equal(q.astype(np.float32) * scale.astype(np.float32), folded):
        return None
    if not node.attrs["transpose_b"]:
        q, scale = q.T, scale.T
    return _per_row(q, scale)


# ---------------------------------------------------------------- convolution geometry
@dataclass
class ConvGeometry:
    strides: list[int]
    dilations: list[int]
    padding: list[int]  # symmetric part (2-D)
    extra: list[int] | None  # F.pad amounts (w_begin, w_end, h_begin, h_end) for the asymmetric rest
    groups: int
    one_d: bool
    in_shape: list[int]  # the (unit-height, padded) input shape the kernel sees


def conv_geometry(node: Node, g: GraphView, w: QWeights) -> ConvGeometry | None:
    shape = g.static_shape(node.inputs[0])
    if shape is None or len(shape) not in (3, 4):
        return None
    nsp = len(shape) - 2
    a = node.attrs
    k = list(w.q.shape[2:]) if nsp == 2 else [w.q.shape[3]]
    strides = list(a["strides"])
    dil = ints_or(a["dilations"], 1, nsp)
    pb, pe = resolve_pads(list(shape[2:]), [dilated(kk, d) for kk, d in zip(k, dil)], strides, a["auto_pad"],
                          *explicit_pads(node, nsp))
    if any(p < 0 for p in pb + pe):
        return None
    groups = shape[1] // w.q.shape[1]
    if groups * w.q.shape[1] != shape[1] or w.q.shape[0] % groups:
        return None
    padding = [min(b, e) for b, e in zip(pb, pe)]
    rest = [(b - p, e - p) for b, e, p in zip(pb, pe, padding)]
    extra = None
    in_shape = list(shape)
    if any(r != (0, 0) for r in rest):
        extra = [v for pair in reversed(rest) for v in pair]
        for i, (b, e) in enumerate(rest):
            in_shape[2 + i] += b + e
    one_d = nsp == 1
    if one_d:
        strides, dil, padding = [1] + strides, [1] + dil, [0] + padding
        in_shape = in_shape[:2] + [1] + in_shape[2:]
    return ConvGeometry(strides, dil, padding, extra, groups, one_d, in_shape)


# ---------------------------------------------------------------- the plan
@dataclass
class Int8Plan:
    """Per specialized graph: FakeQuantize specs, grids of Q-values, INT8 weights of the compute ops that accept
    codes, and the carried values."""

    mode: str
    min_macs: int = 0
    fq: dict[int, FQSpec] = field(default_factory=dict)  # FakeQuantize uid -> spec
    grids: dict[int, Grid] = field(default_factory=dict)  # id(Output) -> grid (Q-values)
    weights: dict[int, QWeights] = field(default_factory=dict)  # compute node uid -> INT8 weights (accepted)
    geometry: dict[int, ConvGeometry] = field(default_factory=dict)  # convolution uid -> geometry
    carried: set[int] = field(default_factory=set)  # id(Output) of values held as codes

    def grid(self, out: Output) -> Grid | None:
        return self.grids.get(id(out))

    def is_carried(self, out: Output) -> bool:
        return id(out) in self.carried

    @property
    def active(self) -> bool:
        return bool(self.grids)


_PLANS: "weakref.WeakKeyDictionary[GraphView, Int8Plan]" = weakref.WeakKeyDictionary()


def int8_plan(g: GraphView) -> Int8Plan:
    """The INT8 plan of `g` (computed on first use, before any match claims nodes)."""
    plan = _PLANS.get(g)
    if plan is None:
        plan = _analyze(g)
        _PLANS[g] = plan
    return plan


def _analyze(g: GraphView) -> Int8Plan:
    plan = Int8Plan(int8_mode(), min_macs())
    ops = g.spec.ops
    if plan.mode == "off" or not any(n.type == "FakeQuantize" for n in ops):
        return plan
    for node in ops:
        if node.type == "FakeQuantize":
            spec = fq_spec(node, g)
            if spec is not None:
                plan.fq[node.uid] = spec
                plan.grids[id(node.outputs[0])] = spec.grid
        elif node.type in MOVES or node.type == "MaxPool":
            grid = _data_grid(node, plan)
            if grid is not None and _structure_ok(node, g):
                for out in _moved(node):
                    plan.grids[id(out)] = grid
        elif node.type in COMPUTE and plan.grid(node.inputs[0]) is not None:
            _compute_weights(node, g, plan)
    for node in reversed(ops):  # consumers first: whether an op accepts codes depends on its result being carried
        for out in node.outputs:
            if id(out) in plan.grids and _carried(out, g, plan):
                plan.carried.add(id(out))
    return plan


def binary_tail(node: Node, g: GraphView, plan: Int8Plan) -> tuple[Node | None, FQSpec | None]:
    """The Relu (or None) and the FakeQuantize (or None) an Add/Multiply's result goes through alone."""
    out = node.outputs[0]
    relu = None
    use = g.sole_consumer(out)
    if use is not None and use[0].type == "Relu" and use[0].outputs[0].shape == out.shape:
        relu = use[0]
        out = relu.outputs[0]
        use = g.sole_consumer(out)
    spec = plan.fq.get(use[0].uid) if use is not None and use[1] == 0 else None
    return relu, spec


@dataclass(frozen=True)
class Residual:
    """The residual connection after a convolution's FakeQuantize: Add(that FakeQuantize, `other`) [-> Relu] ->
    `fq` (carried), as ORT's QDQ files and NNCF write a ResNet block's sum."""

    add: Node
    other: Output  # the residual Q-value (the block's input or the shortcut convolution's result)
    relu: Node | None
    fq: FQSpec


def fused_sum() -> bool:
    """Whether a convolution absorbs the residual Add after its FakeQuantize as oneDNN's sum post-op, skipping that
    rounding (IRFORGE_CPU_INT8_SUM: `fused`, the default; `separate` keeps the quantized Add and REF's bits, see
    the module docstring)."""
    return os.environ.get("IRFORGE_CPU_INT8_SUM", "fused").strip().lower() not in ("0", "off", "separate", "exact")


def residual_tail(fq_node: Node, g: GraphView, plan: Int8Plan) -> Residual | None:
    """The residual Add a carried FakeQuantize's result goes into alone, when that Add runs on codes (its other
    input a Q-value of the same shape, its (Relu ->) FakeQuantize result carried)."""
    out = fq_node.outputs[0]
    use = g.sole_consumer(out)
    if use is None or use[0].type != "Add":
        return None
    add, idx = use
    other = add.inputs[1 - idx]
    shape = g.static_shape(out)
    if other is out or shape is None or g.static_shape(other) != shape or \
            g.static_shape(add.outputs[0]) != shape or not accepts(add, idx, g, plan):
        return None
    relu, spec = binary_tail(add, g, plan)
    assert spec is not None
    return Residual(add, other, relu, spec)


def data_inputs(node: Node) -> list[int]:
    """The inputs of a moving op that carry the data (the others are constant parameters)."""
    return list(range(len(node.inputs))) if node.type == "Concat" else [0]


def _moved(node: Node) -> list[Output]:
    """The outputs of a moving op that hold moved data (MaxPool's indices do not)."""
    return [node.outputs[0]] if node.type == "MaxPool" else list(node.outputs)


def _data_grid(node: Node, plan: Int8Plan) -> Grid | None:
    grids = [plan.grid(node.inputs[i]) for i in data_inputs(node)]
    first = grids[0]
    if first is None or any(gr is None or not gr.same(first) for gr in grids):
        return None
    return first


def _structure_ok(node: Node, g: GraphView) -> bool:
    """Whether a moving op can run on codes: f32 data of static shapes, constant parameters, and (data movement)
    the float lowering takes the node on its own."""
    outs = _moved(node)
    if any(o.element_type.name != "f32" or g.static_shape(o) is None for o in outs):
        return False
    data = set(data_inputs(node))
    if any(g.is_runtime(s) for i, s in enumerate(node.inputs) if i not in data):
        return False
    if node.type == "MaxPool":
        from irforge.runtime.devices.cpu.lowerings.quantized import maxpool_params

        if len(node.outputs) > 1 and (g.uses(node.outputs[1]) or g.is_output(node.outputs[1])):
            return False
        return maxpool_params(node, g) is not None
    from irforge.runtime.devices.cpu.registry import lowering_for

    base = lowering_for(node.type)
    m = base.match(node, g) if base is not None else None
    return m is not None and m.nodes == [node] and m.lowering is base


def _compute_weights(node: Node, g: GraphView, plan: Int8Plan) -> None:
    x = node.inputs[0]
    if x.element_type.name != "f32" or node.outputs[0].element_type.name != "f32" or g.static_shape(x) is None:
        return
    out = g.static_shape(node.outputs[0])
    if out is None:
        return
    if node.type == "MatMul":
        if node.attrs["transpose_a"] or len(g.static_shape(x) or ()) < 2:
            return
        w = linear_weights(node, g)
        if w is not None and w.q.shape[1] == g.static_shape(x)[-1] and \
                (_pays(int(np.prod(out)), w.q.shape[1], plan) or  # type: ignore[index]
                 (w.q.size >= MIN_WEIGHTS and w.q.shape[1] >= MIN_DEPTH)):
            plan.weights[node.uid] = w
        return
    w = conv_weights(node, g)
    if w is None or not _pays(int(np.prod(out)), int(np.prod(w.q.shape[1:])), plan):
        return
    geo = conv_geometry(node, g, w)
    if geo is None:
        return
    plan.weights[node.uid] = w
    plan.geometry[node.uid] = geo


def _pays(outputs: int, depth: int, plan: Int8Plan) -> bool:
    """Whether a layer of `outputs` elements, each a sum of `depth` products, runs INT8: at least min_macs
    multiply-accumulates and (unless min_macs is 0: every layer INT8) a reduction of at least MIN_DEPTH."""
    return outputs * depth >= plan.min_macs and (plan.min_macs == 0 or depth >= MIN_DEPTH)


def accepts(node: Node, index: int, g: GraphView, plan: Int8Plan) -> bool:
    """Whether `node`'s INT8 lowering reads input `index` as codes."""
    t = node.type
    if t in COMPUTE:
        return index == 0 and node.uid in plan.weights
    if t in MOVES or t == "MaxPool":
        return index in data_inputs(node) and any(plan.is_carried(o) for o in _moved(node))
    if t in BINARY:
        a, b = node.inputs
        if plan.grid(a) is None or plan.grid(b) is None or node.attrs.get("auto_broadcast", "numpy") == "pdpd" or \
                g.static_shape(node.outputs[0]) is None or node.outputs[0].element_type.name != "f32":
            return False
        spec = binary_tail(node, g, plan)[1]
        return spec is not None and plan.is_carried(spec.node.outputs[0])
    if t == "FakeQuantize":
        return index == 0 and node.uid in plan.fq and plan.is_carried(node.outputs[0])
    if index == 0 and unary_tail(node, g, plan) is not None:
        return True
    if t in SINKS:
        return index == 0 and sink_ok(node, g)
    return False


def unary_tail(node: Node, g: GraphView, plan: Int8Plan) -> FQSpec | None:
    """The carried FakeQuantize an element-wise activation's f32 result goes into alone (None when there is none
    or `node` is no activation oneDNN knows)."""
    from irforge.runtime.devices.cpu.fusion import activation_of

    out = node.outputs[0]
    if out.element_type.name != "f32" or out.shape != node.inputs[0].shape or activation_of(node, g) is None:
        return None
    use = g.sole_consumer(out)
    spec = plan.fq.get(use[0].uid) if use is not None and use[1] == 0 else None
    return spec if spec is not None and plan.is_carried(spec.node.outputs[0]) else None


def sink_ok(node: Node, g: GraphView) -> bool:
    """Whether a ReduceMean can compute its float result from codes: constant axes, f32 of static shapes."""
    out = node.outputs[0]
    axes = g.const(node.inputs[1])
    return node.type == "ReduceMean" and axes is not None and axes.size > 0 and \
        out.element_type.name == "f32" and g.static_shape(node.inputs[0]) is not None and \
        g.static_shape(out) is not None


def _carried(out: Output, g: GraphView, plan: Int8Plan) -> bool:
    uses = g.uses(out)
    return bool(uses) and not g.is_output(out) and all(accepts(n, i, g, plan) for n, i in uses)
