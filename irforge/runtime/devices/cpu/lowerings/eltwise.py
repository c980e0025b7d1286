"""Binary element-wise ops, comparisons, boolean logic and Select with torch's broadcasting (NumPy's rules).

A one-element constant operand that does not raise the result's rank is passed as a Python number (cheaper than
a broadcast tensor); other constants are torch tensors prepared once. When the first operand's memory is free to
reuse and already has the result's shape and type, the result is written into it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dataclasses import dataclass

import numpy as np

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import Activation, match_post_ops, per_channel
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers
from irforge.runtime.devices.cpu.tensors import constant_tensor

_FLOAT = ("f32", "f16", "bf16", "f64")

# op type -> (torch function, in-place method name or None, whether integers compute exactly like NumPy)
_BINARY: dict[str, tuple[Callable[..., Any], str | None, bool]] = {
    "Add": (torch.add, "add_", True),
    "Subtract": (torch.sub, "sub_", True),
    "Multiply": (torch.mul, "mul_", True),
    "Divide": (torch.div, "div_", False),
    "Maximum": (torch.maximum, None, True),
    "Minimum": (torch.minimum, None, True),
    "Power": (torch.pow, "pow_", False),
    "SquaredDifference": (lambda a, b: torch.square(torch.sub(a, b)), None, True),
    "FloorMod": (torch.remainder, None, False),
    "Mod": (torch.fmod, None, False),
    "Equal": (torch.eq, None, True),
    "NotEqual": (torch.ne, None, True),
    "Less": (torch.lt, None, True),
    "LessEqual": (torch.le, None, True),
    "Greater": (torch.gt, None, True),
    "GreaterEqual": (torch.ge, None, True),
    "LogicalAnd": (torch.logical_and, None, True),
    "LogicalOr": (torch.logical_or, None, True),
    "LogicalXor": (torch.logical_xor, None, True),
}
_COMMUTATIVE = {"Add", "Multiply", "Maximum", "Minimum", "Equal", "NotEqual", "LogicalAnd", "LogicalOr", "LogicalXor"}
_SCALAR_OK = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power", "Equal", "NotEqual", "Less",
              "LessEqual", "Greater", "GreaterEqual"}
# ops whose torch function takes no Python number: the number form
_WITH_NUMBER: dict[str, Callable[..., Any]] = {
    "Maximum": lambda x, c: torch.clamp(x, min=c),
    "Minimum": lambda x, c: torch.clamp(x, max=c),
}


def _scalar_operand(g: GraphView, node: Node, index: int) -> Any:
    """The constant input `index` as a Python number when it is one element and does not raise the rank."""
    value = g.const(node.inputs[index])
    other = node.inputs[1 - index]
    if value is None or value.size != 1 or not other.shape.rank_is_static or value.ndim > other.shape.rank:
        return None
    return value.reshape(-1)[0].item()


@dataclass
class Affine:
    """x * scale + shift per channel (axis 1), then an activation: a chain of per-channel Multiply/Add nodes
    (BatchNorm decomposed after a Concat, preprocessing) computed in one pass plus an in-place activation."""

    scale: np.ndarray | None
    shift: np.ndarray | None
    act: Activation | None
    rank: int


def _affine(node: Node, g: GraphView) -> tuple[Affine, list[Node], object] | None:
    if node.type not in ("Multiply", "Add", "Subtract") or node.outputs[0].element_type.name != "f32":
        return None
    for idx in (0, 1):
        x, c = node.inputs[idx], node.inputs[1 - idx]
        shape = g.static_shape(x)
        if not g.is_runtime(x) or shape is None or len(shape) < 3 or node.outputs[0].shape != x.shape:
            continue
        vec = per_channel(g.const(c), len(shape), 1, shape[1])
        if vec is None or (node.type == "Subtract" and idx == 1):
            continue
        s0 = vec if node.type == "Multiply" else None
        b0 = None if node.type == "Multiply" else (-vec if node.type == "Subtract" else vec)
        post = match_post_ops(node.outputs[0], g, 1, shape[1], residual=False)
        if not post.nodes:
            return None  # a lone op: the plain binary kernel is as good
        big = post.scale if post.scale is not None else 1.0
        scale = s0 * big if s0 is not None else (post.scale if post.scale is not None else None)
        shift = None
        if b0 is not None or post.bias is not None:
            shift = (b0 * big if b0 is not None else 0.0) + (post.bias if post.bias is not None else 0.0)
        return Affine(scale, shift, post.act, len(shape)), post.nodes, x
    return None


@lowers(*_BINARY)
class BinaryLowering(NodeLowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        found = _affine(node, g)
        if found is not None:
            affine, absorbed, x = found
            return Match(self, [node] + absorbed, [x], [absorbed[-1].outputs[0]], affine)  # type: ignore[list-item]
        return super().match(node, g)

    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or node.attrs.get("auto_broadcast", "numpy") == "pdpd":
            return False
        exact_ints = _BINARY[node.type][2]
        et = node.inputs[0].element_type.name
        return et in _FLOAT or exact_ints

    def build(self, ctx: BuildContext, m: Match) -> Built:
        if m.info is not None:
            return self._build_affine(m.info)
        node = m.root
        g = ctx.g
        fn_t, inplace_name, _ = _BINARY[node.type]
        a, b = node.inputs
        out = node.outputs[0]
        exec_type = f"torch_{node.type.lower()}"
        ca, cb = g.const(a), g.const(b)
        if ca is None and cb is None:
            if node.type in _COMMUTATIVE and a.shape != out.shape and b.shape == out.shape:
                # torch takes the result's memory format from the first operand: let the full-size one (e.g. a
                # channels-last activation times a [1, C, 1, 1] gate) lead, so the layout is kept
                return self._swapped(ctx, fn_t, inplace_name, b, exec_type)
            if inplace_name and ctx.can_overwrite(a) and a.shape == out.shape and a is not b:
                method = getattr(torch.Tensor, inplace_name)
                return Built(lambda x, y: method(x, y), exec_type + "_inplace", fresh=True, overwrites=0,
                             trace_fn=fn_t)
            return Built(lambda x, y: fn_t(x, y), exec_type, fresh=True)
        if cb is not None:
            sb = _scalar_operand(g, node, 1) if node.type in _SCALAR_OK else None
            const = sb if sb is not None else constant_tensor(cb)
            if sb is not None and node.type in _WITH_NUMBER:
                with_number = _WITH_NUMBER[node.type]
                return Built(lambda x: with_number(x, sb), exec_type, fresh=True)
            if inplace_name and ctx.can_overwrite(a) and a.shape == out.shape:
                method = getattr(torch.Tensor, inplace_name)
                return Built(lambda x: method(x, const), exec_type + "_inplace", fresh=True, overwrites=0,
                             trace_fn=lambda x: fn_t(x, const))
            return Built(lambda x: fn_t(x, const), exec_type, fresh=True)
        assert ca is not None
        sa = _scalar_operand(g, node, 0) if node.type in ("Add", "Multiply", "Maximum", "Minimum") else None
        if sa is not None:  # commutative: the number goes second
            fn_n = _WITH_NUMBER.get(node.type, fn_t)
            return Built(lambda y: fn_n(y, sa), exec_type, fresh=True)
        const_a = constant_tensor(ca)
        return Built(lambda y: fn_t(const_a, y), exec_type, fresh=True)


    @staticmethod
    def _swapped(ctx: BuildContext, fn_t: Callable[..., Any], inplace_name: str | None, full: Any, exec_type: str
                 ) -> Built:
        """fn(a, b) computed as fn(b, a): the step still takes (a, b) in node order."""
        if inplace_name and ctx.can_overwrite(full):
            method = getattr(torch.Tensor, inplace_name)
            return Built(lambda x, y: method(y, x), exec_type + "_inplace", fresh=True, overwrites=1,
                         trace_fn=lambda x, y: fn_t(y, x))
        return Built(lambda x, y: fn_t(y, x), exec_type, fresh=True)

    @staticmethod
    def _build_affine(a: Affine) -> Built:
        view = (1, -1) + (1,) * (a.rank - 2)
        scale = None if a.scale is None else torch.from_numpy(a.scale.astype(np.float32).reshape(view))
        shift = None if a.shift is None else torch.from_numpy(np.asarray(a.shift, np.float32).reshape(view))
        act = a.act
        post = act.inplace if act is not None and act.inplace is not None else (act.fn if act else None)
        if scale is not None and shift is not None:
            def first(x: Any) -> Any:
                return torch.addcmul(shift, x, scale)
        elif scale is not None:
            def first(x: Any) -> Any:
                return torch.mul(x, scale)
        else:
            def first(x: Any) -> Any:
                return torch.add(x, shift)
        parts = ("+scale" if scale is not None else "") + ("+shift" if shift is not None else "")
        name = f"torch_affine{parts}" + (f"+{act.attr}" if act else "")
        if post is None:
            return Built(first, name, fresh=True)
        return Built(lambda x: post(first(x)), name, fresh=True)


@lowers("Select")
class SelectLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        return g.torch_ok(node) and node.attrs["auto_broadcast"] != "pdpd"

    def build(self, ctx: BuildContext, m: Match) -> Built:
        node = m.root
        g = ctx.g
        consts = [None if g.is_runtime(s) else constant_tensor(g.const(s)) for s in node.inputs]  # type: ignore[arg-type]
        where = torch.where
        if all(c is None for c in consts):
            return Built(lambda c, a, b: where(c, a, b), "torch_select", fresh=True)
        slots = [k for k, c in enumerate(consts) if c is None]

        def fn(*values: Any) -> Any:
            args = list(consts)
            for k, v in zip(slots, values):
                args[k] = v
            return where(*args)
        return Built(fn, "torch_select", fresh=True)
