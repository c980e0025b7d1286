"""The accuracy-aware search: quantize fully, validate the floating-point and the INT8 model, then revert groups of
quantizers (the sets that must leave INT8 together, placement.py) until the drop is within `max_drop`.

Ranking: the validation samples the INT8 model gets most wrong (largest normalized output error against the
floating-point model) form the ranking subset; each remaining group is scored by how much reverting it alone
*reduces* the mean error on that subset (not by how large the error stays), and the best is reverted. Each revert
is first tried in low precision (the layers kept out of INT8 in bf16/f16, simulated); when that misses the target
and FP32 does better, the layers go to FP32 (and are marked to stay f32 under a bf16 runtime). A revert that makes
the metric worse is undone and the remaining groups are ranked again on the current model. The search fails, with
the best drop it reached, when no group is left."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from irforge.ir.graph import Model
from irforge.quantization.errors import QuantizationError
from irforge.quantization.insert import build
from irforge.quantization.metrics import item_errors
from irforge.quantization.options import AccuracyOptions
from irforge.quantization.plan import QuantizationPlan
from irforge.quantization.progress import Progress
from irforge.quantization.validation import Validator


@dataclass
class RevertStep:
    group: int
    layers: list[str]
    precision: str  # "fp32" or the low precision it stays in
    drop_before: float
    drop_after: float
    kept: bool = True

    @property
    def recovered(self) -> float:
        return self.drop_before - self.drop_after


@dataclass
class SearchResult:
    model: Model
    reverted: dict[int, str]
    fp_metric: float
    int8_metric: float  # the fully quantized model's
    final_metric: float
    steps: list[RevertStep] = field(default_factory=list)
    rankings: int = 0
    validations: int = 0

    @property
    def initial_drop(self) -> float:
        return self.fp_metric - self.int8_metric


def drop_of(reference: float, value: float, drop_type: str) -> float:
    if drop_type == "absolute":
        return reference - value
    if reference == 0.0:
        raise QuantizationError("a relative drop needs a non-zero floating-point metric (got 0.0); "
                                "use drop_type='absolute'")
    return (reference - value) / abs(reference)


class AccuracySearch:
    def __init__(self, plan: QuantizationPlan, validator: Validator, options: AccuracyOptions,
                 progress: bool = True) -> None:
        self.plan = plan
        self.validator = validator
        self.opts = options
        self.progress = progress
        self.reverted: dict[int, str] = {}
        self.rankings = 0

    def drop(self, metric: float) -> float:
        return drop_of(self.fp_metric, metric, self.opts.drop_type)

    def run(self) -> SearchResult:
        v = self.validator
        self.fp_metric, fp_outs = v.evaluate(self.plan.model, "Validation FP32")
        if v.reference is None:
            v.reference = fp_outs if fp_outs is not None else v.outputs(self.plan.model, None, "Outputs FP32")
        model = build(self.plan)
        int8_metric, q_outs = v.evaluate(model, "Validation INT8")
        result = SearchResult(model, {}, self.fp_metric, int8_metric, int8_metric)
        current, current_outs = int8_metric, q_outs
        best_drop = self.drop(current)
        candidates = [g.gid for g in self.plan.placement.groups]
        scores: dict[int, float] = {}
        while self.drop(current) > self.opts.max_drop:
            if self.opts.max_reverts is not None and len(self.reverted) >= self.opts.max_reverts:
                break
            if not candidates:
                break
            if not scores:
                if current_outs is None:
                    current_outs = v.outputs(build(self.plan, self.reverted), None, "Outputs INT8")
                scores = self._rank(candidates, current_outs)
            gid = max(candidates, key=lambda g: scores.get(g, -np.inf))
            candidates.remove(gid)
            scores.pop(gid, None)
            before = self.drop(current)
            metric, outs, mode, trial = self._revert(gid, before)
            layers = [n.name for n in self.plan.placement.groups[gid].ops]
            step = RevertStep(gid, layers, mode, before, self.drop(metric))
            result.steps.append(step)
            if metric < current:  # worse: undo, rank the rest again on the current model
                step.kept = False
                scores = {}
                continue
            self.reverted = trial
            current, current_outs = metric, outs
            best_drop = min(best_drop, self.drop(current))
        result.rankings = self.rankings
        result.validations = v.passes
        if self.drop(current) > self.opts.max_drop:
            raise QuantizationError(
                f"the accuracy drop cannot be brought within {self.opts.max_drop:g} ({self.opts.drop_type}): "
                f"the best drop found is {best_drop:.6g} (FP32 metric {self.fp_metric:.6g}, fully quantized "
                f"{int8_metric:.6g}, {len(self.reverted)} of {len(self.plan.placement.groups)} groups reverted); "
                f"nothing was written")
        result.model = build(self.plan, self.reverted, provenance=True)
        result.reverted = dict(self.reverted)
        result.final_metric = current
        return result

    def _revert(self, gid: int, before: float) -> tuple[float, list[list[np.ndarray]] | None, str, dict[int, str]]:
        """Validate the model with group `gid` reverted: low precision first, FP32 when that is better."""
        v = self.validator
        name = self.plan.placement.groups[gid].label()
        low = self.opts.fallback_precision
        if low != "none":
            trial = {**self.reverted, gid: "lp"}
            metric_lp, outs_lp = v.evaluate(build(self.plan, trial, simulate=low), f"Validation ({name} in {low})")
            if self.drop(metric_lp) <= self.opts.max_drop:
                return metric_lp, outs_lp, low, trial
        trial_fp = {**self.reverted, gid: "fp32"}
        metric_fp, outs_fp = v.evaluate(build(self.plan, trial_fp), f"Validation ({name} in FP32)")
        if low != "none" and metric_lp >= metric_fp:
            return metric_lp, outs_lp, low, trial
        return metric_fp, outs_fp, "fp32", trial_fp

    def _rank(self, candidates: list[int], current_outs: list[list[np.ndarray]]) -> dict[int, float]:
        """score[g] = mean error on the ranking subset now - with g reverted (higher: reverting helps more)."""
        v = self.validator
        assert v.reference is not None
        errors = item_errors(v.reference, current_outs)
        k = min(self.opts.ranking_subset_size, len(errors))
        subset = sorted(np.argsort(-errors, kind="stable")[:k].tolist())
        base = float(errors[subset].mean())
        reference = [v.reference[i] for i in subset]
        scores: dict[int, float] = {}
        self.rankings += 1
        with Progress("Ranking groups", len(candidates), self.progress) as bar:
            for gid in candidates:
                outs = v.outputs(build(self.plan, {**self.reverted, gid: "fp32"}), subset)
                scores[gid] = base - float(item_errors(reference, outs).mean())
                bar.advance()
        return scores
