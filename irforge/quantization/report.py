"""What a quantization did, as one object (`QuantizationReport`) and as the final table the CLI prints: layers in
INT8 / floating point, reverted layers with the drop each revert recovered, FP32 / INT8 metrics, the drop, times."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from irforge.ir.graph import Model
from irforge.quantization.accuracy_control import RevertStep, SearchResult
from irforge.quantization.plan import QuantizationPlan


@dataclass
class LayerState:
    name: str
    type: str
    precision: str  # int8, fp32, bf16/f16 (reverted to low precision), fp (not quantized)
    reason: str = ""


@dataclass
class QuantizationReport:
    model_name: str
    preset: str
    range_estimator: str
    calibration_samples: int
    device: str
    layers: list[LayerState] = field(default_factory=list)
    fake_quantizes: int = 0
    metric: str | None = None
    drop_type: str = "absolute"
    max_drop: float | None = None
    fp_metric: float | None = None
    int8_metric: float | None = None
    final_metric: float | None = None
    reverts: list[RevertStep] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    wall_time: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def int8_layers(self) -> list[str]:
        return [layer.name for layer in self.layers if layer.precision == "int8"]

    @property
    def float_layers(self) -> list[str]:
        return [layer.name for layer in self.layers if layer.precision != "int8"]

    @property
    def reverted_layers(self) -> list[str]:
        return [name for step in self.reverts if step.kept for name in step.layers]

    @property
    def drop(self) -> float | None:
        if self.fp_metric is None or self.final_metric is None:
            return None
        if self.drop_type == "relative" and self.fp_metric:
            return (self.fp_metric - self.final_metric) / abs(self.fp_metric)
        return self.fp_metric - self.final_metric

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reverts"] = [{**asdict(s), "recovered": s.recovered} for s in self.reverts]
        d["drop"] = self.drop
        return d

    def table(self) -> str:
        lines = [f"Quantized '{self.model_name}' with {self.calibration_samples} calibration samples on "
                 f"{self.device or '?'} in {self.wall_time:.2f} s "
                 f"(preset {self.preset}, range estimator {self.range_estimator})"]
        n_int8, n_fp = len(self.int8_layers), len(self.float_layers)
        lines.append(f"  layers in INT8: {n_int8}   layers in floating point: {n_fp}   "
                     f"FakeQuantize: {self.fake_quantizes}")
        floating = [layer for layer in self.layers if layer.precision != "int8"]
        if floating:
            width = max(len(layer.name) for layer in floating)
            lines.append("  not in INT8:")
            for layer in floating:
                lines.append(f"    {layer.name:<{width}}  {layer.type:<16} {layer.precision:<5} {layer.reason}")
        kept = [s for s in self.reverts if s.kept]
        if self.reverts:
            width = max(max(len(", ".join(s.layers)) for s in self.reverts), 14)
            lines.append(f"  reverted layers (in order):")
            lines.append(f"    {'layers':<{width}}  {'precision':<9}  {'drop before':>11}  {'drop after':>10}  "
                         f"{'recovered':>9}")
            for s in self.reverts:
                mark = "" if s.kept else "  (made it worse: undone)"
                lines.append(f"    {', '.join(s.layers):<{width}}  {s.precision:<9}  {_fmt(s.drop_before):>11}  "
                             f"{_fmt(s.drop_after):>10}  {_fmt(s.recovered):>9}{mark}")
        elif self.metric is not None:
            lines.append("  reverted layers: none")
        if self.metric is not None and self.fp_metric is not None:
            drop = self.drop
            limit = f" (max {self.max_drop:g}, {self.drop_type})" if self.max_drop is not None else ""
            lines.append(f"  {self.metric}: FP32 {_fmt(self.fp_metric)}   INT8 {_fmt(self.int8_metric)}   "
                         f"final {_fmt(self.final_metric)}   drop {_fmt(drop)}{limit}"
                         f"{'' if not kept else f'   ({len(kept)} revert(s))'}")
        if self.timings:
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
            lines.append(f"  wall time {self.wall_time:.2f} s ({parts})")
        for note in dict.fromkeys(self.notes):
            lines.append(f"  note: {note}")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    """4 decimals, or 3 significant digits for small non-zero values (an NMSE of 2e-05 is not 0.0000)."""
    if value is None:
        return "-"
    v = float(value) + 0.0  # no "-0.0000"
    if v != 0.0 and abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4f}"


def make_report(plan: QuantizationPlan, model: Model, device: str, search: SearchResult | None = None,
                metric: str | None = None) -> QuantizationReport:
    """The report of `model`, the quantized result of `plan` (after `search`, if any)."""
    opts = plan.options
    report = QuantizationReport(plan.model.name, opts.preset, opts.range_estimator, plan.statistics_samples, device)
    quantized = {op.node.uid: op for op in plan.placement.ops}
    ignored = {n.uid for n in plan.placement.ignored}
    reverted = search.reverted if search is not None else {}
    for node in plan.placement.layers:
        op = quantized.get(node.uid)
        if node.uid in ignored:
            report.layers.append(LayerState(node.name, node.type, "fp", "ignored"))
        elif op is None:
            report.layers.append(LayerState(node.name, node.type, "fp", "no activation input to quantize"))
        elif op.group in reverted:
            assert search is not None
            mode = next((s.precision for s in search.steps if s.kept and s.group == op.group), reverted[op.group])
            report.layers.append(LayerState(node.name, node.type, mode, "reverted by the accuracy search"))
        else:
            report.layers.append(LayerState(node.name, node.type, "int8"))
    report.fake_quantizes = sum(1 for n in model.nodes() if n.type == "FakeQuantize")
    if search is not None:
        report.metric = metric
        report.fp_metric = search.fp_metric
        report.int8_metric = search.int8_metric
        report.final_metric = search.final_metric
        report.reverts = list(search.steps)
    return report
