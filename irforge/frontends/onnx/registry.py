"""ONNX op translators, registered by (domain, op type, first opset). For a model at opset N the translator
with the newest `since` <= N is chosen (the reference evaluator's `Op_13` convention)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from irforge.frontends.onnx.context import NodeContext
    from irforge.ir.graph import Output

Translator = Callable[["NodeContext"], Union["Output", Sequence["Output | None"]]]

_TRANSLATORS: dict[tuple[str, str], list[tuple[int, Translator]]] = {}


def _norm_domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def onnx_op(*op_types: str, since: int = 1, domain: str = "") -> Callable[[Translator], Translator]:
    """Register a translator for `op_types` from opset `since` on (until a newer registration)."""

    def deco(fn: Translator) -> Translator:
        for op_type in op_types:
            entries = _TRANSLATORS.setdefault((_norm_domain(domain), op_type), [])
            if any(s == since for s, _ in entries):
                raise ValueError(f"ONNX translator for {op_type} since opset {since} registered twice")
            entries.append((since, fn))
            entries.sort(key=lambda e: e[0])
        return fn

    return deco


def _ensure_loaded() -> None:
    import irforge.frontends.onnx.ops  # noqa: F401


def find_translator(domain: str, op_type: str, opset: int) -> Translator | None:
    """The translator for `op_type` at `opset`, or None when irforge does not support it."""
    _ensure_loaded()
    entries = _TRANSLATORS.get((_norm_domain(domain), op_type), [])
    chosen = None
    for since, fn in entries:
        if since <= opset:
            chosen = fn
    return chosen


def supported_ops() -> list[str]:
    _ensure_loaded()
    return sorted(f"{d + '.' if d else ''}{t}" for d, t in _TRANSLATORS)
