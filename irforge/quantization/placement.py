"""Which tensors get a FakeQuantize, which weights are quantized, and which quantizers must be reverted together.

The hybrid set: the activation inputs of Convolution/GroupConvolution/ConvolutionBackpropData/MatMul are
quantized, and their weights too. INT8 may flow through ReLU/Clamp, MaxPool/AvgPool, element-wise Add/Multiply,
Concat and the data-movement ops: an Add/Multiply/AvgPool gets quantized inputs only when everything its output
reaches (through those ops) runs in INT8, so a residual Add before a LayerNorm or a detector's decode stays in
floating point. Quantizers then move upward from the requesting inputs through value-preserving ops (MaxPool,
Reshape, Transpose, Split, Concat, ...) as long as every consumer of the tensor wants it quantized, so one
FakeQuantize serves a whole fan-out; they stop at ReLU's output (a non-negative tensor gets the full u8 range).
Concat inputs are unified (one range for all). Everything else stays floating point.

Groups (for the accuracy-aware search) are the connected sets of quantizers and the ops they feed: reverting one
op to floating point needs every quantizer of its group removed."""
from __future__ import annotations

from dataclasses import dataclass, field

from irforge.errors import OptionError
from irforge.ir.graph import Model, Node, Output
from irforge.ir.opset import get_op
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.static import StaticValues

QUANTIZED_TYPES = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData",
                             "GroupConvolutionBackpropData", "MatMul"})
FLOW_TYPES = frozenset({"Add", "Multiply", "AvgPool"})
# value-preserving ops a quantizer moves up through (FakeQuantize commutes with them on a grid holding zero)
MOVE_TYPES = frozenset({"MaxPool", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "StridedSlice", "Slice", "Pad",
                        "DepthToSpace", "SpaceToDepth", "ShuffleChannels", "Broadcast", "Tile", "Gather", "Split",
                        "VariadicSplit", "Concat"})
# ops INT8 flows through whose output keeps its own quantizer (a non-negative range after them)
STOP_TYPES = frozenset({"Relu", "Clamp"})

Slot = tuple[Node, int]


@dataclass
class ActivationQuantizer:
    """A FakeQuantize on `value` feeding `slots` (every consumer when `shared`). Quantizers with the same
    `unify` id share one range (Concat inputs)."""

    qid: int
    value: Output
    slots: list[Slot]
    shared: bool
    unify: int = -1
    group: int = -1


@dataclass
class WeightTarget:
    """Input `index` of `node` holds static weights, quantized per output channel (`axes` are kept, the others
    reduced). `channel_axis` is the output channel axis of the op's result; `bias` the Add (and its static input
    index) adding a per-channel bias to that result, if any."""

    node: Node
    index: int
    axes: tuple[int, ...]
    data_index: int
    data_channel_axis: int
    channel_axis: int
    bias: tuple[Node, int] | None = None
    first_layer: bool = False


@dataclass
class QuantizedOp:
    node: Node
    weight: WeightTarget | None
    group: int = -1

    @property
    def is_layer(self) -> bool:
        return self.node.type in QUANTIZED_TYPES


@dataclass
class Group:
    gid: int
    quantizers: list[int] = field(default_factory=list)
    ops: list[Node] = field(default_factory=list)

    def label(self) -> str:
        layers = [n.name for n in self.ops if n.type in QUANTIZED_TYPES] or [n.name for n in self.ops]
        return ", ".join(layers)


@dataclass
class Placement:
    quantizers: list[ActivationQuantizer]
    ops: list[QuantizedOp]
    groups: list[Group]
    layers: list[Node]  # every node of a QUANTIZED_TYPES type (quantized or not), for the report
    ignored: list[Node]

    def op(self, node: Node) -> QuantizedOp | None:
        for q in self.ops:
            if q.node is node:
                return q
        return None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _is_float(src: Output) -> bool:
    return src.element_type.is_float


def _data_inputs(node: Node) -> list[int]:
    if node.type == "Concat":
        return list(range(len(node.inputs)))
    return [0]


def _type_matches(node: Node, wanted: set[str]) -> bool:
    return node.type.lower() in wanted or node.op.ir_type.lower() in wanted


def resolve_ignored(model: Model, options: QuantizationOptions) -> set[int]:
    """uids of the nodes the user excluded; unknown op types and name patterns that match nothing are errors."""
    nodes = model.nodes()
    types = {t.lower() for t in options.ignored_types}
    for t in options.ignored_types:
        try:
            get_op(t)
        except Exception as e:
            raise OptionError(f"ignored_types: unknown op type '{t}'") from e
    ignored = {n.uid for n in nodes if types and _type_matches(n, types)}
    for pattern, text in zip(options.name_patterns, options.ignored_names):
        hits = [n for n in nodes if pattern.search(n.name)]
        if not hits:
            sample = ", ".join(n.name for n in nodes if n.type in QUANTIZED_TYPES | FLOW_TYPES)[:200]
            raise OptionError(f"ignored_names: '{text}' matches no node of the model (layers: {sample})")
        ignored.update(n.uid for n in hits)
    return ignored


def place(model: Model, options: QuantizationOptions, static: StaticValues | None = None) -> Placement:
    """Decide the quantizers, the weights to quantize and the revert groups of `model`."""
    return _Placer(static or StaticValues()).place(model, options)


class _Placer:
    def __init__(self, static: StaticValues) -> None:
        self.static = static

    def is_static(self, src: Output) -> bool:
        return self.static.is_static(src)

    def activation_inputs(self, node: Node) -> list[int]:
        """The inputs of a quantized/flow op that carry activations (not static, floating point)."""
        if node.type == "AvgPool":
            return [0] if not self.is_static(node.inputs[0]) and _is_float(node.inputs[0]) else []
        return [i for i, src in enumerate(node.inputs[:2]) if not self.is_static(src) and _is_float(src)]

    def is_flow_op(self, node: Node) -> bool:
        if node.type == "AvgPool":
            return True
        return len(self.activation_inputs(node)) == 2  # Add/Multiply of two activations (not a bias or a scale)

    def can_move(self, node: Node) -> bool:
        """A quantizer at this node's output(s) may move to its data input(s) unchanged in meaning."""
        if node.type == "Pad":
            if node.attrs.get("pad_mode") == "constant" and len(node.inputs) > 3:
                value = self.static.value(node.inputs[3])
                if value is None or float(value.reshape(-1)[0]) != 0.0:
                    return False
        if node.type == "Gather" and self.is_static(node.inputs[0]):
            return False
        ins = [node.inputs[i] for i in _data_inputs(node)]
        return bool(ins) and all(not self.is_static(s) and _is_float(s) for s in ins)

    def place(self, model: Model, options: QuantizationOptions) -> Placement:
        return _place(self, model, options)


def _place(P: _Placer, model: Model, options: QuantizationOptions) -> Placement:
    nodes = model.nodes()
    ignored = resolve_ignored(model, options)
    order = [n for n in nodes if n.type != "Result"]

    # ---- 1. which slots consume INT8 (wants[id(output)]: every consumer of the tensor runs in INT8)
    wants: dict[int, bool] = {}
    sink_cache: dict[tuple[int, int], bool] = {}

    def all_outputs_want(n: Node) -> bool:
        used = [o for o in n.outputs if o.uses]
        return bool(used) and all(wants.get(id(o), False) for o in used)

    def is_sink(n: Node, i: int) -> bool:
        key = (n.uid, i)
        if key not in sink_cache:
            sink_cache[key] = _is_sink(n, i)
        return sink_cache[key]

    def _is_sink(n: Node, i: int) -> bool:
        if n.uid in ignored or n.type == "Result":
            return False
        if n.type in QUANTIZED_TYPES:
            return i in P.activation_inputs(n)
        if n.type in FLOW_TYPES:
            return P.is_flow_op(n) and i in P.activation_inputs(n) and all_outputs_want(n)
        if n.type in MOVE_TYPES or n.type in STOP_TYPES:
            return i in _data_inputs(n) and all_outputs_want(n)
        return False

    for n in reversed(order):
        for out in n.outputs:
            wants[id(out)] = bool(out.uses) and all(is_sink(c, i) for c, i in out.uses)

    # ---- 2. requests: inputs of quantized and flow ops; tokens identify them for unification and grouping
    uf = _UnionFind()
    pending: dict[int, list[tuple[Slot, frozenset[int]]]] = {}
    ops: dict[int, Node] = {}
    token = 0
    for n in order:
        if n.uid in ignored:
            continue
        if n.type in QUANTIZED_TYPES or (n.type in FLOW_TYPES and P.is_flow_op(n) and all_outputs_want(n)):
            for i in P.activation_inputs(n):
                pending.setdefault(id(n.inputs[i]), []).append(((n, i), frozenset({token})))
                uf.union(("t", token), ("op", n.uid))
                token += 1
            if P.activation_inputs(n):
                ops[n.uid] = n

    # ---- 3. move requests upward through value-preserving ops, then place one quantizer per tensor
    quantizers: list[ActivationQuantizer] = []
    qtokens: list[frozenset[int]] = []
    for n in reversed(order):
        outs = [o for o in n.outputs if id(o) in pending]
        if not outs:
            continue
        covered = {id(o): _covers(o, pending[id(o)]) for o in n.outputs if o.uses}
        movable = (n.type in MOVE_TYPES and n.uid not in ignored and covered and all(covered.values())
                   and P.can_move(n))
        if movable:
            tokens = frozenset().union(*(t for o in outs for _, t in pending[id(o)]))
            for d in _data_inputs(n):
                pending.setdefault(id(n.inputs[d]), []).append(((n, d), tokens))
            continue
        for o in outs:
            entries = pending[id(o)]
            tokens = frozenset().union(*(t for _, t in entries))
            slots = list(dict.fromkeys(s for s, _ in entries))
            quantizers.append(ActivationQuantizer(len(quantizers), o, slots, covered.get(id(o), False)))
            qtokens.append(tokens)
            first = next(iter(tokens))
            for t in tokens:
                uf.union(("t", first), ("t", t))

    # ---- 4. unification (quantizers sharing a token: Concat inputs) and groups (connected quantizers + ops)
    unify = _UnionFind()
    by_token: dict[int, int] = {}
    for q, tokens in zip(quantizers, qtokens):
        for t in tokens:
            if t in by_token:
                unify.union(by_token[t], q.qid)
            else:
                by_token[t] = q.qid
    for q in quantizers:
        q.unify = int(unify.find(q.qid))  # type: ignore[arg-type]

    group_ids: dict[object, int] = {}
    groups: list[Group] = []

    def group_of(key: object) -> Group:
        root = uf.find(key)
        if root not in group_ids:
            group_ids[root] = len(groups)
            groups.append(Group(len(groups)))
        return groups[group_ids[root]]

    for q, tokens in zip(quantizers, qtokens):
        g = group_of(("t", next(iter(tokens))))
        q.group = g.gid
        g.quantizers.append(q.qid)

    weighted_before = _weighted_ancestors(P, order, ops)
    qops: list[QuantizedOp] = []
    for n in order:
        if n.uid not in ops:
            continue
        g = group_of(("op", n.uid))
        g.ops.append(n)
        weight = _weight_target(P, n) if n.type in QUANTIZED_TYPES else None
        if weight is not None:
            weight.first_layer = not weighted_before.get(n.uid, False)
        qops.append(QuantizedOp(n, weight, g.gid))
    layers = [n for n in order if n.type in QUANTIZED_TYPES]
    return Placement(quantizers, qops, groups, layers, [n for n in order if n.uid in ignored])


def _covers(out: Output, entries: list[tuple[Slot, frozenset[int]]]) -> bool:
    requested = {(s[0].uid, s[1]) for s, _ in entries}
    return all((c.uid, i) in requested for c, i in out.uses)


def _weighted_ancestors(P: _Placer, order: list[Node], ops: dict[int, Node]) -> dict[int, bool]:
    """uid -> whether a quantized op with static weights lies upstream (for the first-layer overflow fix)."""
    before: dict[int, bool] = {}
    for n in order:
        hit = False
        for src in n.inputs:
            p = src.node
            if before.get(p.uid, False) or (p.uid in ops and p.type in QUANTIZED_TYPES
                                            and any(P.is_static(s) for s in p.inputs)):
                hit = True
                break
        before[n.uid] = hit
    return before


_CONV_AXES = {"Convolution": (0,), "GroupConvolution": (0, 1), "ConvolutionBackpropData": (1,),
              "GroupConvolutionBackpropData": (0, 2)}


def _weight_target(P: _Placer, n: Node) -> WeightTarget | None:
    if n.type in _CONV_AXES:
        w = n.inputs[1]
        if not P.is_static(w) or not _is_float(w) or not w.shape.rank_is_static:
            return None
        target = WeightTarget(n, 1, _CONV_AXES[n.type], 0, 1, 1)
    else:  # MatMul
        statics = [i for i in (0, 1) if P.is_static(n.inputs[i]) and _is_float(n.inputs[i])]
        if len(statics) != 1:
            return None
        i = statics[0]
        w = n.inputs[i]
        if not w.shape.rank_is_static:
            return None
        rank = w.shape.rank
        if rank == 1:
            axes: tuple[int, ...] = ()
        else:
            transposed = n.attrs["transpose_b"] if i == 1 else n.attrs["transpose_a"]
            k_axis = (rank - 1 if transposed else rank - 2) if i == 1 else (rank - 2 if transposed else rank - 1)
            axes = tuple(a for a in range(rank) if a != k_axis)
        data = 1 - i
        x = n.inputs[data]
        xr = x.shape.rank if x.shape.rank_is_static else 2
        if data == 0:
            data_axis = xr - 2 if (n.attrs["transpose_a"] and xr > 1) else xr - 1
        else:
            data_axis = xr - 1 if (n.attrs["transpose_b"] and xr > 1) else max(xr - 2, 0)
        out = n.outputs[0]
        out_rank = out.shape.rank if out.shape.rank_is_static else 2
        channel = out_rank - 1 if i == 1 else max(out_rank - 2, 0)
        target = WeightTarget(n, i, axes, data, data_axis, channel)
    target.bias = _bias_of(P, n, target.channel_axis)
    return target


def _bias_of(P: _Placer, n: Node, channel_axis: int) -> tuple[Node, int] | None:
    """The Add right after `n` adding a static per-channel bias along `channel_axis` of n's output."""
    out = n.outputs[0]
    if len(out.uses) != 1 or not out.shape.rank_is_static:
        return None
    add, i = out.uses[0]
    if add.type != "Add" or not P.is_static(add.inputs[1 - i]):
        return None
    bias = P.static.value(add.inputs[1 - i])
    assert bias is not None
    rank = out.shape.rank
    channels = out.shape[channel_axis]
    if not channels.is_static or bias.ndim > rank or bias.size != channels.min:
        return None
    if not add.inputs[1 - i].element_type.is_float:
        return None
    padded = (1,) * (rank - bias.ndim) + tuple(bias.shape)
    if bias.size > 1 and padded[channel_axis] != bias.size:
        return None
    if add.outputs[0].shape != out.shape:  # the bias must not broadcast the result to a new shape
        return None
    return add, 1 - i
