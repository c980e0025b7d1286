"""Activation functions."""
from __future__ import annotations

import numpy as np

from irforge.ir.opset import register
from irforge.ir.ops._base import UnaryOp


@register
class Relu(UnaryOp):
    type_name = "Relu"
    xml_name = "ReLU"
    fn = staticmethod(lambda x: np.maximum(x, np.zeros((), x.dtype)))
