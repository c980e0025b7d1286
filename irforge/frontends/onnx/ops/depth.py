"""DepthToSpace and SpaceToDepth. ONNX's DCR order is OpenVINO's blocks_first, CRD is depth_first."""
from __future__ import annotations

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_MODES = {"DCR": "blocks_first", "CRD": "depth_first"}


def _block_op(ctx: NodeContext, type_name: str) -> Output:
    mode = ctx.attr("mode", "DCR")
    if mode not in _MODES:
        raise ctx.unsupported(f"mode='{mode}'")
    return ctx.op(type_name, ctx.input(0), block_size=ctx.attr("blocksize"), mode=_MODES[mode])


@onnx_op("DepthToSpace")
def depth_to_space(ctx: NodeContext) -> Output:
    return _block_op(ctx, "DepthToSpace")


@onnx_op("SpaceToDepth")
def space_to_depth(ctx: NodeContext) -> Output:
    return _block_op(ctx, "SpaceToDepth")
