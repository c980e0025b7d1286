"""Post-training INT8 quantization: `quantize` (default) and `quantize_with_accuracy_control` (accuracy-aware).

Pipeline: placement.py (which tensors get a FakeQuantize, which weights, which groups) -> collect.py/statistics.py
(streaming statistics on the calibration subset) -> plan.py (ranges.py, weights.py, bias_correction.py) ->
insert.py (the INT8 model) -> accuracy_control.py (revert groups until the drop is within the limit, validating
with validation.py/metrics.py) -> report.py. data.py reads datasets from disk; samples.py checks items against the
model's inputs; runner.py runs models on the CPU device (or REF)."""
from irforge.quantization.api import (QuantizationResult, quantize, quantize_report, quantize_with_accuracy_control,
                                      quantize_with_accuracy_control_report)
from irforge.quantization.errors import DataError, QuantizationError
from irforge.quantization.report import QuantizationReport

__all__ = ["quantize", "quantize_with_accuracy_control", "quantize_report", "quantize_with_accuracy_control_report",
           "QuantizationResult", "QuantizationReport", "DataError", "QuantizationError"]
