"""Cast and CastLike: element type conversion."""
from __future__ import annotations

import ml_dtypes

from irforge.errors import UnsupportedOpsError
from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.frontends.onnx.types import element_type
from irforge.ir.graph import Output
from irforge.ir.types import ElementType, Type


def attr_type(ctx: NodeContext, name: str) -> ElementType:
    """The element type an attribute (`to`, `output_dtype`) names; unsupported ONNX types are unsupported
    attribute values of this node."""
    try:
        return element_type(ctx.attr(name))
    except UnsupportedOpsError as e:
        raise ctx.unsupported(f"'{name}': {e}") from None


def _check(ctx: NodeContext, src: ElementType, dst: ElementType) -> None:
    if Type.string in (src, dst):
        raise ctx.unsupported(f"conversion from {src} to {dst} (string tensors)")


def _saturate(ctx: NodeContext, x: Output, to: ElementType) -> Output:
    """ONNX casts to float8 saturate by default (out-of-range values and infinities become +-max); the IR's
    Convert does not, so a Clamp goes first."""
    if to not in (Type.f8e4m3, Type.f8e5m2) or not ctx.attr("saturate", 1) or not x.element_type.is_float:
        return x
    limit = float(ml_dtypes.finfo(to.dtype).max)
    return ctx.op("Clamp", x, min=-limit, max=limit)


@onnx_op("Cast")
def cast(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    to = attr_type(ctx, "to")
    _check(ctx, x.element_type, to)
    return x if to == x.element_type else ctx.op("Convert", _saturate(ctx, x, to), destination_type=to)


@onnx_op("CastLike", since=15)
def cast_like(ctx: NodeContext) -> Output:
    x, like = ctx.input(0), ctx.input(1)
    _check(ctx, x.element_type, like.element_type)
    if like.element_type == x.element_type:
        return x
    return ctx.op("ConvertLike", _saturate(ctx, x, like.element_type), like)
