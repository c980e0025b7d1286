"""Validation of a candidate model, two ways:

- `MetricValidator`: irforge runs the model over the validation samples itself and computes a built-in metric
  (metrics.py) from the outputs, so one pass gives both the metric and the per-sample outputs;
- `CallbackValidator`: the user's `validation_fn(compiled_model, data) -> float` computes the metric (with a
  progress bar counting its inferences); per-sample outputs, when the search needs them, come from a separate run.

Both run the outputs of a sample subset (`outputs(model, indices)`) for the ranking."""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from irforge.ir.graph import Model
from irforge.quantization.errors import QuantizationError
from irforge.quantization.metrics import Outputs, metric_value
from irforge.quantization.progress import Progress
from irforge.quantization.runner import DevicePolicy, ModelRunner, compile_for, split_rows
from irforge.quantization.samples import Sample


class Validator:
    def __init__(self, samples: Sequence[Sample], policy: DevicePolicy, batch_size: int, progress: bool) -> None:
        self.samples = list(samples)
        self.policy = policy
        self.batch_size = batch_size
        self.progress = progress
        self.reference: Outputs | None = None  # the floating-point model's outputs, per sample
        self.passes = 0

    def outputs(self, model: Model, indices: Sequence[int] | None = None,
                label: str | None = None) -> list[list[np.ndarray]]:
        """Per-sample outputs of `model` on the validation samples (all, or those at `indices`)."""
        chosen = self.samples if indices is None else [self.samples[i] for i in indices]
        runner = ModelRunner(model, self.policy, self.batch_size, len(chosen))
        result: list[list[np.ndarray]] = []
        bar = Progress(label, len(chosen), self.progress and label is not None)
        for _, _, outs, counts in runner.run(chosen, bar):
            result.extend(split_rows(outs, counts))
        if label is not None:
            bar.close()
        return result

    def evaluate(self, model: Model, label: str) -> tuple[float, list[list[np.ndarray]] | None]:
        """(metric, per-sample outputs when they came for free)."""
        raise NotImplementedError


class MetricValidator(Validator):
    def __init__(self, samples: Sequence[Sample], metric: str, labels: np.ndarray | None, policy: DevicePolicy,
                 batch_size: int = 32, progress: bool = True) -> None:
        super().__init__(samples, policy, batch_size, progress)
        self.metric = metric
        self.labels = labels

    def evaluate(self, model: Model, label: str) -> tuple[float, list[list[np.ndarray]] | None]:
        outs = self.outputs(model, None, label)
        self.passes += 1
        if self.reference is None:
            self.reference = outs
        return metric_value(self.metric, outs, self.reference, self.labels), outs


class _CountingModel:
    """The compiled model handed to a user's validation_fn: forwards everything, advances a progress bar."""

    def __init__(self, compiled: Any, bar: Progress) -> None:
        self._compiled = compiled
        self._bar = bar

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self._compiled(*args, **kwargs)
        self._bar.advance()
        return out

    def create_infer_request(self) -> Any:
        return self._compiled.create_infer_request()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compiled, name)


class CallbackValidator(Validator):
    def __init__(self, items: Sequence[Any], samples: Sequence[Sample],
                 validation_fn: Callable[[Any, Any], Any], policy: DevicePolicy, batch_size: int = 32,
                 progress: bool = True) -> None:
        super().__init__(samples, policy, batch_size, progress)
        self.items = list(items)
        self.validation_fn = validation_fn

    def evaluate(self, model: Model, label: str) -> tuple[float, list[list[np.ndarray]] | None]:
        compiled = self._compile(model)
        with Progress(label, len(self.items), self.progress) as bar:
            value = self.validation_fn(_CountingModel(compiled, bar), self.items)
        self.passes += 1
        if isinstance(value, tuple) and value:  # NNCF's (metric, per-item values) form: the metric is first
            value = value[0]
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(-1)[0]
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(float(value)):
            raise QuantizationError(f"validation_fn must return a finite number (higher is better), got {value!r}")
        return float(value), None

    def _compile(self, model: Model) -> Any:
        candidates = self.policy.candidates()
        if candidates[0] == "CPU" and self.policy.device == "auto" and self.samples:
            probe = ModelRunner(model, self.policy, 1, len(self.items))
            if probe.ref_is_enough(self.samples[0]):
                candidates = ["REF"]
        for device in candidates:
            try:
                compiled = compile_for(model, device)
                if device == "CPU" and self.samples:
                    compiled(self.samples[0])  # a CPU failure shows here, before the user's code runs
                self.policy.record(device)
                return compiled
            except Exception as e:  # noqa: BLE001
                if device == candidates[-1]:
                    raise
                self.policy.cpu_failed = True
                self.policy.notes.append(f"the CPU device failed on model '{model.name}' "
                                         f"({type(e).__name__}: {str(e)[:200]}); using REF")
        raise AssertionError("unreachable")
