"""PadFusion: a zero constant-mode Pad of the spatial axes followed by Convolution, GroupConvolution or AvgPool
becomes the op's own padding (OpenVINO's PadFusionConvolution/GroupConvolution/AvgPool).

MaxPool is never fused: it ignores its own padding, while it sees the Pad's zeros. Transposed convolutions are
left alone too (OpenVINO's PadFusionConvolutionBackpropData subtracts the pads without the stride factor).
An AvgPool takes the pads with exclude-pad=false, so every padded zero still counts: legal when the pool already
counts its padding (exclude-pad=false) or has none, and when no window reaches past the padded input (the
windows `ceil` rounding adds would count a whole kernel instead of what they cover). Two cases OpenVINO's own
PadFusion gets wrong are refused here: that ceil overhang, and same_* padding of unknown spatial sizes (which it
replaces by the Pad's pads alone). Run it before the weight folding: x * s -> Pad -> Conv then folds s into
the padded convolution's weights."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output
from irforge.ir.ops.convolution import dilated, ints_or
from irforge.transforms.base import PatternPass
from irforge.transforms.linear_folding import CONVS, clone, const_like, const_value, effective_pads
from irforge.transforms.pattern import Any, Const, Match, OneOf, Op, Pattern


def _no_overhang(pool: Output, padded: Output) -> bool:
    """Every window of AvgPool output `pool` lies inside its (already padded) input `padded`."""
    node = pool.node
    a = node.attrs
    if a["rounding_type"] == "floor":
        return True
    if not (pool.shape.is_static and padded.shape.is_static):
        return False
    nsp = len(a["kernel"])
    dil = ints_or(a.get("dilations"), 1, nsp)
    pads = effective_pads(node)
    assert pads is not None
    out, size = pool.shape.to_shape()[2:], padded.shape.to_shape()[2:]
    return all((o - 1) * s + dilated(k, d) <= x + b + e
               for o, s, k, d, x, b, e in zip(out, a["strides"], a["kernel"], dil, size, *pads))


class PadFusion(PatternPass):
    name = "pad_fusion"
    description = "fold a zero Pad of the spatial axes into the next Convolution/GroupConvolution/AvgPool"

    def pattern(self) -> Pattern:
        x, begin, end = Any("x"), Const("begin"), Const("end")
        pad = OneOf(Op("Pad", x, begin, end, name="pad"), Op("Pad", x, begin, end, const_like("value"), name="pad"))
        return OneOf(Op(CONVS, pad, Any("w"), name="op"), Op("AvgPool", pad, name="op"))

    def check(self, m: Match) -> str | None:
        pad, op = m["pad"], m["op"]
        begin, end = (np.asarray(m[k]).reshape(-1) for k in ("begin", "end"))
        if pad.attrs["pad_mode"] != "constant" or ("value" in m and np.any(const_value(m["value"]))):
            return "not a zero constant pad"
        if begin.size < 3 or np.any(begin[:2]) or np.any(end[:2]) or min(begin.min(), end.min()) < 0:
            return "pads batch/channel axes or crops"
        pads = effective_pads(op)
        if pads is None:
            return "same_* padding on dynamic spatial sizes"
        changes: dict[str, object] = {}
        if op.type == "AvgPool":
            if op.attrs["exclude-pad"] and (any(pads[0]) or any(pads[1])):
                return "exclude-pad pool with its own padding"
            if not _no_overhang(op.outputs[0], pad.outputs[0]):
                return "ceil rounding reaches past the padded input"
            changes["exclude-pad"] = False
        new = clone(op, [m["x"], *op.inputs[1:]], auto_pad="explicit",
                    pads_begin=[p + int(b) for p, b in zip(pads[0], begin[2:])],
                    pads_end=[p + int(e) for p, e in zip(pads[1], end[2:])], **changes)
        if new.outputs[0].shape != op.outputs[0].shape:
            new.detach()
            return "the fused op infers another shape"
        m["new"] = new
        return None

    def rewrite(self, m: Match) -> Output:
        return m["new"].output(0)
