"""Dimension, PartialShape and Shape, as OpenVINO's Python API has them: static dims, dynamic dims (`?`), ranges
(`1..8`, `2..`) and dynamic rank.

irforge's own code reads `PartialShape.rank` as an int and `str(shape)` as the IR spelling (`?,3,224,224`);
OpenVINO's spellings work beside them: `rank` is also a Dimension-like value (`rank.get_length()`), `to_string()`
and `repr` give `[?,3,224,224]`, a static Dimension compares equal to its int and can be used as one."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from irforge.openvino_names import OpenVINONames

INF = -1  # an unbounded upper bound

_DIM_FORMS = "an int (-1: dynamic), a Dimension, a string ('?', '3', '1..8') or a (min, max) pair"


class Dimension(OpenVINONames):
    """A dimension in [min, max]; max == INF means unbounded. Static when min == max.
    `Dimension()` is dynamic, `Dimension(3)` static, `Dimension(1, 8)` a range (-1 for an unknown bound),
    `Dimension("1..8")` parsed."""

    __slots__ = ("min", "max")

    min: int
    max: int

    def __init__(self, min: "int | str | None" = None, max: int | None = None) -> None:  # noqa: A002
        if isinstance(min, str) and max is None:
            parsed = Dimension.parse(min)
            lo, hi = parsed.min, parsed.max
        elif min is None:
            lo, hi = 0, INF
        elif max is None:
            v = _as_int(min)
            if v < -1:
                raise ValueError(f"invalid dimension {v} (lengths are >= 0; -1 is dynamic)")
            lo, hi = (0, INF) if v == -1 else (v, v)
        else:
            lo, hi = _as_int(min), _as_int(max)
            lo = 0 if lo == -1 else lo
            if lo < 0 or hi < -1 or (hi != INF and hi < lo):
                raise ValueError(f"invalid dimension range {min}..{max}")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Dimension is immutable")

    def __reduce__(self) -> tuple[Any, tuple[int, int]]:
        return Dimension, (self.min, self.max)

    @staticmethod
    def of(value: "int | Dimension | str | None | Sequence[int]") -> "Dimension":
        """A Dimension from an int (-1 or any negative = dynamic), a Dimension, None (dynamic), text (`3`, `?`,
        `1..8`) or a (min, max) pair."""
        if isinstance(value, Dimension):
            return value
        if value is None:
            return Dimension()
        if isinstance(value, str):
            return Dimension.parse(value)
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError(f"a dimension range has two bounds (min, max), got {len(value)} values")
            return Dimension(value[0], value[1])
        v = _as_int(value)
        return Dimension() if v < 0 else Dimension(v, v)

    @staticmethod
    def parse(text: str) -> "Dimension":
        s = text.strip()
        if s in ("?", "-1", ""):
            return Dimension()
        try:
            if ".." in s:
                lo, hi = s.split("..", 1)
                lo_v = int(lo) if lo.strip() else 0
                hi_v = int(hi) if hi.strip() else INF
                if lo_v < 0 or (hi_v != INF and hi_v < lo_v):
                    raise ValueError(f"invalid dimension range '{text}'")
                return Dimension(lo_v, hi_v)
            v = int(s)
        except ValueError:
            raise ValueError(f"invalid dimension '{text}' (expected an integer, ?, or a range such as 1..8)") from None
        if v < -1:
            raise ValueError(f"invalid dimension '{text}'")
        return Dimension.of(v)

    @staticmethod
    def dynamic() -> "Dimension":
        return Dimension()

    @property
    def is_static(self) -> bool:
        return self.min == self.max

    @property
    def is_dynamic(self) -> bool:
        return not self.is_static

    def get_length(self) -> int:
        if not self.is_static:
            raise ValueError(f"dimension {self} is not static")
        return self.min

    def get_min_length(self) -> int:
        return self.min

    def get_max_length(self) -> int:
        """The upper bound, -1 when unbounded (as OpenVINO answers)."""
        return self.max

    min_length = property(get_min_length)
    max_length = property(get_max_length)

    def compatible(self, value: "int | Dimension") -> bool:
        """Whether a length (or some length of another dimension) fits this dimension."""
        if isinstance(value, Dimension):
            hi = self.max if value.max == INF else value.max if self.max == INF else min(self.max, value.max)
            return max(self.min, value.min) <= hi or hi == INF
        return value >= self.min and (self.max == INF or value <= self.max)

    def relaxes(self, other: "Dimension") -> bool:
        """Whether every length `other` admits is admitted here."""
        other = Dimension.of(other)
        return self.min <= other.min and (self.max == INF or (other.max != INF and other.max <= self.max))

    def refines(self, other: "Dimension") -> bool:
        return Dimension.of(other).relaxes(self)

    def same_scheme(self, other: "Dimension") -> bool:
        other = Dimension.of(other)
        return (self.is_dynamic and other.is_dynamic) or self == other

    def to_int(self) -> int:
        """The static length, or -1 when dynamic (the IR `<dim>` spelling)."""
        return self.min if self.is_static else -1

    def to_string(self) -> str:
        return str(self)

    def __index__(self) -> int:
        if not self.is_static:
            raise TypeError(f"dimension {self} is dynamic and has no single length")
        return self.min

    __int__ = __index__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dimension):
            return self.min == other.min and self.max == other.max
        if isinstance(other, int) and not isinstance(other, bool):
            return self.is_static and self.min == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.min) if self.is_static else hash((self.min, self.max))

    def __add__(self, other: "Dimension | int") -> "Dimension":
        o = Dimension.of(other)
        hi = INF if INF in (self.max, o.max) else self.max + o.max
        return Dimension(self.min + o.min, hi)

    __radd__ = __add__

    def __mul__(self, other: "Dimension | int") -> "Dimension":
        o = Dimension.of(other)
        if self.is_static and o.is_static:
            return Dimension.of(self.min * o.min)
        return Dimension()

    __rmul__ = __mul__

    def __str__(self) -> str:
        if self.is_static:
            return str(self.min)
        if self.min == 0 and self.max == INF:
            return "?"
        return f"{self.min or ''}..{'' if self.max == INF else self.max}"

    def __repr__(self) -> str:
        return f"<Dimension: {self}>"


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"a dimension must be {_DIM_FORMS}, got {value!r}")
    return int(value.__index__())  # type: ignore[attr-defined]


DimLike = "int | Dimension | str | None"


class _Rank(int):
    """A static rank: an int for irforge's code, a static Dimension for OpenVINO's (`shape.rank.get_length()`)."""

    is_static = True
    is_dynamic = False

    def get_length(self) -> int:
        return int(self)

    get_min_length = get_max_length = get_length
    min_length = max_length = property(get_length)

    def to_string(self) -> str:
        return str(int(self))

    __str__ = to_string

    def __format__(self, spec: str) -> str:
        return format(int(self), spec)

    def __repr__(self) -> str:
        return f"<Dimension: {int(self)}>"


class Shape(OpenVINONames, tuple):  # type: ignore[type-arg]
    """A static shape (OpenVINO's `ov.Shape`): a tuple of ints printed as `[1,3,224,224]`."""

    def __new__(cls, dims: Iterable[int] = ()) -> "Shape":
        values = []
        for d in dims:
            v = _as_int(d)
            if v < 0:
                raise ValueError(f"a static shape has no negative dims, got {v}")
            values.append(v)
        return super().__new__(cls, values)

    def to_string(self) -> str:
        return "[" + ",".join(str(d) for d in self) + "]"

    __str__ = to_string

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, PartialShape)):
            return isinstance(other, list) and tuple(other) == tuple(self) or other == list(self)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"<Shape: {self.to_string()}>"


class PartialShape(OpenVINONames):
    """A shape whose rank and dims may be dynamic. `PartialShape(None)` has dynamic rank; OpenVINO's forms work
    too: `PartialShape([1, 3, -1, (1, 8)])`, `PartialShape("[1,3,?,1..8]")`, `PartialShape(Shape(...))`."""

    __slots__ = ("_dims",)

    def __init__(self, dims: "Iterable[int | Dimension | str | None | Sequence[int]] | str | None") -> None:
        if isinstance(dims, str):
            self._dims: tuple[Dimension, ...] | None = PartialShape.parse(dims)._dims
        elif isinstance(dims, PartialShape):
            self._dims = dims._dims
        else:
            self._dims = None if dims is None else tuple(Dimension.of(d) for d in dims)

    @staticmethod
    def dynamic(rank: "int | Dimension | None" = None) -> "PartialShape":
        """Dynamic rank (rank=None or a dynamic Dimension) or `rank` dynamic dims."""
        if rank is None or (isinstance(rank, Dimension) and rank.is_dynamic):
            return PartialShape(None)
        return PartialShape([Dimension()] * int(rank))

    @staticmethod
    def parse(text: str) -> "PartialShape":
        """Parse `?,3,224,224`, `1..4,3,?,2..`, `[1,3,8,8]`, `...` (dynamic rank), `` (scalar)."""
        s = text.strip().strip("[]()")
        if s == "...":
            return PartialShape(None)
        if not s:
            return PartialShape([])
        return PartialShape([Dimension.parse(p) for p in s.replace(" ", ",").split(",") if p.strip()])

    @property
    def rank_is_static(self) -> bool:
        return self._dims is not None

    @property
    def rank(self) -> "_Rank | Dimension":
        """The rank: an int (that also answers Dimension's methods) or, for a dynamic rank, a dynamic Dimension."""
        if self._dims is None:
            return Dimension()
        return _Rank(len(self._dims))

    @property
    def is_static(self) -> bool:
        return self._dims is not None and all(d.is_static for d in self._dims)

    @property
    def is_dynamic(self) -> bool:
        return not self.is_static

    @property
    def dims(self) -> tuple[Dimension, ...]:
        if self._dims is None:
            raise ValueError("shape has dynamic rank")
        return self._dims

    def to_list(self) -> list[int]:
        """Static dims as ints (-1 for a dynamic one). Raises for dynamic rank."""
        return [d.to_int() for d in self.dims]

    def to_shape(self) -> Shape:
        """The static shape; raises if any dim or the rank is dynamic."""
        if not self.is_static:
            raise ValueError(f"shape {self.to_string()} is not static")
        return Shape(d.min for d in self.dims)

    get_shape = to_shape

    def get_dimension(self, index: int) -> Dimension:
        return self.dims[index]

    def get_min_shape(self) -> Shape:
        return Shape(d.min for d in self.dims)

    def get_max_shape(self) -> Shape:
        """Upper bounds; an unbounded dim gives 2**63 - 1 as in OpenVINO."""
        return Shape((2**63 - 1) if d.max == INF else d.max for d in self.dims)

    def compatible(self, shape: "Sequence[int] | PartialShape") -> bool:
        """Whether a concrete `shape` (or some shape of another partial shape) fits this partial shape."""
        if isinstance(shape, PartialShape):
            if self._dims is None or shape._dims is None:
                return True
            return len(shape._dims) == len(self._dims) and all(a.compatible(b) for a, b in zip(self._dims, shape._dims))
        if self._dims is None:
            return True
        return len(shape) == len(self._dims) and all(d.compatible(int(v)) for d, v in zip(self._dims, shape))

    def relaxes(self, other: "PartialShape") -> bool:
        other = PartialShape(other)
        if self._dims is None:
            return True
        return other._dims is not None and len(other._dims) == len(self._dims) and \
            all(a.relaxes(b) for a, b in zip(self._dims, other._dims))

    def refines(self, other: "PartialShape") -> bool:
        return PartialShape(other).relaxes(self)

    def same_scheme(self, other: "PartialShape") -> bool:
        other = PartialShape(other)
        if self._dims is None or other._dims is None:
            return self._dims is None and other._dims is None
        return len(self._dims) == len(other._dims) and all(a.same_scheme(b) for a, b in zip(self._dims, other._dims))

    def all_non_negative(self) -> bool:
        return True

    def to_string(self) -> str:
        """OpenVINO's spelling: `[1,3,?,1..8]`, `[...]` for a dynamic rank."""
        return f"[{self}]"

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dims)

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, i: int) -> Dimension:
        return self.dims[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple)):
            try:
                other = PartialShape(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, PartialShape) and self._dims == other._dims

    def __hash__(self) -> int:
        return hash(self._dims)

    def __str__(self) -> str:
        """The IR Parameter spelling: `?,3,224,224`, `...` for dynamic rank."""
        if self._dims is None:
            return "..."
        return ",".join(str(d) for d in self._dims)

    def __repr__(self) -> str:
        return f"<PartialShape: {self.to_string()}>"


def broadcast_dim(a: Dimension, b: Dimension) -> Dimension:
    """NumPy broadcasting of two dimensions, keeping what the ranges say (as OpenVINO's broadcast_merge): equal
    dims stay; a dim that cannot be 1 decides; two that may both be 1 give their union."""
    if a.is_static and a.min == 1:
        return b
    if b.is_static and b.min == 1:
        return a
    if a.is_static and b.is_static:
        if a.min != b.min:
            raise ValueError(f"dimensions {a} and {b} do not broadcast")
        return a
    if a.is_static:
        return a
    if b.is_static or a == b:
        return b
    a_one, b_one = a.compatible(1), b.compatible(1)
    if a_one and b_one:
        return Dimension(min(a.min, b.min), INF if INF in (a.max, b.max) else max(a.max, b.max))
    if a_one or b_one:
        return b if a_one else a
    hi = b.max if a.max == INF else a.max if b.max == INF else min(a.max, b.max)
    lo = max(a.min, b.min)
    return Dimension(lo, hi) if hi == INF or hi >= lo else Dimension(lo, INF)


def broadcast_shapes(*shapes: PartialShape) -> PartialShape:
    """NumPy-style broadcast of several partial shapes (dynamic rank if any input has it)."""
    if any(not s.rank_is_static for s in shapes):
        return PartialShape(None)
    rank = max((s.rank for s in shapes), default=0)
    out = [Dimension(1, 1)] * rank
    for s in shapes:
        dims = (Dimension(1, 1),) * (rank - s.rank) + s.dims
        out = [broadcast_dim(a, b) for a, b in zip(out, dims)]
    return PartialShape(out)
