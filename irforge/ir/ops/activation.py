"""Activation functions."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, UnaryOp, as_dtype, same_as_input
from irforge.ir.ops.math import FloatUnary, erf, float_kernel

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def softplus(x: np.ndarray) -> np.ndarray:
    """ln(1 + e^x) without overflow."""
    return np.logaddexp(np.zeros((), x.dtype), x)


def hsigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 3, 0, 6) / 6


@register
class Relu(UnaryOp):
    type_name = "Relu"
    xml_name = "ReLU"
    fn = staticmethod(lambda x: np.maximum(x, np.zeros((), x.dtype)))


@register
class Sigmoid(FloatUnary):
    type_name = "Sigmoid"
    fn = staticmethod(sigmoid)


@register
class Tanh(FloatUnary):
    type_name = "Tanh"
    fn = staticmethod(np.tanh)


@register
class SoftPlus(FloatUnary):
    type_name = "SoftPlus"
    version = "opset4"
    fn = staticmethod(softplus)


@register
class SoftSign(FloatUnary):
    type_name = "SoftSign"
    version = "opset9"
    fn = staticmethod(lambda x: x / (1 + np.abs(x)))


@register
class Mish(FloatUnary):
    type_name = "Mish"
    version = "opset4"
    fn = staticmethod(lambda x: x * np.tanh(softplus(x)))


@register
class HSwish(FloatUnary):
    type_name = "HSwish"
    version = "opset4"
    fn = staticmethod(lambda x: x * hsigmoid(x))


@register
class HSigmoid(FloatUnary):
    type_name = "HSigmoid"
    version = "opset5"
    fn = staticmethod(hsigmoid)


@register
class Clamp(UnaryOp):
    """Clip to [min, max]. For an integer tensor the bounds are rounded inward (ceil(min), floor(max))."""

    type_name = "Clamp"
    attrs = (Attr("min", "float"), Attr("max", "float"))

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        lo, hi = node.attrs["min"], node.attrs["max"]
        if np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            lo, hi = (min(max(math.ceil(lo) if math.isfinite(lo) else lo, info.min), info.max),
                      min(max(math.floor(hi) if math.isfinite(hi) else hi, info.min), info.max))
        with np.errstate(over="ignore"):
            bounds = np.array([lo, hi]).astype(x.dtype)
        return [as_dtype(np.clip(x, bounds[0], bounds[1]), node.outputs[0].element_type)]  # np.clip widens bf16


@register
class Elu(FloatUnary):
    """x for x > 0, alpha * (e^x - 1) otherwise."""

    type_name = "Elu"
    attrs = (Attr("alpha", "float"),)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        alpha = node.attrs["alpha"]
        return [float_kernel(lambda x: np.where(x > 0, x, alpha * np.expm1(x)), inputs[0],
                             node.outputs[0].element_type)]


@register
class Gelu(FloatUnary):
    """Gelu-7: x * Phi(x) with the exact `ERF` form or the `TANH` approximation."""

    type_name = "Gelu"
    version = "opset7"
    attrs = (Attr("approximation_mode", "str", "ERF", ("ERF", "TANH")),)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        if node.attrs["approximation_mode"] == "ERF":
            def fn(x: np.ndarray) -> np.ndarray:
                return 0.5 * x * (1 + erf(x / np.sqrt(2).astype(x.dtype)))
        else:
            def fn(x: np.ndarray) -> np.ndarray:
                k = np.sqrt(2 / np.pi).astype(x.dtype)
                return 0.5 * x * (1 + np.tanh(k * (x + np.asarray(0.044715, x.dtype) * x ** 3)))
        return [float_kernel(fn, inputs[0], node.outputs[0].element_type)]


class ParamActivation(OpSpec):
    """An activation of input 0 whose parameters are further (scalar or broadcastable) inputs, evaluated in
    the data's compute type by `kernel(x, *params)`."""

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        return same_as_input(node)

    def kernel(self, x: np.ndarray, *params: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *params = inputs
        return [float_kernel(lambda v: self.kernel(v, *(p.astype(v.dtype) for p in params)), x,
                             node.outputs[0].element_type)]


@register
class Selu(ParamActivation):
    """lambda * (x for x > 0, alpha * (e^x - 1) otherwise); inputs data, alpha, lambda."""

    type_name = "Selu"
    min_inputs = 3
    max_inputs = 3

    def kernel(self, x: np.ndarray, *params: np.ndarray) -> np.ndarray:
        alpha, lam = params
        return lam * np.where(x > 0, x, alpha * np.expm1(x))


@register
class HardSigmoid(ParamActivation):
    """max(0, min(1, alpha * x + beta)); inputs data, alpha, beta."""

    type_name = "HardSigmoid"
    min_inputs = 3
    max_inputs = 3

    def kernel(self, x: np.ndarray, *params: np.ndarray) -> np.ndarray:
        alpha, beta = params
        return np.clip(alpha * x + beta, 0, 1)


@register
class Swish(ParamActivation):
    """x * sigmoid(beta * x); the optional scalar input beta defaults to 1."""

    type_name = "Swish"
    version = "opset4"
    min_inputs = 1
    max_inputs = 2

    def kernel(self, x: np.ndarray, *params: np.ndarray) -> np.ndarray:
        beta = params[0] if params else np.ones((), x.dtype)
        return x * sigmoid(beta * x)


@register
class PRelu(OpSpec):
    """x for x >= 0, slope * x otherwise. A 1-D slope as long as the data's dim 1 applies per channel;
    any other slope broadcasts with NumPy rules."""

    type_name = "PRelu"
    xml_name = "PReLU"
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        x, slope = node.inputs[0].shape, node.inputs[1].shape
        if x.rank_is_static and slope.rank_is_static and not _maybe_per_channel(x.to_list(), slope.to_list()):
            try:
                np.broadcast_shapes(tuple(max(d, 1) for d in x.to_list()), tuple(max(d, 1) for d in slope.to_list()))
            except ValueError:
                raise GraphError(f"node '{node.name}' (PRelu): slope {slope} does not broadcast to data {x}") from None
        return same_as_input(node)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, slope = inputs
        if _per_channel(list(x.shape), list(slope.shape)):
            slope = slope.reshape((-1,) + (1,) * (x.ndim - 2))
        out = np.where(x < 0, x * slope.astype(x.dtype), x)
        if out.shape != x.shape:  # a slope of higher rank (its extra dims are 1): the output is the data's shape
            out = out.reshape(x.shape)
        return [as_dtype(out, node.outputs[0].element_type)]


def _per_channel(data: list[int], slope: list[int]) -> bool:
    """OpenVINO's PRelu rule: a 1-D slope whose length equals the data's dim 1 is per channel."""
    return len(slope) == 1 and len(data) >= 2 and slope[0] == data[1]


def _maybe_per_channel(data: list[int], slope: list[int]) -> bool:
    """Per channel, or possibly so once a dynamic dim (-1) is known."""
    return len(slope) == 1 and len(data) >= 2 and (_per_channel(data, slope) or -1 in (slope[0], data[1]))
