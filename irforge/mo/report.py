"""What a conversion did: per-pass counts, layer counts and weight bytes before/after, time per stage."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from irforge.files import write_files
from irforge.ir.graph import Model
from irforge.transforms.base import PassRecord


def layer_histogram(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def weight_bytes(model: Model) -> int:
    """Bytes of constant data, sub-graph bodies included."""
    total = 0
    for n in model.nodes():
        if n.type == "Constant" and n.data is not None:
            total += n.data.nbytes
        total += sum(weight_bytes(b) for b in n.bodies)
    return total


@dataclass
class ConversionReport:
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    passes: list[PassRecord] = field(default_factory=list)
    layers_before: dict[str, int] = field(default_factory=dict)
    layers_after: dict[str, int] = field(default_factory=dict)
    weights_before: int = 0
    weights_after: int = 0
    compressed_constants: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["layers_before_total"] = sum(self.layers_before.values())
        data["layers_after_total"] = sum(self.layers_after.values())
        return json.dumps(data, indent=2)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the report as JSON (a path that cannot be written is an OutputError naming it)."""
        write_files([(Path(path), [self.to_json().encode("utf-8")])], "--report")

    def summary_lines(self) -> list[str]:
        """The short console table: each pass that changed something, then the totals."""
        lines = ["  pass                                    count    time"]
        for r in self.passes:
            if r.changed:
                lines.append(f"  {r.name:<38} {r.count:>6} {r.seconds * 1000:>6.0f}ms")
        before, after = sum(self.layers_before.values()), sum(self.layers_after.values())
        lines.append(f"  layers: {before} -> {after};  weights: {self.weights_before} -> {self.weights_after} bytes")
        lines.append("  time: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.stages.items()))
        return lines
