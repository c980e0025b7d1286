"""Text and JSON reports of `irforge benchmark`: the figures benchmark_app prints, the per-op performance
counters (per node and per op type) and the side-by-side comparison with other runtimes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from irforge.cli.bench_measure import Measurement
from irforge.runtime.device import PerfCount


def figure_lines(m: Measurement) -> list[str]:
    lat = m.latency_ms()
    return [
        f"First inference took {m.first_s * 1000:.2f} ms",
        f"Count:        {m.count} iterations",
        f"Duration:     {m.duration_s * 1000:.2f} ms",
        "Latency:",
        f"    Median:   {lat['median']:.2f} ms",
        f"    Average:  {lat['average']:.2f} ms",
        f"    Min:      {lat['min']:.2f} ms",
        f"    Max:      {lat['max']:.2f} ms",
        f"    P90:      {lat['p90']:.2f} ms",
        f"    P99:      {lat['p99']:.2f} ms",
        f"Throughput:   {m.fps:.2f} FPS",
    ]


@dataclass
class NodeTime:
    node: str
    type: str
    exec_type: str
    ms: float  # average per profiled inference


def aggregate_perf(profiles: Sequence[Sequence[PerfCount]]) -> list[NodeTime]:
    """Average time per executed step over the profiled inferences, in execution order."""
    totals: dict[tuple[str, str], list[Any]] = {}
    for run in profiles:
        for pc in run:
            key = (pc.node_name, pc.node_type)
            entry = totals.setdefault(key, [pc.exec_type, 0.0])
            entry[1] += pc.seconds
    n = max(1, len(profiles))
    return [NodeTime(node, type_, exec_type, total / n * 1000.0) for (node, type_), (exec_type, total) in totals.items()]


def per_type(nodes: Sequence[NodeTime]) -> list[tuple[str, int, float]]:
    """(op type, node count, ms) sorted by time, largest first."""
    acc: dict[str, list[float]] = {}
    for t in nodes:
        entry = acc.setdefault(t.type, [0, 0.0])
        entry[0] += 1
        entry[1] += t.ms
    return sorted(((k, int(c), ms) for k, (c, ms) in acc.items()), key=lambda r: -r[2])


def perf_lines(nodes: Sequence[NodeTime], runs: int) -> list[str]:
    total = sum(t.ms for t in nodes) or 1.0
    w = min(60, max([len(t.node) for t in nodes] + [4]))
    tw = max([len(t.type) for t in nodes] + [4])
    ew = max([len(t.exec_type) for t in nodes] + [9])
    lines = [f"Performance counters (average over {runs} profiled inference(s)):",
             f"  {'node':<{w}}  {'type':<{tw}}  {'exec type':<{ew}}  {'time ms':>9}  {'share':>6}"]
    for t in nodes:
        name = t.node if len(t.node) <= w else "..." + t.node[-(w - 3):]
        lines.append(f"  {name:<{w}}  {t.type:<{tw}}  {t.exec_type:<{ew}}  {t.ms:9.3f}  {t.ms / total * 100:5.1f}%")
    lines.append(f"  {'total':<{w}}  {'':<{tw}}  {'':<{ew}}  {total:9.3f}  100.0%")
    lines.append("Per op type:")
    lines.append(f"  {'type':<{tw}}  {'nodes':>5}  {'time ms':>9}  {'share':>6}")
    for type_, count, ms in per_type(nodes):
        lines.append(f"  {type_:<{tw}}  {count:>5}  {ms:9.3f}  {ms / total * 100:5.1f}%")
    return lines


def perf_json(nodes: Sequence[NodeTime], runs: int) -> dict[str, Any]:
    total = sum(t.ms for t in nodes) or 1.0
    return {"profiled_inferences": runs,
            "nodes": [{"node": t.node, "type": t.type, "exec_type": t.exec_type, "ms": t.ms,
                       "share": t.ms / total} for t in nodes],
            "types": [{"type": k, "nodes": c, "ms": ms, "share": ms / total} for k, c, ms in per_type(nodes)]}


@dataclass
class PeerResult:
    name: str
    note: str  # what it ran, or why it was skipped
    measurement: Measurement | None = None
    max_abs_diff: float | None = None

    def to_json(self, mine: Measurement) -> dict[str, Any]:
        if self.measurement is None:
            return {"skipped": self.note}
        out = self.measurement.to_json()
        out.update({"runs": self.note, "max_abs_diff_vs_irforge": self.max_abs_diff,
                    "latency_ratio": ratio(mine, self.measurement)})
        return out


def ratio(mine: Measurement, other: Measurement) -> float:
    """irforge median latency / the other runtime's (above 1: irforge is slower)."""
    theirs = other.latency_ms()["median"]
    return mine.latency_ms()["median"] / theirs if theirs > 0 else float("nan")


def compare_lines(label: str, mine: Measurement, peers: Sequence[PeerResult]) -> list[str]:
    rows = [(label, mine, "1.00", "")]
    for p in peers:
        if p.measurement is not None:
            diff = "" if p.max_abs_diff is None else f"{p.max_abs_diff:.2e}"
            rows.append((p.name, p.measurement, f"{ratio(mine, p.measurement):.2f}", diff))
    w = max(len(r[0]) for r in rows)
    lines = ["Comparison (latency ratio = irforge median / other median; above 1: irforge is slower):",
             f"  {'runtime':<{w}}  {'median ms':>9}  {'average ms':>10}  {'p90 ms':>8}  {'FPS':>9}  "
             f"{'ratio':>6}  {'max |diff|':>10}"]
    for name, m, r, diff in rows:
        lat = m.latency_ms()
        lines.append(f"  {name:<{w}}  {lat['median']:9.2f}  {lat['average']:10.2f}  {lat['p90']:8.2f}  "
                     f"{m.fps:9.2f}  {r:>6}  {diff:>10}")
    for p in peers:
        lines.append(f"  {p.name}: {'skipped, ' if p.measurement is None else ''}{p.note}")
    return lines
