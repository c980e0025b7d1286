"""CumSum (opset3) and OneHot (opset1; opset16 adds `negative_indices_mode`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, as_dtype, merged_type, normalize_axis, same_as_input
from irforge.ir.shape import Dimension, PartialShape

if TYPE_CHECKING:
    from irforge.ir.graph import Node, Output


def _check_integral_scalar(node: "Node", src: "Output", what: str) -> None:
    if not (src.element_type.is_dynamic or src.element_type.is_integral):
        raise GraphError(f"node '{node.name}' ({node.type}): {what} must be an integer, got {src.element_type}")
    if src.shape.rank_is_static and src.shape.rank != 0:
        raise GraphError(f"node '{node.name}' ({node.type}): {what} must be a scalar, got shape [{src.shape}]")


@register
class CumSum(OpSpec):
    """Cumulative sum along `axis` (input 1, default 0); `exclusive` leaves the current element out,
    `reverse` sums from the end."""

    type_name = "CumSum"
    version = "opset3"
    attrs = (Attr("exclusive", "bool", False), Attr("reverse", "bool", False))
    min_inputs = 1
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        if len(node.inputs) > 1:
            _check_integral_scalar(node, node.inputs[1], "axis")
            shape = node.inputs[0].shape
            axis = node.input_value(1)
            if axis is not None and shape.rank_is_static:
                normalize_axis(int(axis), shape.rank, node)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0])
        axis = normalize_axis(int(inputs[1]) if len(inputs) > 1 else 0, x.ndim, node)
        xs = np.moveaxis(x, axis, -1)
        if node.attrs["reverse"]:
            xs = xs[..., ::-1]
        acc = np.cumsum(xs, axis=-1, dtype=np.float32 if x.dtype == np.float16 else None)
        if node.attrs["exclusive"]:
            acc = np.concatenate([np.zeros_like(acc[..., :1]), acc[..., :-1]], axis=-1)
        if node.attrs["reverse"]:
            acc = acc[..., ::-1]
        out = np.ascontiguousarray(np.moveaxis(acc, -1, axis))
        return [as_dtype(out, node.outputs[0].element_type)]


@register
class OneHot(OpSpec):
    """A new axis of length `depth` at `axis`: on_value where the index equals the position, else off_value.
    Indices outside [0, depth) give all off_value (negative ones too, unless normalized in OneHot-16)."""

    type_name = "OneHot"
    version = "opset1"
    attrs: tuple[Attr, ...] = (Attr("axis", "int"),)
    min_inputs = 4
    max_inputs = 4

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        indices, depth_in, on, off = node.inputs
        if not (indices.element_type.is_dynamic or indices.element_type.is_integral):
            raise GraphError(f"node '{node.name}' (OneHot): indices must be integers, got {indices.element_type}")
        _check_integral_scalar(node, depth_in, "depth")
        for src, what in ((on, "on_value"), (off, "off_value")):
            if src.shape.rank_is_static and src.shape.rank != 0:
                raise GraphError(f"node '{node.name}' (OneHot): {what} must be a scalar, got shape [{src.shape}]")
        et = merged_type(node, (2, 3))
        if not indices.shape.rank_is_static:
            return [(et, PartialShape(None))]
        rank = indices.shape.rank + 1
        axis = normalize_axis(node.attrs["axis"], rank, node)
        depth = node.input_value(1)
        if depth is not None and int(depth) < 0:
            raise GraphError(f"node '{node.name}' (OneHot): depth must not be negative, got {int(depth)}")
        dims = list(indices.shape.dims)
        dims.insert(axis, Dimension() if depth is None else Dimension.of(int(depth)))
        return [(et, PartialShape(dims))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        indices = np.asarray(inputs[0]).astype(np.int64)
        depth = int(inputs[1])
        on, off = np.asarray(inputs[2]), np.asarray(inputs[3])
        if node.attrs.get("negative_indices_mode") == "normalize":
            indices = np.where(indices < 0, indices + depth, indices)
        axis = normalize_axis(node.attrs["axis"], indices.ndim + 1, node)
        positions = np.arange(depth).reshape([depth] + [1] * (indices.ndim - axis))
        mask = np.expand_dims(indices, axis) == positions
        return [np.where(mask, on, off).astype(off.dtype)]


@register
class OneHot16(OneHot):
    version = "opset16"
    attrs = (Attr("axis", "int"), Attr("negative_indices_mode", "str", "ignore_negative",
                                       ("ignore_negative", "normalize")))
