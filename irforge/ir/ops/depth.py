"""DepthToSpace and SpaceToDepth: move blocks of the channel axis to the spatial axes and back."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape
from irforge.ir.shape import Dimension, PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node

DEPTH_MODES = ("blocks_first", "depth_first")


def _divide(node: "Node", d: Dimension, by: int, what: str) -> Dimension:
    if d.is_dynamic:
        return Dimension()
    if d.min % by:
        raise GraphError(f"node '{node.name}' ({node.type}): {what} {d.min} is not divisible by {by}")
    return Dimension.of(d.min // by)


class _BlockOp(OpSpec):
    attrs = (Attr("block_size", "int", 1), Attr("mode", "str", choices=DEPTH_MODES))
    min_inputs = 1
    max_inputs = 1

    def _check(self, node: "Node") -> PartialShape | None:
        """The input shape when its rank is static (>= 3 required), else None."""
        self.check_inputs(node)
        if node.attrs["block_size"] < 1:
            raise GraphError(f"node '{node.name}' ({node.type}): block_size must be positive")
        shape = node.inputs[0].shape
        if not shape.rank_is_static:
            return None
        if shape.rank < 3:
            raise GraphError(f"node '{node.name}' ({node.type}): input rank must be >= 3, got {shape.rank}")
        return shape


@register
class DepthToSpace(_BlockOp):
    type_name = "DepthToSpace"
    version = "opset1"

    def infer(self, node: "Node") -> list[TypedShape]:
        shape = self._check(node)
        et = node.inputs[0].element_type
        if shape is None:
            return [(et, PartialShape(None))]
        bs, k = node.attrs["block_size"], shape.rank - 2
        dims = [shape[0], _divide(node, shape[1], bs**k, "channel count")] + [d * bs for d in shape.dims[2:]]
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        bs, k = node.attrs["block_size"], x.ndim - 2
        n, c, spatial = x.shape[0], x.shape[1], list(x.shape[2:])
        depth = c // bs**k
        if node.attrs["mode"] == "blocks_first":  # [N, b1..bK, C', D1..DK]
            x = x.reshape([n] + [bs] * k + [depth] + spatial)
            order = [0, k + 1] + [a for i in range(1, k + 1) for a in (k + 1 + i, i)]
        else:  # depth_first: [N, C', b1..bK, D1..DK]
            x = x.reshape([n, depth] + [bs] * k + spatial)
            order = [0, 1] + [a for i in range(1, k + 1) for a in (k + 1 + i, 1 + i)]
        out = x.transpose(order).reshape([n, depth] + [d * bs for d in spatial])
        return [np.ascontiguousarray(out)]


@register
class SpaceToDepth(_BlockOp):
    type_name = "SpaceToDepth"
    version = "opset1"

    def infer(self, node: "Node") -> list[TypedShape]:
        shape = self._check(node)
        et = node.inputs[0].element_type
        if shape is None:
            return [(et, PartialShape(None))]
        bs, k = node.attrs["block_size"], shape.rank - 2
        spatial = [_divide(node, d, bs, "spatial size") for d in shape.dims[2:]]
        return [(et, PartialShape([shape[0], shape[1] * bs**k] + spatial))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        bs, k = node.attrs["block_size"], x.ndim - 2
        n, c = x.shape[0], x.shape[1]
        reduced = [d // bs for d in x.shape[2:]]
        x = x.reshape([n, c] + [a for d in reduced for a in (d, bs)])  # [N, C, D1', b1, ..., DK', bK]
        blocks = [2 * i + 1 for i in range(1, k + 1)]
        spatial = [2 * i for i in range(1, k + 1)]
        order = [0] + blocks + [1] + spatial if node.attrs["mode"] == "blocks_first" else [0, 1] + blocks + spatial
        out = x.transpose(order).reshape([n, c * bs**k] + reduced)
        return [np.ascontiguousarray(out)]
