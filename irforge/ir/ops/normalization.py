"""Normalization ops: BatchNormInference, MVN and NormalizeL2."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, from_compute, merged_type, normalize_axis, same_as_input, to_compute

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def reduction_axes(node: "Node", values: np.ndarray, rank: int) -> tuple[int, ...]:
    """An axes input's values as sorted, non-negative, unique axes of a rank-`rank` tensor."""
    axes = {normalize_axis(int(a), rank, node) for a in np.asarray(values).reshape(-1)}
    return tuple(sorted(axes))


def _check_axes_input(node: "Node", index: int = 1) -> None:
    et = node.inputs[index].element_type
    if not et.is_dynamic and not et.is_integral:
        raise GraphError(f"node '{node.name}' ({node.type}): axes must be an integer tensor, got {et}")
    shape = node.inputs[index].shape
    if shape.rank_is_static and shape.rank > 1:
        raise GraphError(f"node '{node.name}' ({node.type}): axes must be a scalar or 1D, got shape {shape}")


@register
class BatchNormInference(OpSpec):
    """y = gamma * (x - mean) / sqrt(variance + epsilon) + beta, per channel (axis 1)."""

    type_name = "BatchNormInference"
    version = "opset5"
    attrs = (Attr("epsilon", "float"),)
    min_inputs = 5
    max_inputs = 5

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = merged_type(node, (0, 1, 2, 3, 4))
        data = node.inputs[0].shape
        if data.rank_is_static and data.rank < 2:
            raise GraphError(f"node '{node.name}' (BatchNormInference): data rank must be >= 2, got {data.rank}")
        for i in range(1, 5):
            s = node.inputs[i].shape
            if s.rank_is_static and s.rank != 1:
                raise GraphError(f"node '{node.name}' (BatchNormInference): input {i} must be 1D, got shape {s}")
        return [(et, data)]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        x, gamma, beta, mean, var = (to_compute(a, et) for a in inputs)
        shape = (-1,) + (1,) * (x.ndim - 2)  # per-channel values broadcast over axis 1
        g, b, m, v = (a.reshape(shape) for a in (gamma, beta, mean, var))
        y = (x - m) / np.sqrt(v + x.dtype.type(node.attrs["epsilon"])) * g + b
        return [from_compute(y, et)]


@register
class MVN(OpSpec):
    """Mean-variance normalization over the axes given by input 1 (MVN-6)."""

    type_name = "MVN"
    version = "opset6"
    attrs = (
        Attr("eps", "float"),
        Attr("normalize_variance", "bool"),
        Attr("eps_mode", "str", choices=("INSIDE_SQRT", "OUTSIDE_SQRT")),
    )
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        _check_axes_input(node)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        x = to_compute(inputs[0], et)
        axes = reduction_axes(node, inputs[1], x.ndim)
        centered = x - x.mean(axis=axes, keepdims=True)
        if node.attrs["normalize_variance"]:
            var = np.mean(np.square(centered), axis=axes, keepdims=True)
            eps = x.dtype.type(node.attrs["eps"])
            if node.attrs["eps_mode"] == "INSIDE_SQRT":
                centered = centered / np.sqrt(var + eps)
            else:
                centered = centered / (np.sqrt(var) + eps)
        return [from_compute(centered, et)]


@register
class NormalizeL2(OpSpec):
    """x / sqrt(eps_mode(sum(x^2 over axes), eps)), eps_mode `add` or `max`."""

    type_name = "NormalizeL2"
    version = "opset1"
    attrs = (Attr("eps", "float"), Attr("eps_mode", "str", choices=("add", "max")))
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        _check_axes_input(node)
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        x = to_compute(inputs[0], et)
        sq = np.sum(np.square(x), axis=reduction_axes(node, inputs[1], x.ndim), keepdims=True)
        eps = x.dtype.type(node.attrs["eps"])
        denom = np.sqrt(sq + eps if node.attrs["eps_mode"] == "add" else np.maximum(sq, eps))
        return [from_compute(x / denom, et)]
