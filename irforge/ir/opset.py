"""The op registry. One entry per (op type, version) holds everything about the op: its attribute schema,
type and shape inference, and its NumPy reference kernel. The XML reader/writer and the REF device are
generic over these entries, so adding an op is one class in `irforge/ir/ops/`.

    @register
    class Relu(UnaryOp):
        type_name = "Relu"; version = "opset1"
        def evaluate(self, node, inputs): return [np.maximum(inputs[0], 0)]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from irforge.errors import GraphError
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node

REQUIRED = object()

# Attribute kinds and their Python value types:
#   int, float, bool, str -> scalars;  ints, floats, strs -> lists;  type -> ElementType;
#   shape -> list[int] (static, e.g. Const shape);  pshape -> PartialShape (e.g. Parameter shape);
#   object -> any Python value the op's own XML hooks serialize (port maps of If/Loop); never in <data>
ATTR_KINDS = ("int", "float", "bool", "str", "ints", "floats", "strs", "type", "shape", "pshape", "object")


@dataclass(frozen=True)
class Attr:
    """One attribute of an op: its IR name, kind (see ATTR_KINDS), default (REQUIRED when none) and, for
    `str` attributes, the allowed values (case-insensitive on read, written as given here)."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"attribute '{self.name}': unknown kind '{self.kind}'")

    def coerce(self, value: Any) -> Any:
        """Normalize a Python value to this attribute's kind (lists for vectors, ElementType for types...)."""
        k = self.kind
        if k == "int":
            return int(value)
        if k == "float":
            return float(value)
        if k == "bool":
            return bool(value)
        if k == "str":
            s = str(value)
            if self.choices:
                for c in self.choices:
                    if c.lower() == s.lower():
                        return c
                raise ValueError(f"'{s}' is not one of {', '.join(self.choices)}")
            return s
        if k == "ints":
            return [int(v) for v in np.asarray(value).reshape(-1).tolist()] if value is not None else []
        if k == "floats":
            return [float(v) for v in np.asarray(value).reshape(-1).tolist()] if value is not None else []
        if k == "strs":
            return [str(v) for v in value]
        if k == "type":
            return value if isinstance(value, ElementType) else Type.from_name(str(value))
        if k == "shape":
            return [int(v) for v in value]
        if k == "pshape":
            return value if isinstance(value, PartialShape) else PartialShape(value)
        if k == "object":
            return value
        raise AssertionError(k)


class OpSpec:
    """Base of every op. Subclasses set `type_name`, `version`, `attrs` and implement `infer` and `evaluate`.

    `xml_name` is the type spelling in IR files when it differs (Constant -> Const, Relu -> ReLU).
    `min_inputs`/`max_inputs` bound the input count (max_inputs=None: unbounded)."""

    type_name: ClassVar[str] = ""
    version: ClassVar[str] = "opset1"
    xml_name: ClassVar[str | None] = None
    attrs: ClassVar[tuple[Attr, ...]] = ()
    min_inputs: ClassVar[int] = 0
    max_inputs: ClassVar[int | None] = None

    @property
    def ir_type(self) -> str:
        return self.xml_name or self.type_name

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(name)

    def check_attrs(self, given: dict[str, Any], node_name: str) -> dict[str, Any]:
        """Validate `given` against the schema: unknown names and missing required ones are errors;
        defaults fill the rest; values are coerced to their kinds."""
        known = {a.name for a in self.attrs}
        unknown = sorted(set(given) - known)
        if unknown:
            raise GraphError(f"node '{node_name}' ({self.type_name}): unknown attribute(s) {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for a in self.attrs:
            if a.name in given and given[a.name] is not None:
                try:
                    out[a.name] = a.coerce(given[a.name])
                except (ValueError, TypeError) as e:
                    raise GraphError(f"node '{node_name}' ({self.type_name}): attribute '{a.name}': {e}") from e
            elif a.default is REQUIRED:
                raise GraphError(f"node '{node_name}' ({self.type_name}): missing required attribute '{a.name}'")
            else:
                out[a.name] = a.coerce(a.default) if a.default is not None else None
        return out

    def check_inputs(self, node: "Node") -> None:
        n = len(node.inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            hi = "any" if self.max_inputs is None else self.max_inputs
            raise GraphError(f"node '{node.name}' ({self.type_name}) takes {self.min_inputs}..{hi} inputs, got {n}")

    def infer(self, node: "Node") -> list[tuple[ElementType, PartialShape]]:
        """Output (element type, partial shape) pairs from the node's inputs and attributes."""
        raise NotImplementedError(f"{self.type_name}: no type/shape inference")

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        """The NumPy reference kernel: output arrays from input arrays (the REF device and constant folding)."""
        raise NotImplementedError(f"{self.type_name}: no reference kernel")


_REGISTRY: dict[tuple[str, str], OpSpec] = {}  # (type name lower-cased, version) -> op
_BY_TYPE: dict[str, list[OpSpec]] = {}  # type name lower-cased -> ops, newest version last


def _opset_number(version: str) -> int:
    digits = "".join(ch for ch in version if ch.isdigit())
    return int(digits) if digits else 0


def register(cls: type[OpSpec]) -> type[OpSpec]:
    """Class decorator adding an op to the registry (under `type_name`, and `xml_name` if it differs)."""
    op = cls()
    if not cls.type_name:
        raise ValueError(f"{cls.__name__} has no type_name")
    for name in {cls.type_name, cls.xml_name or cls.type_name}:
        key = (name.lower(), cls.version)
        if key in _REGISTRY and type(_REGISTRY[key]) is not cls:
            raise ValueError(f"op {name} {cls.version} registered twice")
        _REGISTRY[key] = op
        versions = _BY_TYPE.setdefault(name.lower(), [])
        if op not in versions:
            versions.append(op)
            versions.sort(key=lambda o: _opset_number(o.version))
    return cls


def _ensure_loaded() -> None:
    import irforge.ir.ops  # noqa: F401  (imports every op module once)


def get_op(type_name: str, version: str | None = None) -> OpSpec:
    """The op registered as `type_name` (case-insensitive; IR spellings like `Const` accepted).

    With `version` ("opset8"), the newest registered version at or below it is taken, as an IR reader
    must: an op first defined in opset1 is still `version="opset1"` inside an opset8 model."""
    _ensure_loaded()
    versions = _BY_TYPE.get(type_name.lower())
    if not versions:
        raise GraphError(f"unknown op type '{type_name}'")
    if version is None:
        return versions[-1]
    exact = _REGISTRY.get((type_name.lower(), version))
    if exact is not None:
        return exact
    n = _opset_number(version)
    older = [o for o in versions if _opset_number(o.version) <= n]
    if not older or not version.startswith("opset"):
        have = ", ".join(o.version for o in versions)
        raise GraphError(f"op type '{type_name}' has no version '{version}' (known: {have})")
    return older[-1]


def all_ops() -> list[OpSpec]:
    """Every registered op (each version once), sorted by type name."""
    _ensure_loaded()
    seen: dict[int, OpSpec] = {id(o): o for o in _REGISTRY.values()}
    return sorted(seen.values(), key=lambda o: (o.type_name, _opset_number(o.version)))
