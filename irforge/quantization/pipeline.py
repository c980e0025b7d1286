"""The default post-training quantization, step by step: place quantizers, collect statistics on the calibration
subset, plan ranges/weights/biases, build the INT8 model."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from irforge.ir.graph import Model
from irforge.quantization.collect import collect_statistics
from irforge.quantization.errors import DataError, QuantizationError
from irforge.quantization.insert import build
from irforge.quantization.options import QuantizationOptions
from irforge.runtime.host import has_int8_dot_product
from irforge.quantization.placement import place
from irforge.quantization.plan import QuantizationPlan, make_plan
from irforge.quantization.runner import DevicePolicy
from irforge.quantization.samples import iter_samples
from irforge.quantization.static import StaticValues


@dataclass
class Prepared:
    plan: QuantizationPlan
    policy: DevicePolicy
    timings: dict[str, float] = field(default_factory=dict)


def calibration_total(data: Iterable[Any], options: QuantizationOptions) -> int | None:
    """How many calibration samples will be used, when that is known without reading the data."""
    count = getattr(data, "count_samples", None)
    if callable(count):
        return min(int(count()), options.subset_size)
    if hasattr(data, "__len__"):
        return min(len(data), options.subset_size)  # type: ignore[arg-type]
    return options.subset_size


def prepare(model: Model, data: Iterable[Any], options: QuantizationOptions,
            transform: Callable[[Any], Any] | None = None, policy: DevicePolicy | None = None) -> Prepared:
    """Everything up to the plan (the model is not modified)."""
    policy = policy or DevicePolicy(options.device)
    already = sum(1 for n in model.nodes() if n.type == "FakeQuantize")
    if already:
        raise QuantizationError(f"model '{model.name}' is already quantized ({already} FakeQuantize); quantize the "
                                f"floating-point model")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    static = StaticValues()
    placement = place(model, options, static)
    timings["placement"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    samples = iter_samples(data, model, transform, options.subset_size)  # read as statistics go
    stats = collect_statistics(model, placement, samples, options, policy, calibration_total(data, options))
    if stats.samples == 0:
        raise DataError("the calibration data holds no samples")
    timings["statistics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan = make_plan(model, placement, stats, options, static)
    timings["plan"] = time.perf_counter() - t0
    if options.overflow_fix != "enable" and plan.weights and not has_int8_dot_product():
        policy.notes.append("this CPU has no VNNI/AMX: OpenVINO's INT8 kernels here may saturate products of 8-bit "
                            "weights (overflow_fix 'enable' / --overflow-fix enable keeps every layer exact there)")
    return Prepared(plan, policy, timings)


def quantize_default(model: Model, data: Iterable[Any], options: QuantizationOptions,
                     transform: Callable[[Any], Any] | None = None) -> tuple[Model, Prepared]:
    prepared = prepare(model, data, options, transform)
    t0 = time.perf_counter()
    quantized = build(prepared.plan, provenance=True)
    prepared.timings["build"] = time.perf_counter() - t0
    return quantized, prepared
