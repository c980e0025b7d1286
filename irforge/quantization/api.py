"""The Python API: `irforge.quantize(model, calibration_data, ...)` and
`irforge.quantize_with_accuracy_control(model, calibration_data, validation_data, validation_fn, max_drop, ...)`.
Both return the INT8 `Model` (write it with `irforge.save_model`); the `*_report` forms also return the report."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from irforge.ir.graph import Model
from irforge.quantization.accuracy_control import AccuracySearch
from irforge.quantization.errors import DataError
from irforge.quantization.options import AccuracyOptions, QuantizationOptions
from irforge.quantization.pipeline import prepare, quantize_default
from irforge.quantization.report import QuantizationReport, make_report
from irforge.quantization.samples import iter_samples
from irforge.quantization.validation import CallbackValidator, Validator

ModelLike = Model | str | os.PathLike[str]


@dataclass
class QuantizationResult:
    model: Model
    report: QuantizationReport


def _load(model: ModelLike) -> Model:
    if isinstance(model, Model):
        return model
    from irforge.runtime.core import Core

    return Core().read_model(model)


def _options(kwargs: dict[str, Any]) -> QuantizationOptions:
    known = set(QuantizationOptions.__dataclass_fields__) - {"name_patterns"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        from irforge.errors import OptionError

        raise OptionError(f"unknown quantization option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return QuantizationOptions(**kwargs)


def quantize_report(model: ModelLike, calibration_data: Iterable[Any], *,
                    transform_fn: Callable[[Any], Any] | None = None, **options: Any) -> QuantizationResult:
    t0 = time.perf_counter()
    opts = _options(options)
    fp_model = _load(model)
    quantized, prepared = quantize_default(fp_model, calibration_data, opts, transform_fn)
    report = make_report(prepared.plan, quantized, prepared.policy.describe())
    report.timings = prepared.timings
    report.notes = list(prepared.policy.notes)
    report.wall_time = time.perf_counter() - t0
    return QuantizationResult(quantized, report)


def quantize(model: ModelLike, calibration_data: Iterable[Any], *, preset: str = "performance",
             subset_size: int = 300, range_estimator: str = "quantile",
             ignored_types: Iterable[str] | str | None = None, ignored_names: Iterable[str] | str | None = None,
             fast_bias_correction: bool = True, overflow_fix: str = "auto",
             transform_fn: Callable[[Any], Any] | None = None, device: str = "auto", progress: bool = True,
             **advanced: Any) -> Model:
    """Post-training INT8 quantization of `model` (a Model or a path to .xml/.onnx) calibrated on the first
    `subset_size` items of `calibration_data` (dicts input name -> array, lists of arrays in input order, or arrays
    for a one-input model; `transform_fn(item)` first when given). Returns the INT8 model (FakeQuantize on
    activations, i8 per-channel weights)."""
    return quantize_report(model, calibration_data, transform_fn=transform_fn, preset=preset,
                           subset_size=subset_size, range_estimator=range_estimator,
                           ignored_types=ignored_types or (), ignored_names=ignored_names or (),
                           fast_bias_correction=fast_bias_correction, overflow_fix=overflow_fix, device=device,
                           progress=progress, **advanced).model


def accuracy_aware_report(model: ModelLike, calibration_data: Iterable[Any], validator_factory: Callable[
        [Model, QuantizationOptions, Any], Validator], accuracy: AccuracyOptions, metric_name: str,
        transform_fn: Callable[[Any], Any] | None = None, **options: Any) -> QuantizationResult:
    """The accuracy-aware quantization with any validator (`validator_factory(fp_model, options, policy)`)."""
    t0 = time.perf_counter()
    opts = _options(options)
    fp_model = _load(model)
    prepared = prepare(fp_model, calibration_data, opts, transform_fn)
    validator = validator_factory(fp_model, opts, prepared.policy)
    t1 = time.perf_counter()
    search = AccuracySearch(prepared.plan, validator, accuracy, opts.progress).run()
    prepared.timings["accuracy search"] = time.perf_counter() - t1
    report = make_report(prepared.plan, search.model, prepared.policy.describe(), search,
                         metric_name)
    report.drop_type = accuracy.drop_type
    report.max_drop = accuracy.max_drop
    report.timings = prepared.timings
    report.notes = list(prepared.policy.notes)
    report.wall_time = time.perf_counter() - t0
    return QuantizationResult(search.model, report)


def quantize_with_accuracy_control_report(
        model: ModelLike, calibration_data: Iterable[Any], validation_data: Iterable[Any],
        validation_fn: Callable[[Any, Any], Any], max_drop: float = 0.01, drop_type: str = "absolute", *,
        transform_fn: Callable[[Any], Any] | None = None, ranking_subset_size: int = 100,
        fallback_precision: str = "bf16", max_reverts: int | None = None, **options: Any) -> QuantizationResult:
    accuracy = AccuracyOptions(max_drop, drop_type, ranking_subset_size, fallback_precision, max_reverts)
    items = list(validation_data)
    if not items:
        raise DataError("the validation data holds no items")

    def factory(fp_model: Model, opts: QuantizationOptions, policy: Any) -> Validator:
        samples = list(iter_samples(items, fp_model, transform_fn, label="validation item"))
        return CallbackValidator(items, samples, validation_fn, policy, opts.batch_size, opts.progress)

    return accuracy_aware_report(model, calibration_data, factory, accuracy, "validation_fn", transform_fn,
                                 **options)


def quantize_with_accuracy_control(
        model: ModelLike, calibration_data: Iterable[Any], validation_data: Iterable[Any],
        validation_fn: Callable[[Any, Any], Any], max_drop: float = 0.01, drop_type: str = "absolute", *,
        transform_fn: Callable[[Any], Any] | None = None, ranking_subset_size: int = 100,
        fallback_precision: str = "bf16", max_reverts: int | None = None, **options: Any) -> Model:
    """INT8 quantization that keeps `validation_fn(compiled_model, validation_data)` (a number, higher is better)
    within `max_drop` of the floating-point model's (absolute: fp - int8; relative: (fp - int8) / fp), reverting
    the groups of layers that hurt most (tried in `fallback_precision` first). `transform_fn(item)` turns a
    calibration/validation item into model inputs (validation_fn still gets the items as given). Raises
    QuantizationError, with the best drop found, when the target cannot be met. Other keyword arguments are
    `quantize`'s options."""
    return quantize_with_accuracy_control_report(
        model, calibration_data, validation_data, validation_fn, max_drop, drop_type, transform_fn=transform_fn,
        ranking_subset_size=ranking_subset_size, fallback_precision=fallback_precision, max_reverts=max_reverts,
        **options).model
