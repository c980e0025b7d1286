"""BatchNormDecomposition: BatchNormInference with constant parameters becomes x * scale + shift (per-channel
constants shaped [1, C, 1, ...]), which the weight-folding passes then fold into a preceding Convolution/MatMul
(OpenVINO's BatchNormDecomposition, with the constants computed here)."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.linear_folding import cast_finite, const_like, const_value
from irforge.transforms.pattern import Any, Match, Op, Pattern

_PARAMS = ("gamma", "beta", "mean", "var")


class BatchNormDecomposition(PatternPass):
    """scale = gamma / sqrt(var + eps), shift = beta - mean * scale, computed in f64 and stored in the data's
    type. Needs a static data rank and constant gamma/beta/mean/var."""

    name = "batch_norm_decomposition"
    description = "turn BatchNormInference with constant statistics into x*scale + shift"

    def pattern(self) -> Pattern:
        return Op("BatchNormInference", Any("x"), *(const_like(p) for p in _PARAMS), name="bn")

    def check(self, m: Match) -> str | None:
        x = m["x"]
        if not x.shape.rank_is_static or not x.element_type.is_float:
            return "dynamic rank or non-float data"
        gamma, beta, mean, var = (np.asarray(const_value(m[p]), np.float64) for p in _PARAMS)
        with np.errstate(all="ignore"):
            scale = gamma / np.sqrt(var + m["bn"].attrs["epsilon"])
            shift = beta - mean * scale
        shape = [1, -1] + [1] * (x.shape.rank - 2)
        m["scale"] = cast_finite(scale.reshape(shape), x.element_type.dtype)
        m["shift"] = cast_finite(shift.reshape(shape), x.element_type.dtype)
        if m["scale"] is None or m["shift"] is None:
            return "scale or shift overflows the data type"
        return None

    def rewrite(self, m: Match) -> Output:
        bn = m["bn"]
        mul = make("Multiply", [m["x"], constant(m["scale"])], name=f"{bn.name}/scale")
        return make("Add", [mul.output(0), constant(m["shift"])], name=bn.name).output(0)
