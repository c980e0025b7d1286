"""The default optimization pipeline, in order. `--list-passes` prints it; `--disable-pass NAME` skips one."""
from __future__ import annotations

from collections.abc import Callable

from irforge.transforms.base import Pass
from irforge.transforms.cleanup import CommonSubexpressionElimination, DeadCodeElimination
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.nop_elimination import NopElimination
from irforge.transforms.reverse_channels import ReverseInputChannelsFusion

# Each entry makes a fresh pass (passes carry their own counters). A name may appear more than once (a pass
# run again after the fusions); disabling a name disables every occurrence.
PIPELINE: list[Callable[[], Pass]] = [
    ConstantFolding,
    NopElimination,
    ReverseInputChannelsFusion,
    CommonSubexpressionElimination,
    ConstantFolding,
    NopElimination,
    DeadCodeElimination,
]


def default_passes() -> list[Pass]:
    return [make() for make in PIPELINE]


def pass_descriptions() -> list[tuple[str, str]]:
    """(name, description) of each distinct pass, in pipeline order."""
    seen: dict[str, str] = {}
    for p in default_passes():
        seen.setdefault(p.name, p.description)
    return list(seen.items())
