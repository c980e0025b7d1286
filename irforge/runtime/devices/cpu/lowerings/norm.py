"""Normalizations: Softmax / LogSoftmax, MVN (as F.layer_norm when it normalizes trailing axes, absorbing the
per-feature Multiply and Add after it), BatchNormInference, NormalizeL2."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node, Output
from irforge.ir.ops._base import normalize_axis
from irforge.ir.ops.normalization import reduction_axes
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, NodeLowering, lowers

_FLOAT = ("f32", "f64", "f16", "bf16")


@lowers("Softmax", "LogSoftmax")
class SoftmaxLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.inputs[0].element_type.name in _FLOAT and \
            node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        axis = normalize_axis(node.attrs["axis"], node.inputs[0].shape.rank, node)
        if node.type == "Softmax":
            return (lambda x: torch.softmax(x, axis)), "torch_softmax"
        return (lambda x: torch.log_softmax(x, axis)), "torch_logsoftmax"


@dataclass
class LayerNormInfo:
    dims: int  # trailing axes normalized
    weight: np.ndarray | None
    bias: np.ndarray | None
    eps: float


def _trailing_vector(value: np.ndarray | None, shape: tuple[int, ...], dims: int) -> np.ndarray | None:
    """A constant broadcasting over the leading axes only: as an array of the trailing `dims` axes."""
    if value is None or value.ndim > len(shape) or value.dtype.kind != "f":
        return None
    full = value.reshape((1,) * (len(shape) - value.ndim) + value.shape)
    lead = len(shape) - dims
    if any(d != 1 for d in full.shape[:lead]):
        return None
    return np.broadcast_to(full.reshape(full.shape[lead:]), shape[lead:]).astype(np.float64)


@lowers("MVN")
class MVNLowering(Lowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        x = node.inputs[0]
        axes_value = g.const(node.inputs[1])
        shape = g.static_shape(x)
        if not g.torch_ok(node) or axes_value is None or shape is None or x.element_type.name != "f32":
            return None
        axes = reduction_axes(node, axes_value, len(shape))
        nodes = [node]
        out: Output = node.outputs[0]
        dims = len(axes)
        layer_norm = node.attrs["normalize_variance"] and node.attrs["eps_mode"] == "INSIDE_SQRT" and \
            dims > 0 and axes == tuple(range(len(shape) - dims, len(shape)))
        if not layer_norm:
            return Match(self, nodes, [x], [out], None)
        weight = bias = None
        use = g.sole_consumer(out)
        if use is not None and use[0].type == "Multiply":
            w = _trailing_vector(g.const(use[0].inputs[1 - use[1]]), shape, dims)
            if w is not None and use[0].outputs[0].shape == out.shape:
                weight = w
                nodes.append(use[0])
                out = use[0].outputs[0]
                use = g.sole_consumer(out)
        if use is not None and use[0].type in ("Add", "Subtract") and not (use[0].type == "Subtract" and use[1] == 1):
            b = _trailing_vector(g.const(use[0].inputs[1 - use[1]]), shape, dims)
            if b is not None and use[0].outputs[0].shape == out.shape:
                bias = -b if use[0].type == "Subtract" else b
                nodes.append(use[0])
                out = use[0].outputs[0]
        return Match(self, nodes, [x], [out], LayerNormInfo(dims, weight, bias, float(node.attrs["eps"])))

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        info: LayerNormInfo | None = m.info
        if info is not None:
            shape = ctx.g.static_shape(node.inputs[0])
            assert shape is not None
            normalized = tuple(shape[len(shape) - info.dims:])
            w = None if info.weight is None else torch.from_numpy(info.weight.astype(np.float32))
            b = None if info.bias is None else torch.from_numpy(info.bias.astype(np.float32))
            eps = info.eps
            parts = "".join(p for p, v in (("+scale", w), ("+shift", b)) if v is not None)
            # the traced form always has both: oneDNN Graph's fuser crashes on a layer_norm without them
            # (TorchScript: vector::_M_range_check), and x * 1 + 0 is x
            tw = torch.ones(normalized) if w is None else w
            tb = torch.zeros(normalized) if b is None else b
            return Built(lambda x: F.layer_norm(x, normalized, w, b, eps), f"torch_layernorm{parts}", fresh=True,
                         trace_fn=lambda x: F.layer_norm(x, normalized, tw, tb, eps))
        axes = reduction_axes(node, ctx.g.const(node.inputs[1]), node.inputs[0].shape.rank)  # type: ignore[arg-type]
        eps = float(node.attrs["eps"])
        variance = bool(node.attrs["normalize_variance"])
        inside = node.attrs["eps_mode"] == "INSIDE_SQRT"

        def mvn(x: Any) -> Any:
            if not axes:
                return x - x
            c = x - torch.mean(x, dim=axes, keepdim=True)
            if not variance:
                return c
            var = torch.mean(c * c, dim=axes, keepdim=True)
            return c * torch.rsqrt(var + eps) if inside else c / (torch.sqrt(var) + eps)
        return Built(mvn, "torch_mvn", fresh=True)


@lowers("BatchNormInference")
class BatchNormLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.inputs[0].element_type.name == "f32" and \
            all(g.const(s) is not None for s in node.inputs[1:]) and node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        gamma, beta, mean, var = (ctx.g.const(s).astype(np.float64) for s in node.inputs[1:])  # type: ignore[union-attr]
        scale = gamma / np.sqrt(var + node.attrs["epsilon"])
        shift = beta - mean * scale
        view = (-1,) + (1,) * (node.inputs[0].shape.rank - 2)
        s = torch.from_numpy(scale.astype(np.float32).reshape(view))
        t = torch.from_numpy(shift.astype(np.float32).reshape(view))
        return (lambda x: torch.addcmul(t, x, s)), "torch_batchnorm"


@lowers("NormalizeL2")
class NormalizeL2Lowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.inputs[0].element_type.name == "f32" and \
            g.const(node.inputs[1]) is not None and node.inputs[0].shape.rank_is_static

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        axes = reduction_axes(node, ctx.g.const(node.inputs[1]), node.inputs[0].shape.rank)  # type: ignore[arg-type]
        eps = float(node.attrs["eps"])
        add = node.attrs["eps_mode"] == "add"

        def fn(x: Any) -> Any:
            sq = torch.sum(x * x, dim=axes, keepdim=True) if axes else x * x
            return x / torch.sqrt(sq + eps if add else torch.clamp(sq, min=eps))
        return fn, "torch_normalizel2"



@lowers("LRN")
class LRNLowering(NodeLowering):
    """Across channels with an odd window: torch's local_response_norm (same window and scaling)."""

    def supports(self, node: Node, g: GraphView) -> bool:
        axes = g.const(node.inputs[1])
        x = node.inputs[0]
        if not g.torch_ok(node) or axes is None or x.element_type.name != "f32" or not x.shape.rank_is_static:
            return False
        norm = sorted({normalize_axis(int(a), x.shape.rank, node) for a in axes.reshape(-1)})
        return norm == [1] and node.attrs["size"] % 2 == 1 and 3 <= x.shape.rank <= 5

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        a = node.attrs
        size, alpha, beta, bias = int(a["size"]), float(a["alpha"]), float(a["beta"]), float(a["bias"])
        lrn = F.local_response_norm  # it views its input: strided memory (a sliced caller array) is made dense

        def fn(x: Any) -> Any:
            return lrn(x if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last) else
                       x.contiguous(), size, alpha, beta, bias)
        return fn, "torch_lrn"


@lowers("ShuffleChannels")
class ShuffleChannelsLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and g.static_shape(node.inputs[0]) is not None

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        shape = ctx.g.static_shape(node.inputs[0])
        assert shape is not None
        axis = normalize_axis(node.attrs["axis"], len(shape), node)
        group = int(node.attrs["group"])
        lead = int(np.prod(shape[:axis], dtype=np.int64))
        trail = int(np.prod(shape[axis + 1:], dtype=np.int64))
        view = (lead, group, shape[axis] // group, trail)
        return (lambda x: x.reshape(view).transpose(1, 2).reshape(shape)), "torch_shuffle_channels"
