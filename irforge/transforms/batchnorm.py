"""BatchNormDecomposition: BatchNormInference with constant parameters becomes x * scale + shift (per-channel
constants shaped [1, C, 1, ...]), which the weight-folding passes then fold into a preceding Convolution/MatMul
(OpenVINO's BatchNormDecomposition, with the constants computed here)."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Output, constant, make
from irforge.transforms.base import PatternPass
from irforge.transforms.linear_folding import const_value, const_like
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
        return None

    def rewrite(self, m: Match) -> Output:
        bn = m["bn"]
        x = m["x"]
        gamma, beta, mean, var = (np.asarray(const_value(m[p]), np.float64) for p in _PARAMS)
        scale = gamma / np.sqrt(var + bn.attrs["epsilon"])
        shift = beta - mean * scale
        shape = [1, -1] + [1] * (x.shape.rank - 2)
        dtype = x.element_type.dtype
        mul = make("Multiply", [x, constant(scale.reshape(shape).astype(dtype))], name=f"{bn.name}/scale")
        return make("Add", [mul.output(0), constant(shift.reshape(shape).astype(dtype))], name=bn.name).output(0)
