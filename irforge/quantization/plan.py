"""The quantization plan: every number the quantized model needs (activation ranges, unified per Concat; i8 weights
and scales; corrected biases), computed once from the placement and the statistics. Models are then built from
the plan (insert.py), with any groups reverted, without recomputing anything."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from irforge.ir.graph import Model, Node
from irforge.quantization.bias_correction import bias_shift, corrected_bias
from irforge.quantization.collect import Statistics
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.placement import Placement, WeightTarget
from irforge.quantization.ranges import FQRange, estimate, fq_range, unify
from irforge.quantization.static import StaticValues
from irforge.quantization.weights import QuantizedWeight, quantize_weight


@dataclass
class PlannedWeight:
    target: WeightTarget
    original: np.ndarray
    quantized: QuantizedWeight


@dataclass
class PlannedBias:
    add: Node
    index: int
    value: np.ndarray  # the corrected bias, shaped and typed like the original
    shift: np.ndarray  # what was subtracted, per channel


@dataclass
class QuantizationPlan:
    model: Model  # the floating-point model (never modified)
    placement: Placement
    options: QuantizationOptions
    ranges: dict[int, FQRange] = field(default_factory=dict)  # quantizer qid -> range
    weights: dict[int, PlannedWeight] = field(default_factory=dict)  # layer node uid -> weights
    biases: dict[int, PlannedBias] = field(default_factory=dict)  # layer node uid -> corrected bias
    statistics_samples: int = 0


def make_plan(model: Model, placement: Placement, stats: Statistics, options: QuantizationOptions,
              static: StaticValues) -> QuantizationPlan:
    plan = QuantizationPlan(model, placement, options, statistics_samples=stats.samples)
    _plan_ranges(plan, stats)
    half = {"enable": lambda t: True, "disable": lambda t: False,
            "first_layer": lambda t: t.first_layer}[options.overflow_fix]
    for op in placement.ops:
        target = op.weight
        if target is None:
            continue
        w = static.value(target.node.inputs[target.index])
        if w is None:
            continue
        qw = quantize_weight(w, target.axes, half(target))
        plan.weights[op.node.uid] = PlannedWeight(target, np.asarray(w), qw)
        if options.fast_bias_correction and target.bias is not None and op.node.uid in stats.means:
            mean = stats.means[op.node.uid].representative()
            add, idx = target.bias
            bias = static.value(add.inputs[idx])
            if mean is None or bias is None:
                continue
            shift = bias_shift(target, mean, w, qw.dequantized())
            if shift is not None and shift.size == bias.size:
                plan.biases[op.node.uid] = PlannedBias(add, idx, corrected_bias(np.asarray(bias), shift), shift)
    return plan


def _plan_ranges(plan: QuantizationPlan, stats: Statistics) -> None:
    opts = plan.options
    estimated: dict[int, tuple[float, float, bool]] = {}
    for q in plan.placement.quantizers:
        obs = stats.ranges[q.qid]
        low, high = estimate(obs, opts.range_estimator, opts.quantile_outlier_prob)
        estimated[q.qid] = (low, high, obs.seen and obs.min >= 0.0)
    members: dict[int, list[int]] = {}
    for q in plan.placement.quantizers:
        members.setdefault(q.unify, []).append(q.qid)
    for qids in members.values():
        r = unify([estimated[k] for k in qids], opts.preset) if len(qids) > 1 else fq_range(
            *estimated[qids[0]][:2], opts.preset, estimated[qids[0]][2])
        for k in qids:
            plan.ranges[k] = r
