"""Unary math: exponentials, roots, rounding, sign and the trigonometric family.

OpenVINO's reference kernels compute these in floating point; for an integer tensor the result is rounded
to the nearest integer, halves away from zero (`std::roundl`). `FloatUnary` implements that once."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from irforge.ir.opset import Attr, register
from irforge.ir.ops._base import UnaryOp, as_dtype
from irforge.ir.types import ElementType

if TYPE_CHECKING:
    from irforge.ir.graph import Node


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (C's `round`)."""
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


def compute_dtype(et: ElementType) -> np.dtype:
    """The NumPy float type a kernel computes `et` in: f16 in f32 (as OpenVINO's CPU does), integers in f64."""
    if et.name in ("f32", "f64"):
        assert et.dtype is not None
        return et.dtype
    return np.dtype(np.float32) if et.name == "f16" else np.dtype(np.float64)


def float_kernel(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, et: ElementType) -> np.ndarray:
    """`fn` applied in floating point, the result stored as `et` (integers rounded half away from zero)."""
    with np.errstate(all="ignore"):
        y = np.asarray(fn(np.asarray(x).astype(compute_dtype(et), copy=False)))
        if et.is_integral:
            y = round_half_away(y)
    return as_dtype(y, et)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (SciPy's when installed, else the C library's, element by element)."""
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    return np.asarray(scipy_erf(x), x.dtype)


class FloatUnary(UnaryOp):
    """y = fn(x) computed in floating point (see the module docstring for integer inputs)."""

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        assert type(self).fn is not None, self.type_name
        return [float_kernel(type(self).fn, inputs[0], node.outputs[0].element_type)]


class IntegerIdentityUnary(UnaryOp):
    """Rounding ops: integers pass through unchanged (no detour through floats, which would lose int64 bits)."""

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        if node.outputs[0].element_type.is_integral:
            return [inputs[0]]
        return super().evaluate(node, inputs)


def _unary(name: str, fn: Callable[[np.ndarray], np.ndarray], version: str = "opset1",
           base: type[UnaryOp] = FloatUnary) -> type[UnaryOp]:
    cls = type(name, (base,), {"type_name": name, "version": version, "fn": staticmethod(fn),
                               "__doc__": f"{name}-{version[5:]}: element-wise {fn.__name__}."})
    return register(cls)


Exp = _unary("Exp", np.exp)
Log = _unary("Log", np.log)
Sqrt = _unary("Sqrt", np.sqrt)
Erf = _unary("Erf", erf)
Sin = _unary("Sin", np.sin)
Cos = _unary("Cos", np.cos)
Tan = _unary("Tan", np.tan)
Asin = _unary("Asin", np.arcsin)
Acos = _unary("Acos", np.arccos)
Atan = _unary("Atan", np.arctan)
Sinh = _unary("Sinh", np.sinh)
Cosh = _unary("Cosh", np.cosh)
Asinh = _unary("Asinh", np.arcsinh, "opset4")
Acosh = _unary("Acosh", np.arccosh, "opset4")
Atanh = _unary("Atanh", np.arctanh, "opset4")
Floor = _unary("Floor", np.floor, base=IntegerIdentityUnary)
Ceiling = _unary("Ceiling", np.ceil, base=IntegerIdentityUnary)
Abs = _unary("Abs", np.abs, base=UnaryOp)
Negative = _unary("Negative", np.negative, base=UnaryOp)
Sign = _unary("Sign", np.sign, base=UnaryOp)


@register
class Round(IntegerIdentityUnary):
    """Round-5: `half_to_even` (NumPy's rounding) or `half_away_from_zero`."""

    type_name = "Round"
    version = "opset5"
    attrs = (Attr("mode", "str", "half_to_even", ("half_to_even", "half_away_from_zero")),)

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        if node.outputs[0].element_type.is_integral:
            return [inputs[0]]
        x = inputs[0]
        y = np.round(x) if node.attrs["mode"] == "half_to_even" else round_half_away(x)
        return [as_dtype(y, node.outputs[0].element_type)]
