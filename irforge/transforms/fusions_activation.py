"""Activation fusions: the decomposed sub-graphs exporters write for activations become one OpenVINO op.

The patterns and their legality follow OpenVINO's common_optimizations (gelu_fusion.cpp, swish_fusion.cpp,
hswish_fusion.cpp, hsigmoid_fusion.cpp, softplus_fusion.cpp, mish_fusion.cpp, softplus_to_mish_fusion.cpp,
leaky_relu_fusion.cpp, prelu_fusion.cpp, clamp_fusion.cpp), widened to the association orders and the
divide-versus-multiply spellings that are the same function. Constants are checked the way OpenVINO's
`has_constant_value` does: exactly one element, equal to the expected value within an absolute tolerance
(float epsilon unless OpenVINO allows more for that constant).

Every fusion also requires a float `x` (except Clamp) and that the fused op's output (x's type and shape) is
exactly the pattern's output: a one-element constant of a higher rank would have broadcast x.
"""
from __future__ import annotations

import math

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.pattern import Any, Const, Match, Op, OneOf, Pattern

_EPS = float(np.finfo(np.float32).eps)
_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _item(value: np.ndarray) -> int | float:
    """The one element of `value`: an int for integer constants, else a float (bf16/f8 included)."""
    if value.dtype.kind in "iub":
        return int(value.reshape(()))
    return float(np.asarray(value, np.float64).reshape(()))


def is_scalar_value(value: np.ndarray, target: float, tol: float = _EPS) -> bool:
    """OpenVINO's has_constant_value: one element, within `tol` of `target` for floats, equal for integers."""
    if value.size != 1:
        return False
    v = _item(value)
    return v == target if isinstance(v, int) else abs(v - target) <= tol


def _c(target: float, tol: float = _EPS) -> Const:
    """A one-element constant equal to `target` (within `tol`)."""
    return Const(where=lambda v: is_scalar_value(v, target, tol))


def _single(v: np.ndarray) -> bool:
    return v.size == 1


def _uniform(v: np.ndarray) -> bool:
    """A float constant whose elements are all the same value (swish_fusion.cpp's check_beta_value)."""
    return v.size > 0 and v.dtype.kind not in "iub" and bool(np.all(v == v.flat[0]))


def _neg(v: Pattern) -> Pattern:
    """-v, as Negative or as a multiplication by -1."""
    return OneOf(Op("Negative", v), Op("Multiply", v, _c(-1.0)))


def _half(v: Pattern) -> Pattern:
    """v * 0.5 or v / 2."""
    return OneOf(Op("Multiply", v, _c(0.5)), Op("Divide", v, _c(2.0)))


def _sixth(v: Pattern) -> Pattern:
    """v / 6 or v * (1/6) (OpenVINO accepts 1/6 within 1e-4)."""
    return OneOf(Op("Divide", v, _c(6.0)), Op("Multiply", v, _c(1 / 6, 1e-4)))


def _relu6(v: Pattern) -> Pattern:
    """min(max(v, 0), 6) in the spellings exporters and earlier fusions produce."""
    return OneOf(Op("Minimum", Op("Relu", v), _c(6.0)),
                 Op("Relu", Op("Minimum", v, _c(6.0))),
                 Op("Minimum", Op("Maximum", v, _c(0.0)), _c(6.0)),
                 Op("Maximum", Op("Minimum", v, _c(6.0)), _c(0.0)),
                 Op("Clamp", v, where=lambda n: n.attrs["min"] == 0.0 and n.attrs["max"] == 6.0))


def _hsigmoid(x: Pattern) -> Pattern:
    """relu6(x + 3) / 6, and HardSigmoid with HSigmoid's own alpha (1/6) and beta (1/2)."""
    return OneOf(_sixth(_relu6(Op("Add", x, _c(3.0)))),
                 Op("HardSigmoid", x, _c(1 / 6, 1e-4), _c(0.5)))


def _softplus(x: Pattern) -> Pattern:
    """log(exp(x) + 1) (softplus_fusion.cpp: the 1 must be exact)."""
    return Op("Log", Op("Add", Op("Exp", x), _c(1.0, 0.0)))


def _x_times_phi(x: Pattern, f: Pattern) -> Pattern:
    """0.5 * x * (1 + f) in each association order, and x * (0.5 + 0.5 * f): x times a Gaussian CDF."""
    one_plus = Op("Add", f, _c(1.0))
    return OneOf(Op("Multiply", _half(x), one_plus),
                 _half(Op("Multiply", x, one_plus)),
                 Op("Multiply", x, _half(one_plus)),
                 Op("Multiply", x, Op("Add", _half(f), _c(0.5))))


class ActivationFusion(PatternPass):
    """A fusion whose pattern is bound to `x` and whose result has x's type and shape."""

    float_only = True

    def check(self, m: Match) -> str | None:
        x, out = m["x"], m.root.outputs[0]
        if self.float_only and not x.element_type.is_float:
            return "x is not a float tensor"
        if out.element_type != x.element_type or out.shape != x.shape:
            return "a constant of the pattern broadcasts x"
        return None


class GeluFusion(ActivationFusion):
    name = "gelu_fusion"
    description = "0.5*x*(1+erf(x/sqrt(2))) -> Gelu(ERF); 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))) -> Gelu(TANH)"

    def pattern(self) -> Pattern:
        x = Any("x")
        erf = Op("Erf", OneOf(Op("Divide", x, _c(_SQRT2, 1e-3)), Op("Multiply", x, _c(1 / _SQRT2, 1e-3))),
                 name="erf")
        kappa, k = _c(_GELU_CUBIC, 1e-3), _c(_SQRT_2_OVER_PI, 0.01)
        cube = OneOf(Op("Power", x, _c(3.0)), Op("Multiply", Op("Multiply", x, x), x))
        kappa_x2 = Op("Multiply", Op("Multiply", x, kappa), x)
        kappa_x3 = OneOf(Op("Multiply", cube, kappa), Op("Multiply", kappa_x2, x))
        tanh_arg = OneOf(Op("Multiply", Op("Add", x, kappa_x3), k),
                         # (x * 0.044715 * x + 1) * (x * sqrt(2/pi)): GeluFusionWithTanhNoPower
                         Op("Multiply", Op("Add", kappa_x2, _c(1.0)), Op("Multiply", x, k)))
        return OneOf(_x_times_phi(x, erf), _x_times_phi(x, Op("Tanh", tanh_arg)))

    def rewrite(self, m: Match) -> Output:
        return make("Gelu", [m["x"]], approximation_mode="ERF" if "erf" in m else "TANH").output(0)


class SwishFusion(ActivationFusion):
    name = "swish_fusion"
    description = "x*sigmoid(x), x/(1+exp(-x)) -> Swish; with x*beta for x (beta a uniform constant) -> Swish(x, beta)"

    def pattern(self) -> Pattern:
        x, beta = Any("x"), Const("beta", where=_uniform)
        scaled = OneOf(x, Op("Multiply", x, beta))
        minus_scaled = OneOf(_neg(scaled), Op("Multiply", _neg(x), beta))  # -(x*beta) or (-x)*beta
        return OneOf(Op("Multiply", x, Op("Sigmoid", scaled)),
                     Op("Divide", x, Op("Add", Op("Exp", minus_scaled), _c(1.0))))

    def rewrite(self, m: Match) -> Output:
        x = m["x"]
        inputs = [x]
        if "beta" in m:
            inputs.append(constant(np.asarray(m["beta"].flat[0], x.element_type.dtype)))
        return make("Swish", inputs).output(0)


class HSigmoidFusion(ActivationFusion):
    name = "hsigmoid_fusion"
    description = "relu6(x+3)/6 (Relu+Minimum, Maximum+Minimum or Clamp; /6 or *1/6), HardSigmoid(1/6, 1/2) -> HSigmoid"

    def pattern(self) -> Pattern:
        return _hsigmoid(Any("x"))

    def rewrite(self, m: Match) -> Output:
        return make("HSigmoid", [m["x"]]).output(0)


class HSwishFusion(ActivationFusion):
    name = "hswish_fusion"
    description = "x*relu6(x+3)/6 in each association order, and x*HSigmoid(x) -> HSwish"

    def pattern(self) -> Pattern:
        x = Any("x")
        relu6 = _relu6(Op("Add", x, _c(3.0)))
        return OneOf(Op("Multiply", x, OneOf(Op("HSigmoid", x), _hsigmoid(x))),
                     _sixth(Op("Multiply", x, relu6)),
                     Op("Multiply", _sixth(x), relu6))

    def rewrite(self, m: Match) -> Output:
        return make("HSwish", [m["x"]]).output(0)


class SoftPlusFusion(ActivationFusion):
    name = "softplus_fusion"
    description = "log(exp(x)+1) -> SoftPlus"

    def pattern(self) -> Pattern:
        return _softplus(Any("x"))

    def rewrite(self, m: Match) -> Output:
        return make("SoftPlus", [m["x"]]).output(0)


class MishFusion(ActivationFusion):
    name = "mish_fusion"
    description = "x*tanh(softplus(x)) and x*tanh(log(exp(x)+1)) -> Mish"

    def pattern(self) -> Pattern:
        x = Any("x")
        return Op("Multiply", x, Op("Tanh", OneOf(Op("SoftPlus", x), _softplus(x))))

    def rewrite(self, m: Match) -> Output:
        return make("Mish", [m["x"]]).output(0)


class LeakyReluFusion(ActivationFusion):
    """max(x, alpha*x) is x for x >= 0 and alpha*x below whenever alpha <= 1 (leaky_relu_fusion.cpp's bound;
    a negative alpha is fine too), so it is a PRelu with a one-element slope."""

    name = "leaky_relu_fusion"
    description = "Maximum(x, x*alpha) with a one-element constant alpha <= 1 -> PRelu(x, alpha)"

    def pattern(self) -> Pattern:
        x = Any("x")
        alpha = Const("slope", where=lambda v: v.size == 1 and _item(v) <= 1)
        return Op("Maximum", x, Op("Multiply", x, alpha))

    def rewrite(self, m: Match) -> Output:
        return _prelu(m["x"], m["slope"])


class PReluFusion(ActivationFusion):
    name = "prelu_fusion"
    description = "relu(x) - a*relu(-x), relu(x) + a*(-relu(-x)), relu(x) + a*(x-|x|)*0.5 ... -> PRelu(x, a)"

    def pattern(self) -> Pattern:
        x = Any("x")
        slope, neg_slope = Const("slope"), Const("neg_slope")
        relu_x, relu_neg = Op("Relu", x), Op("Relu", _neg(x))
        x_minus_abs = Op("Subtract", x, Op("Abs", x))  # 2x below zero, 0 above
        return OneOf(Op("Subtract", relu_x, Op("Multiply", relu_neg, slope)),
                     Op("Add", relu_x, Op("Multiply", Op("Negative", relu_neg), slope)),
                     Op("Add", relu_x, Op("Multiply", relu_neg, neg_slope)),
                     Op("Add", relu_x, OneOf(_half(Op("Multiply", x_minus_abs, slope)),
                                             Op("Multiply", _half(x_minus_abs), slope))))

    def check(self, m: Match) -> str | None:
        slope = m["slope"] if "slope" in m else m["neg_slope"]
        if slope.ndim == 1 and slope.size > 1 and not m["x"].shape.rank_is_static:
            return "a 1-D slope on x of unknown rank might be read per channel by PRelu"
        return super().check(m)

    def rewrite(self, m: Match) -> Output:
        return _prelu(m["x"], m["slope"] if "slope" in m else -m["neg_slope"])


def _prelu(x: Output, slope: np.ndarray) -> Output:
    """PRelu(x, slope) meaning what the NumPy-broadcast slope meant: one value becomes a [1] slope; a 1-D slope
    as long as x's dim 1 would be read per channel by OpenVINO, so it gets a leading 1 (as the ONNX frontend
    does)."""
    value = np.asarray(slope, x.element_type.dtype)
    if value.size == 1:
        value = value.reshape(1)
    elif value.ndim == 1 and x.shape.rank_is_static and x.shape.rank > 2:
        value = value.reshape(1, -1)
    return make("PRelu", [x, constant(value)]).output(0)


class ClampFusion(ActivationFusion):
    """Minimum(Maximum(x, lo), hi) or Maximum(Minimum(x, hi), lo) with one-element constants lo <= hi.
    Also for integer tensors, when both bounds are exact as the double attributes Clamp stores."""

    name = "clamp_fusion"
    description = "Minimum(Maximum(x, lo), hi) and Maximum(Minimum(x, hi), lo) with scalar constants lo <= hi -> Clamp"
    float_only = False

    def pattern(self) -> Pattern:
        x, lo, hi = Any("x"), Const("lo", where=_single), Const("hi", where=_single)
        return OneOf(Op("Minimum", Op("Maximum", x, lo), hi), Op("Maximum", Op("Minimum", x, hi), lo))

    def check(self, m: Match) -> str | None:
        reason = super().check(m)
        if reason is not None:
            return reason
        et = m["x"].element_type
        if not (et.is_float or et.is_integral):
            return "x is neither a float nor an integer tensor"
        lo, hi = _item(m["lo"]), _item(m["hi"])
        if not all(math.isfinite(b) and float(b) == b for b in (lo, hi)):
            return "a bound is not finite or not exact as a double"
        return None if lo <= hi else "lo > hi (the pattern then returns hi everywhere)"

    def rewrite(self, m: Match) -> Output:
        return make("Clamp", [m["x"]], min=float(_item(m["lo"])), max=float(_item(m["hi"]))).output(0)


ACTIVATION_FUSIONS: tuple[type[ActivationFusion], ...] = (
    ClampFusion, SoftPlusFusion, MishFusion, SwishFusion, HSigmoidFusion, HSwishFusion, GeluFusion,
    LeakyReluFusion, PReluFusion)
"""The fusions of this module in a good running order (run them after constant folding)."""
