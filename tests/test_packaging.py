"""The lowest-versions run (.ci/lowest) pins every direct dependency to the lower bound pyproject.toml admits: the
constraints file and the bounds must name the same packages and versions."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds: dict[str, str] = {}
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(?:>=|==)\s*([0-9][^,;\s]*)\s*(?:,\s*!=[^,;]+)*\s*", spec)
        assert m, f"pyproject.toml: '{spec}' has no lower bound (>= or ==)"
        bounds[_key(m.group(1))] = m.group(2)
    return bounds


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / ".ci" / "lowest-constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_key(name)] = version.strip()
    return pins


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def test_lowest_constraints_pin_every_lower_bound() -> None:
    bounds, pins = _lower_bounds(), _pins()
    assert sorted(bounds) == sorted(pins)
    for name, bound in bounds.items():
        assert _release(pins[name]) == _release(bound), f"{name}: pinned {pins[name]}, bound {bound}"
