"""Parsing of the converter's option strings. Every malformed value raises OptionError naming the option and
showing the expected form."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from irforge.errors import OptionError
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type

_SHAPE_FORM = "[1,3,224,224] or NAME[1,3,224,224],NAME2[1,128] (dims: integers, ? or -1, ranges 1..8)"


@dataclass
class InputSpec:
    """One entry of `--input`: a tensor name with an optional shape and element type."""

    name: str | None
    shape: PartialShape | None = None
    element_type: ElementType | None = None


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside [...] or {...}."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


INT64_MAX = (1 << 63) - 1


def parse_shape(text: str, option: str, what: str = "") -> PartialShape:
    """A shape option value. Dims must fit in 64 bits, and so must the element count; a static 0 dim is an
    error too (irforge does not take empty model inputs). `what` names the input in messages ("input 'x'")."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")) and not (body.startswith("(") and body.endswith(")")):
        raise OptionError(f"{option}: '{text}' is not a shape; expected {_SHAPE_FORM}")
    try:
        shape = PartialShape.parse(body)
    except ValueError as e:
        raise OptionError(f"{option}: bad shape '{text}' ({e}); expected {_SHAPE_FORM}") from None
    check_shape(shape, option, what or f"shape {text.strip()}")
    return shape


def check_shape(shape: PartialShape, option: str, what: str) -> None:
    """Dims that fit in 64 bits (as does their product), and no static 0 (empty inputs are not supported)."""
    if not shape.rank_is_static:
        return
    count = 1
    for i, d in enumerate(shape.dims):
        if d.min > INT64_MAX or d.max > INT64_MAX:
            raise OptionError(f"{option}: {what}: dimension {i} ({d}) is too large")
        if d.is_static and d.min == 0:
            raise OptionError(f"{option}: {what}: dimension {i} is 0; empty inputs are not supported")
        count *= max(d.min, 1)
    if count > INT64_MAX:
        raise OptionError(f"{option}: {what} has more elements than a 64-bit count can hold")


_ENTRY = re.compile(r"^(?P<name>[^\[\]{}]*?)\s*(?P<rest>(\[[^\]]*\]|\{[^}]*\})*)$")


def parse_input(text: str, option: str = "--input") -> list[InputSpec]:
    """`NAME[shape]{type},NAME2` (shape and type optional, in either order)."""
    specs = []
    for part in _split_top(text):
        m = _ENTRY.match(part)
        if m is None or (not m.group("name") and not m.group("rest")):
            raise OptionError(f"{option}: cannot parse '{part}'; expected NAME, NAME[1,3,224,224] or NAME[...]{{f32}}")
        spec = InputSpec(m.group("name").strip() or None)
        for piece in re.findall(r"\[[^\]]*\]|\{[^}]*\}", m.group("rest")):
            if piece.startswith("["):
                what = f"input '{spec.name}' shape {piece}" if spec.name else f"shape {piece}"
                spec.shape = parse_shape(piece, option, what)
            else:
                try:
                    spec.element_type = Type.from_name(piece[1:-1].strip())
                except ValueError:
                    raise OptionError(f"{option}: unknown element type {piece} in '{part}' (e.g. {{f32}}, {{i64}})") from None
        specs.append(spec)
    return specs


def parse_input_shape(text: str) -> list[InputSpec]:
    """`--input-shape`: `[4,3,100,100]`, `[1,3,8,8],[1,10]` (by input order) or `x[1,3,8,8],mask[1,128]`."""
    specs = parse_input(text, "--input-shape")
    for s in specs:
        if s.shape is None:
            raise OptionError(f"--input-shape: '{s.name}' has no shape; expected {_SHAPE_FORM}")
        if s.element_type is not None:
            raise OptionError("--input-shape: element types go in --input (NAME[shape]{type})")
    return specs


def parse_values(text: str, option: str) -> list[tuple[str | None, list[float]]]:
    """`--mean-values`/`--scale-values`: `[123.675,116.28,103.53]` or `x[...],y[...]`."""
    out = []
    for part in _split_top(text):
        m = re.match(r"^(?P<name>[^\[\]]*?)\s*\[(?P<vals>[^\]]*)\]$", part)
        if m is None:
            raise OptionError(f"{option}: cannot parse '{part}'; expected [v1,v2,v3] or NAME[v1,v2,v3]")
        try:
            vals = [float(v) for v in re.split(r"[,\s]+", m.group("vals").strip()) if v]
        except ValueError:
            raise OptionError(f"{option}: '{part}' has a value that is not a number") from None
        if not all(math.isfinite(v) for v in vals):
            raise OptionError(f"{option}: '{part}' has a value that is not a finite number")
        if not vals:
            raise OptionError(f"{option}: '{part}' has no values")
        out.append((m.group("name").strip() or None, vals))
    return out


_LAYOUT = re.compile(r"^\[?[A-Za-z?.]+\]?$")


def _check_layout(layout: str, option: str) -> str:
    """A layout of one letter per dimension (`?` or `.` for an unnamed one); a letter may appear once."""
    if not _LAYOUT.match(layout):
        raise OptionError(f"{option}: '{layout}' is not a layout; expected letters such as nchw or nhwc")
    letters = layout.strip("[]").lower()
    repeated = sorted({ch for ch in letters if ch.isalpha() and letters.count(ch) > 1})
    if repeated:
        raise OptionError(f"{option}: layout '{layout}' names dimension '{repeated[0]}' more than once")
    return letters


def parse_layout(text: str, option: str) -> list[tuple[str | None, str | None, str]]:
    """`--layout nhwc->nchw`, `x(nhwc->nchw),y(nc)`; `--source-layout nhwc`; `--target-layout nchw`.
    Returns (input name, source layout or None, target layout) entries; for --source-layout the target is ''."""
    out = []
    for part in _split_top(text):
        m = re.match(r"^(?P<name>[^()]*?)\((?P<body>[^()]*)\)$", part)
        name, body = (m.group("name").strip() or None, m.group("body")) if m else (None, part)
        if "->" in body:
            src, dst = body.split("->", 1)
            out.append((name, _check_layout(src.strip(), option), _check_layout(dst.strip(), option)))
        else:
            out.append((name, None, _check_layout(body.strip(), option)))
    return out
