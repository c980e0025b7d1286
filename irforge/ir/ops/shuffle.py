"""ShuffleChannels: the channel shuffle of ShuffleNet as one op (no ONNX op maps to it; the optimizer's
ShuffleChannelsFusion produces it from Reshape -> Transpose -> Reshape)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, normalize_axis, same_as_input

if TYPE_CHECKING:
    from irforge.ir.graph import Node


@register
class ShuffleChannels(OpSpec):
    """Splits `axis` into [group, C / group], swaps the two and merges them back (same shape out)."""

    type_name = "ShuffleChannels"
    version = "opset1"
    attrs = (Attr("axis", "int", 1), Attr("group", "int", 1))
    min_inputs = 1
    max_inputs = 1

    def _axis(self, node: "Node", rank: int) -> int:
        if rank < 1:
            raise GraphError(f"node '{node.name}' (ShuffleChannels): input must have rank >= 1")
        return normalize_axis(node.attrs["axis"], rank, node)

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        group = node.attrs["group"]
        if group < 1:
            raise GraphError(f"node '{node.name}' (ShuffleChannels): group must be positive, got {group}")
        shape = node.inputs[0].shape
        if shape.rank_is_static:
            channels = shape[self._axis(node, shape.rank)]
            if channels.is_static and channels.min % group:
                raise GraphError(f"node '{node.name}' (ShuffleChannels): channel count {channels.min} is not "
                                 f"divisible by group {group}")
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axis, group = self._axis(node, x.ndim), node.attrs["group"]
        lead, trail = (int(np.prod(x.shape[s], dtype=np.int64)) for s in (slice(axis), slice(axis + 1, None)))
        view = x.reshape(lead, group, x.shape[axis] // group, trail)
        return [np.ascontiguousarray(view.transpose(0, 2, 1, 3)).reshape(x.shape)]
