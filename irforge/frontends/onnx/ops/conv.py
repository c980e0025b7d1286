"""ONNX Conv and ConvTranspose, plus the strides/dilations/pads/auto_pad reading the pooling translators share."""
from __future__ import annotations

from typing import Any

import numpy as np

from irforge.errors import GraphError
from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output

_AUTO_PAD = {"NOTSET": "explicit", "": "explicit", "VALID": "valid", "SAME_UPPER": "same_upper",
             "SAME_LOWER": "same_lower"}


def num_spatial(ctx: NodeContext, *candidates: tuple[Output, int]) -> int:
    """The number of spatial axes: from the first (value, non-spatial axes) with a static rank, else from
    `kernel_shape`."""
    for value, lead in candidates:
        if value.shape.rank_is_static:
            return value.shape.rank - lead
    if ctx.has_attr("kernel_shape"):
        return len(ctx.attr("kernel_shape"))
    raise ctx.unsupported("input of dynamic rank without a kernel_shape attribute")


def window_attrs(ctx: NodeContext, nsp: int) -> dict[str, Any]:
    """strides, dilations, pads_begin, pads_end and auto_pad in IR spelling (ONNX pads are [begins..., ends...])."""
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad not in _AUTO_PAD:
        raise ctx.unsupported(f"auto_pad='{auto_pad}'")
    pads = list(ctx.attr("pads", [0] * 2 * nsp))
    if len(pads) != 2 * nsp:
        raise ctx.unsupported(f"pads {pads} for {nsp} spatial axes")
    return {
        "strides": list(ctx.attr("strides", [1] * nsp)),
        "dilations": list(ctx.attr("dilations", [1] * nsp)),
        "pads_begin": pads[:nsp],
        "pads_end": pads[nsp:],
        "auto_pad": _AUTO_PAD[auto_pad],
    }


def stored_value(value: Output) -> np.ndarray | None:
    """The data of a Constant (not of a foldable sub-graph: reshaping dequantized weights here would lose the
    quantization pattern the INT8 path looks for)."""
    return value.node.data if value.node.type == "Constant" else None


def _groups(ctx: NodeContext, w: Output) -> int:
    """The `group` attribute, checked: a positive integer dividing the weights' first (output/input channel)
    axis."""
    groups = int(ctx.attr("group", 1))
    if groups < 1:
        raise GraphError(f"group={groups} must be a positive integer")
    if groups > 1 and w.shape.rank_is_static and w.shape.rank > 0 and w.shape[0].is_static \
            and w.shape[0].get_length() % groups:
        raise GraphError(f"group={groups} does not divide the {w.shape[0].get_length()} filters of weights {w.shape}")
    return groups


def _grouped_filters(ctx: NodeContext, w: Output, groups: int) -> Output:
    """Split the first weights axis into (groups, rest): [G*A, B, *K] -> [G, A, B, *K]."""
    value = stored_value(w)
    if value is not None:
        return ctx.const(value.reshape(groups, -1, *value.shape[1:]))
    if not w.shape.is_static:
        raise ctx.unsupported(f"group={groups} with non-constant weights of dynamic shape {w.shape}")
    shape = w.shape.to_shape()
    target = ctx.const(np.array([groups, shape[0] // groups, *shape[1:]], dtype=np.int64))
    return ctx.op("Reshape", w, target, special_zero=False)


def channel_bias(ctx: NodeContext, bias: Output, rank: int) -> Output:
    """A [C] bias as [1, C, 1, ...] so it broadcasts over an N,C,... tensor of `rank`."""
    shape = [1, -1] + [1] * (rank - 2)
    value = stored_value(bias)
    if value is not None:
        return ctx.const(value.reshape(shape))
    return ctx.op("Reshape", bias, ctx.const(np.array(shape, dtype=np.int64)), special_zero=False)


def _add_bias(ctx: NodeContext, out: Output) -> Output:
    bias = ctx.optional_input(2)
    if bias is None:
        return out
    if not out.shape.rank_is_static:
        raise ctx.unsupported("bias on a result of dynamic rank")
    return ctx.op("Add", out, channel_bias(ctx, bias, out.shape.rank))


@onnx_op("Conv")
def conv(ctx: NodeContext) -> Output:
    """Convolution (GroupConvolution when group > 1); a bias becomes an Add after the node renamed
    '<node>/WithoutBiases', as OpenVINO's frontend does."""
    x, w = ctx.input(0), ctx.input(1)
    attrs = window_attrs(ctx, num_spatial(ctx, (x, 2), (w, 2)))
    groups = _groups(ctx, w)
    if groups > 1:
        node = ctx.make("GroupConvolution", [x, _grouped_filters(ctx, w, groups)], **attrs)
    else:
        node = ctx.make("Convolution", [x, w], **attrs)
    if ctx.has_input(2):
        node.name = ctx.conv.unique_name(f"{ctx.name}/WithoutBiases")
    return _add_bias(ctx, node.output(0))


def _static_spatial(ctx: NodeContext, value: Output, lead: int, what: str) -> list[int]:
    shape = value.shape
    if not shape.rank_is_static or not all(d.is_static for d in shape.dims[lead:]):
        raise ctx.unsupported(f"output_shape or auto_pad SAME with a dynamic {what} spatial shape {shape}")
    return [d.min for d in shape.dims[lead:]]


@onnx_op("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> Output:
    """ConvolutionBackpropData (GroupConvolutionBackpropData when group > 1). ONNX's output_shape and SAME
    auto_pad place the padding themselves (SAME_UPPER: the odd pixel at the end; otherwise at the beginning).
    With static spatial sizes that becomes explicit pads; OpenVINO takes no negative pads, so output positions
    past the computed result become output_padding (end) or a zero Pad of the result (beginning)."""
    x, w = ctx.input(0), ctx.input(1)
    nsp = num_spatial(ctx, (x, 2), (w, 2))
    attrs = window_attrs(ctx, nsp)
    output_padding = list(ctx.attr("output_padding", [0] * nsp))
    output_shape = ctx.attr("output_shape", None)
    auto_pad = attrs["auto_pad"]
    extend = [0] * nsp  # zero rows to prepend (negative begin padding)
    if output_shape is not None or auto_pad in ("same_upper", "same_lower"):
        sizes = _static_spatial(ctx, x, 2, "data")
        kernel = _static_spatial(ctx, w, 2, "weights")
        if output_shape is not None:
            out = list(output_shape)[-nsp:]  # some exporters include N and C
        else:
            out = [v * s for v, s in zip(sizes, attrs["strides"])]
        totals = [s * (v - 1) + p + (k - 1) * d + 1 - o
                  for v, s, p, k, d, o in zip(sizes, attrs["strides"], output_padding, kernel, attrs["dilations"], out)]
        begins = [t // 2 if auto_pad == "same_upper" else t - t // 2 for t in totals]
        ends = [t - b for t, b in zip(totals, begins)]
        extend = [max(-b, 0) for b in begins]
        attrs.update(auto_pad="explicit", pads_begin=[max(b, 0) for b in begins], pads_end=[max(e, 0) for e in ends])
        output_padding = [p - min(e, 0) for p, e in zip(output_padding, ends)]
    elif auto_pad == "valid":
        attrs.update(auto_pad="explicit", pads_begin=[0] * nsp, pads_end=[0] * nsp)
    groups = _groups(ctx, w)
    if groups > 1:
        out_node = ctx.op("GroupConvolutionBackpropData", x, _grouped_filters(ctx, w, groups),
                          output_padding=output_padding, **attrs)
    else:
        out_node = ctx.op("ConvolutionBackpropData", x, w, output_padding=output_padding, **attrs)
    if any(extend):
        zeros = np.zeros(nsp + 2, dtype=np.int64)
        out_node = ctx.op("Pad", out_node, ctx.const(np.concatenate([[0, 0], extend]).astype(np.int64)),
                          ctx.const(zeros), pad_mode="constant")
    return _add_bias(ctx, out_node)
