"""Text summaries of a Model shared by `convert` and `inspect`."""
from __future__ import annotations

from irforge.cli.terminal import printable
from irforge.ir.graph import Model


def describe_ports(model: Model) -> list[str]:
    lines = []
    for kind, ports in (("input", model.inputs), ("output", model.outputs)):
        for p in ports:
            lines.append(f"  {kind:<6} {printable(p.name)}: {p.element_type}[{p.shape}]")
    return lines


def histogram_lines(model: Model, width: int = 4) -> list[str]:
    hist = {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}
    total = sum(hist.values())
    lines = [f"  layers: {total}"]
    for op, count in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"    {count:>{width}}  {op}")
    return lines


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
