"""MatMul. With a constant 2-D weight it is a linear layer: the weight is stored once as [N, K] (torch's
layout), the bias Add and activation after it are absorbed (fusion.py), and a residual Add of the same shape
too. The kernel is MKL's GEMM through `torch.addmm`/`F.linear` (prepacked oneDNN inner products cost more per
call than they save at these sizes on AVX2; see the package docstring). Two runtime operands use torch.matmul
with the transposes as free views."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import Activation, PostOps, match_post_ops
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.precision import round_bf16, round_bf16_tensor
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, lowers
from irforge.runtime.devices.cpu.tensors import constant_tensor, read_only_weight


@dataclass
class LinearInfo:
    weight: np.ndarray  # [N, K]
    post: PostOps


def _float(node: Node) -> bool:
    return all(s.element_type.name == "f32" for s in node.inputs) and node.outputs[0].element_type.name == "f32"


def _in_place(act: Activation | None) -> Callable[[Any], Any] | None:
    """The activation applied to a tensor the step owns (in place when torch has that form)."""
    if act is None:
        return None
    return act.inplace if act.inplace is not None else act.fn


@lowers("MatMul")
class MatMulLowering(Lowering):
    def match(self, node: Node, g: GraphView) -> Match | None:
        if not g.torch_ok(node):
            return None
        a, b = node.inputs
        wb = g.const(b)
        if wb is not None and wb.ndim == 2 and g.is_runtime(a) and a.shape.rank_is_static and a.shape.rank >= 2 \
                and _float(node):
            w = wb.T if not node.attrs["transpose_b"] else wb  # [N, K]
            n = w.shape[0]
            post = match_post_ops(node.outputs[0], g, a.shape.rank - 1, n, flexible=True)  # channels: last axis
            inputs = [a] + ([post.residual] if post.residual is not None else [])
            assert post.out is not None
            return Match(self, [node] + post.nodes, inputs, [post.out], LinearInfo(w, post))
        return Match(self, [node], g.runtime_inputs(node), [node.outputs[0]], None)

    def build(self, ctx: BuildContext, m: Match) -> Built:
        if m.info is None:
            return self._general(ctx, m.root)
        info: LinearInfo = m.info
        post = info.post
        node = m.root
        if post.scale is not None:  # folded in f64, rounded once
            w32 = (info.weight.astype(np.float64) * post.scale[:, None]).astype(np.float32)
        else:  # [N, K] f32 already (a MatMul with transpose_b): the IR's own bytes, the weight's one copy
            w32 = np.ascontiguousarray(info.weight, dtype=np.float32)
        bias = None if post.bias is None else post.bias.astype(np.float32)
        bf16 = ctx.config.bf16
        native = ctx.config.bf16_native  # oneDNN's bf16 GEMM (AVX512-BF16/AMX): bf16 operands, f32 accumulation
        if bf16 and not native:
            w32 = round_bf16(w32)
        W = read_only_weight(w32)  # F.linear and oneDNN Graph only read it
        B = None if bias is None else torch.from_numpy(bias)
        if native:
            W = W.to(torch.bfloat16)
            B = None if B is None else B.to(torch.bfloat16)
        ta = node.attrs["transpose_a"]
        act = _in_place(post.act)
        post_act = _in_place(post.post_act)
        residual = post.residual is not None
        linear = F.linear
        prec = "bf16" if bf16 else "f32"
        exec_type = f"mkl_linear{post.describe()}_{prec}"

        def fn(x: Any, r: Any = None) -> Any:
            if ta:
                x = x.transpose(-1, -2)
            if native:
                y = linear(x.to(torch.bfloat16), W, B).float()
            else:
                y = linear(round_bf16_tensor(x) if bf16 else x, W, B)
            if act is not None:
                y = act(y)
            if residual:
                y.add_(r)
                if post_act is not None:
                    y = post_act(y)
            return y
        return Built(fn, exec_type, fresh=True)

    def _general(self, ctx: BuildContext, node: Node) -> Built:
        g = ctx.g
        ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
        a, b = node.inputs
        ra = a.shape.rank if a.shape.rank_is_static else 0
        rb = b.shape.rank if b.shape.rank_is_static else 0
        bf16 = ctx.config.bf16 and node.outputs[0].element_type.name == "f32"

        def prep(v: Any, transpose: bool, rank: int) -> Any:
            if transpose and rank >= 2:
                v = v.transpose(-1, -2)
            return round_bf16_tensor(v) if bf16 else v

        consts = [g.const(a), g.const(b)]
        prepared = [None if c is None else prep(constant_tensor(c), t, r)
                    for c, t, r in zip(consts, (ta, tb), (ra, rb))]
        matmul = torch.matmul
        if prepared[0] is None and prepared[1] is None:
            if not (ta or tb or bf16):
                return Built(matmul, "torch_matmul", fresh=True)
            return Built(lambda x, y: matmul(prep(x, ta, ra), prep(y, tb, rb)), "torch_matmul", fresh=True)
        if prepared[1] is not None:
            cb = prepared[1]
            return Built(lambda x: matmul(prep(x, ta, ra), cb), "torch_matmul", fresh=True)
        ca = prepared[0]
        return Built(lambda y: matmul(ca, prep(y, tb, rb)), "torch_matmul", fresh=True)
