"""The Pass protocol, pattern-based fusion passes and the PassManager."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from irforge.errors import OptionError
from irforge.ir.graph import Model, Output
from irforge.transforms.graph_edit import erase_if_dead
from irforge.transforms.pattern import Match, Pattern, is_self_contained, matches


class Pass(ABC):
    """One optimization. `run` returns whether it changed the model; `count` is what it did (nodes removed,
    patterns fused) for the report."""

    name: str = ""
    description: str = ""

    def __init__(self) -> None:
        self.count = 0

    @abstractmethod
    def run(self, model: Model) -> bool: ...


class PatternPass(Pass):
    """A fusion: `pattern()` to find, `check(match)` returning None or the reason not to rewrite, and
    `rewrite(match)` returning the value that replaces the pattern root's output. Matches must be
    self-contained (no intermediate value used outside the pattern)."""

    self_contained: bool = True

    @abstractmethod
    def pattern(self) -> Pattern: ...

    def check(self, m: Match) -> str | None:
        return None

    @abstractmethod
    def rewrite(self, m: Match) -> Output: ...

    def run(self, model: Model) -> bool:
        pattern = self.pattern()
        changed = False
        for node in model.ops():
            if not node.outputs or not node.outputs[0].uses:
                continue  # already bypassed by an earlier rewrite in this sweep
            for out in node.outputs:
                for m in matches(pattern, out):
                    if self.self_contained and not is_self_contained(m):
                        continue
                    if self.check(m) is not None:
                        continue
                    new = self.rewrite(m)
                    _replace(out, new)
                    for n in m.nodes:
                        erase_if_dead(n)
                    self.count += 1
                    changed = True
                    break
        return changed


def _replace(old: Output, new: Output) -> None:
    """Replace `old` by `new`, keeping the old tensor names and, when `new` is freshly made, the old node name
    (so users still find the layer by name)."""
    if new is old:
        return
    if not new.uses and new.node.name.startswith(new.node.type + "_"):
        new.node.name = old.node.name
    old.replace_all_uses_with(new)


@dataclass
class PassRecord:
    name: str
    changed: bool
    count: int
    seconds: float


@dataclass
class PassReport:
    records: list[PassRecord] = field(default_factory=list)
    layers_before: int = 0
    layers_after: int = 0


class PassManager:
    """Runs passes in order. `disabled` names passes to skip (unknown names are an error); `validate` checks
    the graph after every pass (on in tests)."""

    def __init__(self, passes: Sequence[Pass], disabled: Sequence[str] = (), validate: bool = False) -> None:
        known = {p.name for p in passes}
        unknown = sorted(set(disabled) - known)
        if unknown:
            raise OptionError(f"--disable-pass: unknown pass(es) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        self.passes = [p for p in passes if p.name not in set(disabled)]
        self.validate = validate

    def run(self, model: Model) -> PassReport:
        report = PassReport(layers_before=len(model.ops()))
        for p in self.passes:
            t0 = time.perf_counter()
            changed = p.run(model)
            if self.validate:
                try:
                    model.validate()
                except Exception as e:
                    raise type(e)(f"after pass {p.name}: {e}") from e
            report.records.append(PassRecord(p.name, changed, p.count, time.perf_counter() - t0))
        report.layers_after = len(model.ops())
        return report
