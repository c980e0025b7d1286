"""Cast and CastLike: element type conversion."""
from __future__ import annotations

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


@onnx_op("Cast")
def cast(ctx: NodeContext) -> Output:
    x = ctx.input(0)
    to = attr_type(ctx, "to")
    _check(ctx, x.element_type, to)
    return x if to == x.element_type else ctx.op("Convert", x, destination_type=to)


@onnx_op("CastLike", since=15)
def cast_like(ctx: NodeContext) -> Output:
    x, like = ctx.input(0), ctx.input(1)
    _check(ctx, x.element_type, like.element_type)
    return x if like.element_type == x.element_type else ctx.op("ConvertLike", x, like)
