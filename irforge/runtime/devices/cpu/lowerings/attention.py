"""ScaledDotProductAttention as torch's fused CPU attention kernel (F.scaled_dot_product_attention)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.precision import round_bf16_tensor
from irforge.runtime.devices.cpu.registry import NodeLowering, lowers
from irforge.runtime.devices.cpu.tensors import constant_tensor


@lowers("ScaledDotProductAttention")
class AttentionLowering(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        if not g.torch_ok(node) or any(s.element_type.name != "f32" for s in node.inputs[:3]):
            return False
        shapes = [g.static_shape(s) for s in node.inputs[:3]]
        if any(s is None or len(s) < 2 for s in shapes) or len({s[:-2] for s in shapes}) != 1:  # type: ignore[index]
            return False
        if len(node.inputs) > 4 and g.const(node.inputs[4]) is None:
            return False
        if len(node.inputs) > 3 and node.inputs[3].element_type.name not in ("f32", "boolean"):
            return False
        return True

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        g = ctx.g
        scale = float(np.asarray(g.const(node.inputs[4])).reshape(-1)[0]) if len(node.inputs) > 4 else None
        causal = bool(node.attrs["causal"])
        has_mask = len(node.inputs) > 3 and not causal
        mask_value = g.const(node.inputs[3]) if has_mask and not g.is_runtime(node.inputs[3]) else None
        if mask_value is not None and not np.asarray(mask_value).any() and mask_value.dtype != np.bool_:
            has_mask = False  # an all-zero additive mask (OpenVINO's placeholder when only a scale is given)
        mask_const = _mask_rank2(constant_tensor(mask_value)) if has_mask and mask_value is not None else None
        runtime_mask = has_mask and mask_const is None
        bf16 = ctx.config.bf16
        sdpa = F.scaled_dot_product_attention
        name = "torch_sdpa" + ("_bf16" if bf16 else "")

        # a query row whose keys are all masked out: softmax over -inf only, NaN as in the spec's pseudo-code (and
        # on REF); torch's kernel returns zeros there
        dead_const = _dead_rows(mask_const) if mask_const is not None else None
        if dead_const is not None and not bool(dead_const.any()):
            dead_const = None
        nan = float("nan")

        def fn(q: Any, k: Any, v: Any, *rest: Any) -> Any:
            if bf16:
                q, k, v = round_bf16_tensor(q), round_bf16_tensor(k), round_bf16_tensor(v)
            mask = _mask_rank2(rest[0]) if runtime_mask else mask_const
            out = sdpa(q, k, v, attn_mask=mask, is_causal=causal, scale=scale)
            if runtime_mask:
                return out.masked_fill(_dead_rows(mask), nan)
            return out if dead_const is None else out.masked_fill(dead_const, nan)
        return fn, name


def _dead_rows(mask: torch.Tensor) -> torch.Tensor:
    """[..., L, 1]: whether every key of the query row is masked out (False, or an additive -inf)."""
    if mask.dtype == torch.bool:
        return ~mask.any(-1, keepdim=True)
    return torch.isneginf(mask).all(-1, keepdim=True)


def _mask_rank2(mask: torch.Tensor) -> torch.Tensor:
    """The mask with at least 2 dimensions: the IR broadcasts a 0-d or 1-d mask over [..., L, S] (numpy rules),
    torch's kernel wants a rank >= 2 mask."""
    return mask if mask.dim() >= 2 else mask.reshape((1,) * (2 - mask.dim()) + tuple(mask.shape))
