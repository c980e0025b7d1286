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
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node, Output
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import scalar_of


@dataclass
class Activation:
    """An activation node with its oneDNN post-op spelling (`attr`, `scalars`, `algorithm`, as torch's
    mkldnn fusion ops take them) and the torch function computing it alone (`fn`; `inplace` when one exists)."""

    node: Node
    attr: str
    scalars: list[float]
    algorithm: str | None
    fn: Callable[[torch.Tensor], torch.Tensor]
    inplace: Callable[[torch.Tensor], torch.Tensor] | None


def activation_of(node: Node, g: GraphView) -> Activation | None:
    """The activation `node` computes on its input 0 when it is one oneDNN can fuse (f32/bf16 data)."""
    t = node.type
    if node.outputs[0].element_type.name not in ("f32", "bf16"):
        return None
    if t == "Relu":
        return Activation(node, "relu", [], None, torch.relu, torch.relu_)
    if t == "Sigmoid":
        return Activation(node, "sigmoid", [], None, torch.sigmoid, torch.sigmoid_)
    if t == "Tanh":
        return Activation(node, "tanh", [], None, torch.tanh, torch.tanh_)
    if t == "HSwish":
        return Activation(node, "hardswish", [], None, F.hardswish, lambda x: F.hardswish(x, inplace=True))
    if t == "HSigmoid":
        return Activation(node, "hardsigmoid", [], None, F.hardsigmoid, lambda x: F.hardsigmoid(x, inplace=True))
    if t == "Swish":
        beta = scalar_of(g.const(node.inputs[1])) if len(node.inputs) > 1 else 1.0
        if beta == 1.0:
            return Activation(node, "swish", [], None, F.silu, lambda x: F.silu(x, inplace=True))
        return None
    if t == "Clamp":
        lo, hi = float(node.attrs["min"]), float(node.attrs["max"])
        return Activation(node, "hardtanh", [lo, hi], None, lambda x: torch.clamp(x, lo, hi),
                          lambda x: torch.clamp_(x, lo, hi))
    if t == "Gelu":
        approx = "tanh" if node.attrs["approximation_mode"] == "TANH" else "none"
        return Activation(node, "gelu", [], approx, lambda x: F.gelu(x, approximate=approx), None)
    if t == "PRelu":
        slope = scalar_of(g.const(node.inputs[1]))
        if slope is None:
            return None
        s = float(slope)
        return Activation(node, "leaky_relu", [s], None, lambda x: F.leaky_relu(x, s),
                          lambda x: F.leaky_relu_(x, s))
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


def match_post_ops(start: Output, g: GraphView, axis: int, channels: int, residual: bool = True,
                   flexible: bool = False) -> PostOps:
    """Follow `start`'s single-consumer chain and absorb what fuses (see the module docstring). `flexible`:
    the consumer composes the post-ops itself (a linear layer), so the residual may follow the activation and any
    activation may follow the residual (oneDNN's convolution post-ops take neither)."""
    po = PostOps(out=start)
    cur = start
    rank = len(start.shape) if start.shape.rank_is_static else -1
    while rank >= 0:
        use = g.sole_consumer(cur)
        if use is None:
            break
        node, idx = use
        if len(node.outputs) != 1 or node.outputs[0].shape != cur.shape or \
                node.outputs[0].element_type != cur.element_type:
            break
        if node.type in ("Add", "Subtract", "Multiply") and po.act is None and po.residual is None:
            vec = per_channel(g.const(_other(node, idx)), rank, axis, channels)
            if vec is not None and not (node.type == "Subtract" and idx == 1):
                if node.type == "Multiply":
                    po.scale = vec if po.scale is None else po.scale * vec
                    if po.bias is not None:
                        po.bias = po.bias * vec
                else:
                    signed = -vec if node.type == "Subtract" else vec
                    po.bias = signed if po.bias is None else po.bias + signed
                po.nodes.append(node)
                cur = po.out = node.outputs[0]
                continue
        if po.act is None and po.residual is None:
            act = activation_of(node, g)
            if act is not None:
                po.act = act
                po.nodes.append(node)
                cur = po.out = node.outputs[0]
                continue
        if residual and node.type == "Add" and (po.act is None or flexible) and po.residual is None:
            other = _other(node, idx)
            if g.is_runtime(other) and other.shape == cur.shape and other is not cur and \
                    other.element_type == cur.element_type:
                po.residual = other
                po.nodes.append(node)
                cur = po.out = node.outputs[0]
                continue
        if po.residual is not None and po.post_act is None and (node.type == "Relu" or flexible):
            act = activation_of(node, g)
            if act is not None:
                po.post_act = act
                po.nodes.append(node)
                cur = po.out = node.outputs[0]
                continue
        break
    return po


def unary_chain(x: Any, act: Activation | None) -> Any:
    return x if act is None else act.fn(x)
