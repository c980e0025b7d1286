"""TopK: opset1 and opset3 (same attributes; kept for reading IR) and opset11 (adds `stable`).

The reference kernel is always stable: among equal values the lower index is selected and comes first,
which is one of the results the spec allows when `stable` is false and the only one when it is true.
`sort="none"` orders like `sort="value"` (what OpenVINO's CPU plugin does)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, normalize_axis
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node

_TOPK_ATTRS = (
    Attr("axis", "int"),
    Attr("mode", "str", choices=("max", "min")),
    Attr("sort", "str", choices=("value", "index", "none")),
    Attr("index_element_type", "type", Type.i32),
)


def topk_order(x: np.ndarray, k: int, largest: bool, by_index: bool) -> np.ndarray:
    """Indices (along the last axis) of the k largest/smallest values, ties to the lower index; ordered by
    value (descending for largest) or, with `by_index`, by ascending index."""
    if largest:  # a stable descending sort: sort the reversed slice ascending, then reverse the order back
        n = x.shape[-1]
        order = (n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable"))[..., ::-1]
    else:
        order = np.argsort(x, axis=-1, kind="stable")
    order = order[..., :k]
    return np.sort(order, axis=-1) if by_index else order


@register
class TopK(OpSpec):
    type_name = "TopK"
    version = "opset1"
    attrs = _TOPK_ATTRS
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        data, k_in = node.inputs
        idx_type = node.attrs["index_element_type"]
        if idx_type not in (Type.i32, Type.i64):
            raise GraphError(f"node '{node.name}' (TopK): index_element_type must be i32 or i64, got {idx_type}")
        if k_in.shape.rank_is_static and k_in.shape.rank != 0:
            raise GraphError(f"node '{node.name}' (TopK): k must be a scalar, got shape [{k_in.shape}]")
        if not (k_in.element_type.is_dynamic or k_in.element_type.is_integral):
            raise GraphError(f"node '{node.name}' (TopK): k must be an integer, got {k_in.element_type}")
        if not data.shape.rank_is_static:
            return [(data.element_type, PartialShape(None)), (idx_type, PartialShape(None))]
        axis = normalize_axis(node.attrs["axis"], data.shape.rank, node)
        k = node.input_value(1)
        if k is not None:
            if int(k) < 0:
                raise GraphError(f"node '{node.name}' (TopK): k must not be negative, got {int(k)}")
            dim = Dimension.of(int(k))
        else:
            n = data.shape[axis]
            dim = Dimension(0, n.min) if n.is_static else Dimension()
        dims = list(data.shape.dims)
        dims[axis] = dim
        return [(data.element_type, PartialShape(dims)), (idx_type, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axis = normalize_axis(node.attrs["axis"], x.ndim, node)
        k = int(inputs[1])
        if k > x.shape[axis]:
            raise GraphError(f"node '{node.name}' (TopK): k={k} exceeds dimension {x.shape[axis]} of axis {axis}")
        xs = np.moveaxis(x, axis, -1)
        order = topk_order(xs, k, node.attrs["mode"] == "max", node.attrs["sort"] == "index")
        values = np.take_along_axis(xs, order, axis=-1)
        idx_dtype = node.outputs[1].element_type.dtype
        return [np.ascontiguousarray(np.moveaxis(values, -1, axis)),
                np.ascontiguousarray(np.moveaxis(order, -1, axis)).astype(idx_dtype)]


@register
class TopK3(TopK):
    version = "opset3"


@register
class TopK11(TopK):
    version = "opset11"
    attrs = _TOPK_ATTRS + (Attr("stable", "bool", False),)

    def infer(self, node: "Node") -> list[TypedShape]:
        if node.attrs["stable"] and node.attrs["sort"] == "none":
            raise GraphError(f"node '{node.name}' (TopK): stable sorting needs sort 'value' or 'index', not 'none'")
        return super().infer(node)
