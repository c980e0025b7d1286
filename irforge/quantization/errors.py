"""The quantization's typed errors (user mistakes and unreachable accuracy targets: one-line messages)."""
from __future__ import annotations

from irforge.errors import IRForgeError


class DataError(IRForgeError):
    """Calibration/validation data or labels that are missing, unreadable or do not fit the model."""


class QuantizationError(IRForgeError):
    """Quantization could not produce a model meeting the request (e.g. the accuracy target is out of reach)."""
