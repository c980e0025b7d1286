"""LRN (local response normalization across channels)."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output


@onnx_op("LRN")
def lrn(ctx: NodeContext) -> Output:
    size = int(ctx.attr("size"))
    if size % 2 == 0:  # ONNX's window is [c - (size-1)//2, c + ceil((size-1)/2)]; LRN-1's is symmetric
        raise ctx.unsupported(f"even size={size} (an asymmetric window OpenVINO's LRN cannot express)")
    return ctx.op("LRN", ctx.input(0), ctx.const(np.array([1], np.int64)), alpha=ctx.attr("alpha", 1e-4),
                  beta=ctx.attr("beta", 0.75), bias=ctx.attr("bias", 1.0), size=size)
