"""Unary element-wise ops: activations and math functions on floating tensors (integers keep the reference
kernels, whose rounding rules differ), plus the few that are exact on integers (Relu, Abs, Negative, Sign,
LogicalNot). A standalone activation writes into its input when that memory is free to reuse."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import activation_of
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers, scalar_of
from irforge.runtime.devices.cpu.tensors import constant_tensor

_FLOAT = ("f32", "f16", "bf16", "f64")


def _sign(x: torch.Tensor) -> torch.Tensor:
    """Sign keeping NaN (REF and ONNX Runtime give NaN; torch.sign gives 0)."""
    return torch.where(torch.isnan(x), x, torch.sign(x)) if x.is_floating_point() else torch.sign(x)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    return torch.copysign(torch.floor(torch.abs(x) + 0.5), x)


# op type -> (function, in-place function or None, also exact on integers)
_UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any] | None, bool]] = {
    "Relu": (torch.relu, torch.relu_, True),
    "Abs": (torch.abs, torch.abs_, True),
    "Negative": (torch.neg, torch.neg_, True),
    "Sign": (_sign, None, True),
    "LogicalNot": (torch.logical_not, None, True),
    "Sigmoid": (torch.sigmoid, torch.sigmoid_, False),
    "Tanh": (torch.tanh, torch.tanh_, False),
    "Exp": (torch.exp, torch.exp_, False),
    "Log": (torch.log, torch.log_, False),
    "Sqrt": (torch.sqrt, torch.sqrt_, False),
    "Erf": (torch.erf, torch.erf_, False),
    "Sin": (torch.sin, None, False),
    "Cos": (torch.cos, None, False),
    "Tan": (torch.tan, None, False),
    "Asin": (torch.asin, None, False),
    "Acos": (torch.acos, None, False),
    "Atan": (torch.atan, None, False),
    "Sinh": (torch.sinh, None, False),
    "Cosh": (torch.cosh, None, False),
    "Asinh": (torch.asinh, None, False),
    "Acosh": (torch.acosh, None, False),
    "Atanh": (torch.atanh, None, False),
    "Floor": (torch.floor, None, False),
    "Ceiling": (torch.ceil, None, False),
    "SoftPlus": (F.softplus, None, False),
    "SoftSign": (F.softsign, None, False),
    "Mish": (F.mish, None, False),
    "HSwish": (F.hardswish, lambda x: F.hardswish(x, inplace=True), False),
    "HSigmoid": (F.hardsigmoid, lambda x: F.hardsigmoid(x, inplace=True), False),
}


@lowers(*_UNARY)
class UnaryLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and (node.inputs[0].element_type.name in _FLOAT or _UNARY[node.type][2])

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        fn, inplace, _ = _UNARY[node.type]
        name = f"torch_{node.type.lower()}"
        if inplace is not None and ctx.can_overwrite(node.inputs[0]):
            return Built(inplace, name + "_inplace", fresh=True, overwrites=0, trace_fn=fn)
        return Built(fn, name, fresh=True)


@lowers("Round")
class RoundLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.inputs[0].element_type.name in _FLOAT

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        if node.attrs["mode"] == "half_to_even":
            return torch.round, "torch_round"
        return _round_half_away, "torch_round_half_away"


@lowers("Clamp", "Gelu", "Swish", "Elu", "PRelu")
class ParamActivationLowering(NodeLowering):
    """Activations with attributes or parameter inputs (constant ones are bound at plan time)."""

    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or node.inputs[0].element_type.name not in _FLOAT:
            return False
        return all(not g.is_runtime(s) for s in node.inputs[1:]) or node.type in ("PRelu", "Swish")

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        g = ctx.g
        t = node.type
        act = activation_of(node, g) if node.outputs[0].element_type.name in ("f32", "bf16") else None
        if act is not None:
            if act.inplace is not None and ctx.can_overwrite(node.inputs[0]):
                return Built(act.inplace, f"torch_{t.lower()}_inplace", fresh=True, overwrites=0, trace_fn=act.fn)
            return Built(act.fn, f"torch_{t.lower()}", fresh=True)
        if t == "Clamp":
            lo, hi = node.attrs["min"], node.attrs["max"]
            return Built(lambda x: torch.clamp(x, lo, hi), "torch_clamp", fresh=True)
        if t == "Gelu":
            approx = "tanh" if node.attrs["approximation_mode"] == "TANH" else "none"
            return Built(lambda x: F.gelu(x, approximate=approx), "torch_gelu", fresh=True)
        if t == "Elu":
            alpha = float(node.attrs["alpha"])
            return Built(lambda x: F.elu(x, alpha), "torch_elu", fresh=True)
        if t == "Swish":
            if len(node.inputs) == 1:
                return Built(F.silu, "torch_swish", fresh=True)
            beta = g.const(node.inputs[1])
            if beta is not None:
                b = scalar_of(beta)
                return Built(lambda x: x * torch.sigmoid(x * b), "torch_swish", fresh=True)
            return Built(lambda x, bt: x * torch.sigmoid(x * bt), "torch_swish", fresh=True)
        # PRelu: a 1-D slope as long as dim 1 is per channel, else NumPy broadcasting
        slope_out = node.inputs[1]
        xs = node.inputs[0].shape
        per_channel = slope_out.shape.rank_is_static and slope_out.shape.rank == 1 and xs.rank_is_static and \
            xs.rank >= 2 and slope_out.shape == [xs[1]] and xs[1].is_static
        view = (-1,) + (1,) * (xs.rank - 2) if per_channel else None
        slope = g.const(slope_out)
        if slope is not None:
            st = constant_tensor(slope.reshape(view) if view is not None else slope)
            return Built(lambda x: torch.where(x < 0, x * st, x), "torch_prelu", fresh=True)

        def prelu(x: Any, s: Any) -> Any:
            if view is not None:
                s = s.reshape(view)
            return torch.where(x < 0, x * s, x)
        return Built(prelu, "torch_prelu", fresh=True)


@lowers("Selu", "HardSigmoid")
class TwoParamActivationLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.inputs[0].element_type.name in _FLOAT and \
            all(not g.is_runtime(s) for s in node.inputs[1:])

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        p1, p2 = (constant_tensor(ctx.g.const(s).astype(node.inputs[0].element_type.dtype))  # type: ignore[union-attr]
                  for s in node.inputs[1:])
        if node.type == "Selu":
            return (lambda x: torch.where(x > 0, x, p1 * torch.expm1(x)) * p2), "torch_selu"
        return (lambda x: torch.clamp(x * p1 + p2, 0, 1)), "torch_hardsigmoid"
