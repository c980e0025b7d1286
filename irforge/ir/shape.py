"""Dimension and PartialShape: static dims, dynamic dims (`?`), ranges (`1..8`, `2..`) and dynamic rank."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

INF = -1  # an unbounded upper bound


@dataclass(frozen=True)
class Dimension:
    """A dimension in [min, max]; max == INF means unbounded. Static when min == max."""

    min: int = 0
    max: int = INF

    @staticmethod
    def of(value: "int | Dimension | str | None") -> "Dimension":
        """A Dimension from an int (-1 = dynamic), a Dimension, None (dynamic) or text (`3`, `?`, `1..8`)."""
        if isinstance(value, Dimension):
            return value
        if value is None:
            return Dimension()
        if isinstance(value, str):
            return Dimension.parse(value)
        v = int(value)
        return Dimension() if v < 0 else Dimension(v, v)

    @staticmethod
    def parse(text: str) -> "Dimension":
        s = text.strip()
        if s in ("?", "-1", ""):
            return Dimension()
        if ".." in s:
            lo, hi = s.split("..", 1)
            lo_v = int(lo) if lo.strip() else 0
            hi_v = int(hi) if hi.strip() else INF
            if lo_v < 0 or (hi_v != INF and hi_v < lo_v):
                raise ValueError(f"invalid dimension range '{text}'")
            return Dimension(lo_v, hi_v)
        v = int(s)
        if v < -1:
            raise ValueError(f"invalid dimension '{text}'")
        return Dimension.of(v)

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

    def compatible(self, value: int) -> bool:
        return value >= self.min and (self.max == INF or value <= self.max)

    def to_int(self) -> int:
        """The static length, or -1 when dynamic (the IR `<dim>` spelling)."""
        return self.min if self.is_static else -1

    def __add__(self, other: "Dimension | int") -> "Dimension":
        o = Dimension.of(other)
        hi = INF if INF in (self.max, o.max) else self.max + o.max
        return Dimension(self.min + o.min, hi)

    def __mul__(self, other: "Dimension | int") -> "Dimension":
        o = Dimension.of(other)
        if self.is_static and o.is_static:
            return Dimension.of(self.min * o.min)
        return Dimension()

    def __str__(self) -> str:
        if self.is_static:
            return str(self.min)
        if self.min == 0 and self.max == INF:
            return "?"
        return f"{self.min}..{'' if self.max == INF else self.max}"

    __repr__ = __str__


DimLike = "int | Dimension | str | None"


class PartialShape:
    """A shape whose rank and dims may be dynamic. `PartialShape(None)` has dynamic rank."""

    __slots__ = ("_dims",)

    def __init__(self, dims: "Iterable[int | Dimension | str | None] | None") -> None:
        self._dims: tuple[Dimension, ...] | None = None if dims is None else tuple(Dimension.of(d) for d in dims)

    @staticmethod
    def dynamic(rank: int | None = None) -> "PartialShape":
        """Dynamic rank (rank=None) or `rank` dynamic dims."""
        return PartialShape(None if rank is None else [Dimension()] * rank)

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
    def rank(self) -> int:
        if self._dims is None:
            raise ValueError("shape has dynamic rank")
        return len(self._dims)

    @property
    def is_static(self) -> bool:
        return self._dims is not None and all(d.is_static for d in self._dims)

    @property
    def dims(self) -> tuple[Dimension, ...]:
        if self._dims is None:
            raise ValueError("shape has dynamic rank")
        return self._dims

    def to_list(self) -> list[int]:
        """Static dims as ints (-1 for a dynamic one). Raises for dynamic rank."""
        return [d.to_int() for d in self.dims]

    def to_shape(self) -> tuple[int, ...]:
        """The static shape; raises if any dim or the rank is dynamic."""
        if not self.is_static:
            raise ValueError(f"shape {self} is not static")
        return tuple(d.min for d in self.dims)

    def compatible(self, shape: Sequence[int]) -> bool:
        """Whether a concrete `shape` fits this partial shape."""
        if self._dims is None:
            return True
        return len(shape) == len(self._dims) and all(d.compatible(int(v)) for d, v in zip(self._dims, shape))

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dims)

    def __len__(self) -> int:
        return self.rank

    def __getitem__(self, i: int) -> Dimension:
        return self.dims[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple)):
            other = PartialShape(other)
        return isinstance(other, PartialShape) and self._dims == other._dims

    def __hash__(self) -> int:
        return hash(self._dims)

    def __str__(self) -> str:
        """The IR Parameter spelling: `?,3,224,224`, `...` for dynamic rank."""
        if self._dims is None:
            return "..."
        return ",".join(str(d) for d in self._dims)

    def __repr__(self) -> str:
        return f"PartialShape[{self}]"


def broadcast_dim(a: Dimension, b: Dimension) -> Dimension:
    """NumPy broadcasting of two dimensions (dynamic where it cannot be decided)."""
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
    if b.is_static:
        return b
    return Dimension(max(a.min, b.min) if min(a.min, b.min) > 1 else 0, INF)


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
