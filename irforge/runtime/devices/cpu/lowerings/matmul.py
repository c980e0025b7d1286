"""MatMul. With a constant 2-D weight it is a linear layer: the weight is stored once as [N, K] (torch's
layout), the bias Add and activation after it are absorbed (fusion.py), and a residual Add of the same shape
too. Two runtime operands use torch.matmul with the transposes as free views.

Kernel: a linear layer of at least ONEDNN_MIN_MACS multiply-adds runs as oneDNN's inner product on a weight
prepacked for the plan's row count (`mkldnn._linear_pointwise`; exec type `onednn_linear`, so a run of steps
holding one is traced into a oneDNN Graph segment, where the same oneDNN kernel runs and the eager prepacked copy
is never made); smaller ones run MKL's GEMM through `F.linear`, whose per-call cost is lower (oneDNN's ~12 us
floor). Measured on a 2-core AMD Zen 4 (AVX-512), 1 thread, oneDNN / MKL time: [1, 512] x [512, 8210] 0.26,
[64, 1024] x [1024, 8210] 0.60, [128, 768] x [768, 3072] 0.64, [128, 768] x [768, 768] 0.92, [8, 256] x [256, 256]
1.35, [16, 64] x [64, 64] 3.8 (MKL takes a slower path on AMD CPUs at large sizes)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.ir.mapped import release_address
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.fusion import PostOps, match_post_ops, owned_epilogue
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.precision import round_bf16, round_bf16_tensor
from irforge.runtime.devices.cpu.registry import Built, Lowering, Match, lowers, on_first_use
from irforge.runtime.devices.cpu.tensors import constant_tensor, read_only_weight


@dataclass
class LinearInfo:
    weight: np.ndarray  # [N, K]
    post: PostOps


def _float(node: Node) -> bool:
    return all(s.element_type.name == "f32" for s in node.inputs) and node.outputs[0].element_type.name == "f32"


ONEDNN_MIN_MACS = 1 << 20  # linear layers at least this large run on oneDNN (see the module docstring)
mkldnn = torch.ops.mkldnn


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
        else:  # f32 already: the IR's own bytes ([N, K], or ONNX's [K, N] read transposed), the weight's one copy
            w32 = info.weight if info.weight.dtype == np.float32 else info.weight.astype(np.float32)
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
        x_shape = ctx.g.static_shape(m.inputs[0])
        rows = int(np.prod(x_shape[:-1])) if x_shape is not None and len(x_shape) >= 2 else 0
        if ta and x_shape is not None:
            rows = int(np.prod(x_shape[:-2])) * x_shape[-1]
        onednn = not native and rows > 0 and rows * W.shape[0] * W.shape[1] >= ONEDNN_MIN_MACS
        epilogue = owned_epilogue(post)
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
            return epilogue(y, r)
        if not onednn:
            return Built(fn, exec_type, fresh=True)

        def pack() -> Any:  # the eager kernel's own copy: the mapped pages it was read from can go
            made = mkldnn._reorder_linear_weight(W.contiguous(), rows)
            release_address(W.data_ptr(), W.numel() * W.element_size())
            return made
        packed = on_first_use(pack)
        inner = mkldnn._linear_pointwise
        n_out = W.shape[0]

        def fn_onednn(x: Any, r: Any = None) -> Any:
            if ta:
                x = x.transpose(-1, -2)
            if bf16:
                x = round_bf16_tensor(x)
            lead = x.shape[:-1]
            return epilogue(inner(x.reshape(-1, x.shape[-1]).contiguous(), packed(), B, "none", [], "")
                            .view(*lead, n_out), r)
        return Built(fn_onednn, exec_type.replace("mkl_linear", "onednn_linear"), fresh=True, trace_fn=fn)

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
