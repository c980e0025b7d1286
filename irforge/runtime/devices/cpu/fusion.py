"""Post-op chains the compute lowerings (Convolution, MatMul) absorb, as the converter emits them:

    Conv/MatMul -> [Multiply(per-channel const)] -> [Add/Subtract(per-channel const bias)]* -> [activation]
                -> [Add(residual tensor of the same shape)] -> [Relu]

A per-channel Multiply folds into the weights (and any bias before it), the constants into one bias, the
activation into oneDNN's eltwise post-op, the residual Add into its sum/binary post-op."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irforge.ir.graph import Node, Output
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import scalar_of


@dataclass
class Activation:
    """An activation node with its oneDNN post-op spelling (`attr`, `scalars`, `algorithm`, as torch's mkldnn
    fusion ops take them). `fn` is the torch function computing it alone and `inplace` its in-place form (None
    where torch has none); both are built on first access, so matching imports no torch (the native executor,
    native/, matches the same chains)."""

    node: Node
    attr: str
    scalars: list[float]
    algorithm: str | None

    @property
    def fn(self) -> Callable[[Any], Any]:
        return _torch_forms(self)[0]

    @property
    def inplace(self) -> Callable[[Any], Any] | None:
        return _torch_forms(self)[1]


def _torch_forms(act: Activation) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None]:
    import torch
    import torch.nn.functional as F

    a = act.attr
    if a == "relu":
        return torch.relu, torch.relu_
    if a == "sigmoid":
        return torch.sigmoid, torch.sigmoid_
    if a == "tanh":
        return torch.tanh, torch.tanh_
    if a == "hardswish":
        return F.hardswish, lambda x: F.hardswish(x, inplace=True)
    if a == "hardsigmoid":
        return F.hardsigmoid, lambda x: F.hardsigmoid(x, inplace=True)
    if a == "swish":
        return F.silu, lambda x: F.silu(x, inplace=True)
    if a == "hardtanh":
        lo, hi = act.scalars
        return (lambda x: torch.clamp(x, lo, hi)), (lambda x: torch.clamp_(x, lo, hi))
    if a == "gelu":
        approx = act.algorithm or "none"
        return (lambda x: F.gelu(x, approximate=approx)), None
    assert a == "leaky_relu", a
    s = act.scalars[0]
    return (lambda x: F.leaky_relu(x, s)), (lambda x: F.leaky_relu_(x, s))


def activation_of(node: Node, g: GraphView) -> Activation | None:
    """The activation `node` computes on its input 0 when it is one oneDNN can fuse (f32/bf16 data)."""
    t = node.type
    if node.outputs[0].element_type.name not in ("f32", "bf16"):
        return None
    simple = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HSwish": "hardswish", "HSigmoid": "hardsigmoid"}
    if t in simple:
        return Activation(node, simple[t], [], None)
    if t == "Swish":
        beta = scalar_of(g.const(node.inputs[1])) if len(node.inputs) > 1 else 1.0
        return Activation(node, "swish", [], None) if beta == 1.0 else None
    if t == "Clamp":
        return Activation(node, "hardtanh", [float(node.attrs["min"]), float(node.attrs["max"])], None)
    if t == "Gelu":
        return Activation(node, "gelu", [], "tanh" if node.attrs["approximation_mode"] == "TANH" else "none")
    if t == "PRelu":
        slope = scalar_of(g.const(node.inputs[1]))
        return None if slope is None else Activation(node, "leaky_relu", [float(slope)], None)
    return None


def per_channel(value: np.ndarray | None, out_rank: int, axis: int, channels: int) -> np.ndarray | None:
    """A constant that broadcasts along `axis` only (or is a scalar), as a length-`channels` f64 vector; None
    when it has another shape (or would raise the output's rank)."""
    if value is None or value.ndim > out_rank or value.dtype.kind != "f":
        return None
    full = value.reshape((1,) * (out_rank - value.ndim) + value.shape)
    for i, d in enumerate(full.shape):
        if d != 1 and not (i == axis and d == channels):
            return None
    vec = full.reshape(-1).astype(np.float64)
    return np.broadcast_to(vec, (channels,)).copy() if vec.size == 1 else vec


@dataclass
class PostOps:
    nodes: list[Node] = field(default_factory=list)  # absorbed, in order
    scale: np.ndarray | None = None  # per output channel, folded into the weights
    bias: np.ndarray | None = None  # per output channel (f64)
    act: Activation | None = None  # before the residual
    residual: Output | None = None
    post_act: Activation | None = None  # after the residual (oneDNN's convolutions fuse Relu only there)
    out: Output | None = None  # the value the chain ends with

    def describe(self) -> str:
        parts = []
        if self.bias is not None:
            parts.append("bias")
        if self.act is not None:
            parts.append(self.act.attr)
        if self.residual is not None:
            parts.append("add")
        if self.post_act is not None:
            parts.append(self.post_act.attr)
        return "".join("+" + p for p in parts)


def _other(node: Node, index: int) -> Output:
    return node.inputs[1 - index]


def fold_affine(node: Node, index: int, g: GraphView, rank: int, axis: int, channels: int,
                scale: np.ndarray | None, bias: np.ndarray | None
                ) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """(scale, bias) of `x * scale + bias` after `node` (an Add/Subtract/Multiply whose input `index` is x and
    whose other input is a per-channel constant) follows it; None when `node` is not such an op."""
    if node.type not in ("Add", "Subtract", "Multiply") or (node.type == "Subtract" and index == 1):
        return None
    vec = per_channel(g.const(_other(node, index)), rank, axis, channels)
    if vec is None:
        return None
    if node.type == "Multiply":
        return (vec if scale is None else scale * vec), (None if bias is None else bias * vec)
    signed = -vec if node.type == "Subtract" else vec
    return scale, (signed if bias is None else bias + signed)


def match_post_ops(start: Output, g: GraphView, axis: int, channels: int, residual: bool = True,
                   flexible: bool = False) -> PostOps:
    """Follow `start`'s single-consumer chain and absorb what fuses (see the module docstring). `flexible`:
    the consumer composes the post-ops itself (a linear layer), so the residual may follow the activation and any
    activation may follow the residual (oneDNN's convolution post-ops take neither)."""
    po = PostOps(out=start)
    rank = len(start.shape) if start.shape.rank_is_static else -1

    def take(node: Node) -> None:
        po.nodes.append(node)
        po.out = node.outputs[0]
    while rank >= 0:
        cur = po.out
        assert cur is not None
        use = g.sole_consumer(cur)
        if use is None or not same_value_type(use[0], cur):
            break
        node, idx = use
        if po.act is None and po.residual is None:
            folded = fold_affine(node, idx, g, rank, axis, channels, po.scale, po.bias)
            if folded is not None:
                po.scale, po.bias = folded
                take(node)
                continue
            po.act = activation_of(node, g)
            if po.act is not None:
                take(node)
                continue
        if residual and node.type == "Add" and (po.act is None or flexible) and po.residual is None:
            other = _other(node, idx)
            if g.is_runtime(other) and other.shape == cur.shape and other is not cur and \
                    other.element_type == cur.element_type:
                po.residual = other
                take(node)
                continue
        if po.residual is not None and po.post_act is None and (node.type == "Relu" or flexible):
            po.post_act = activation_of(node, g)
            if po.post_act is not None:
                take(node)
                continue
        break
    return po


def same_value_type(node: Node, value: Output) -> bool:
    """Whether `node` has one output of `value`'s shape and element type (an op a post-op chain can absorb)."""
    return len(node.outputs) == 1 and node.outputs[0].shape == value.shape and \
        node.outputs[0].element_type == value.element_type


def unary_chain(x: Any, act: Activation | None) -> Any:
    return x if act is None else act.fn(x)


def owned_epilogue(post: PostOps) -> Callable[[Any, Any], Any]:
    """`apply(y, r)`: the post-ops after the product, on a result `y` the step owns: the activation, the residual
    `r` added and the activation after it, each in place where torch has that form."""
    act, post_act = _owned(post.act), _owned(post.post_act)
    residual = post.residual is not None

    def apply(y: Any, r: Any) -> Any:
        if act is not None:
            y = act(y)
        if residual:
            y.add_(r)
            if post_act is not None:
                y = post_act(y)
        return y
    return apply


def _owned(act: Activation | None) -> Callable[[Any], Any] | None:
    return None if act is None else (act.inplace if act.inplace is not None else act.fn)
