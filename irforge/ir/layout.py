"""Layout: the meaning of each axis of a tensor (`NCHW`, `[N,C,H,W]`, `NC...`), as OpenVINO's `ov.Layout`.

Parsing, spelling and equality follow OpenVINO's `src/core/src/layout.cpp`: single letters (`nchw`, `?CHW`, `NC...`,
`...C`) or a bracketed comma list of names (`[batch,channels,height,width]`, `[N,...,C]`); names are upper-cased and
the aliases BATCH/B -> N, CHANNELS/CHANNEL -> C, HEIGHT -> H, WIDTH -> W, DEPTH -> D applied; `?` is an axis without a
name; `...` stands for any number of axes (names after it get negative indices); `""` is the empty layout. The
canonical spelling is the bracketed one (`Layout("nchw").to_string() == "[N,C,H,W]"`).

A Parameter's or Result's layout lives where OpenVINO's IR v11 keeps it: in the rt_info of the port that carries
the tensor (the Parameter's output, the Result's source), as
`<attribute name="layout" version="0" layout="[N,C,H,W]"/>`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from irforge.errors import GraphError, OptionError
from irforge.openvino_names import OpenVINONames

if TYPE_CHECKING:
    from irforge.ir.graph import Node, Output
    from irforge.ir.shape import PartialShape

_ALIASES = {"BATCH": "N", "B": "N", "CHANNELS": "C", "CHANNEL": "C", "HEIGHT": "H", "WIDTH": "W", "DEPTH": "D"}
_SCALAR = "**SCALAR**"
_ELLIPSIS = "..."
RT_KEY = "layout"  # the rt_info attribute OpenVINO writes on the port


class LayoutError(OptionError, ValueError, RuntimeError):
    """A malformed layout text, or a layout that does not fit (names the layout). Also a ValueError and a
    RuntimeError (what OpenVINO raises), so scripts written for `openvino` catch it."""


def _internal_name(name: str) -> str:
    upper = name.upper()
    return _ALIASES.get(upper, upper)


def _validate_name(name: str, text: str) -> None:
    if not name:
        raise LayoutError(f"Layout('{text}'): a dimension name is empty")
    if not all((c.isascii() and c.isalnum()) or c == "_" for c in name):
        raise LayoutError(f"Layout('{text}'): dimension name '{name}' is invalid (only English letters, digits and _ "
                          "are allowed)")
    if not any(c.isascii() and c.isalnum() for c in name):
        raise LayoutError(f"Layout('{text}'): dimension name '{name}' has no letter or digit")


class Layout(OpenVINONames):
    """The names of a tensor's axes. `Layout()` / `Layout("")` is the empty layout (nothing known)."""

    __slots__ = ("_scalar", "_dynamic", "_left", "_right", "_names")

    def __init__(self, layout: "str | Layout" = "") -> None:
        self._scalar = False
        self._dynamic = True  # has `...` (an unknown number of axes); also true of the empty layout
        self._left = 0  # axes before `...` (all axes when not dynamic)
        self._right = 0  # axes after `...`
        self._names: dict[str, int] = {}  # name -> index (negative: counted from the end, after `...`)
        if isinstance(layout, Layout):
            self._copy_from(layout)
            return
        if not isinstance(layout, str):
            raise LayoutError(f"Layout({layout!r}): expected a layout text such as 'NCHW', got {type(layout).__name__}")
        if layout:
            self._parse(layout)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def scalar() -> "Layout":
        """The layout of a scalar (`**SCALAR**`)."""
        return Layout(_SCALAR)

    @classmethod
    def _make(cls, dynamic: bool, left: int, right: int, names: dict[str, int]) -> "Layout":
        """A layout from its parts (for the layout arithmetic of preprocessing)."""
        out = cls()
        out._dynamic, out._left, out._right, out._names = dynamic, left, right, dict(names)
        return out

    def _copy_from(self, other: "Layout") -> None:
        self._scalar, self._dynamic = other._scalar, other._dynamic
        self._left, self._right, self._names = other._left, other._right, dict(other._names)

    def _assign(self, name: str, index: int, text: str) -> None:
        internal = _internal_name(name)
        _validate_name(name, text)
        if internal in self._names:
            raise LayoutError(f"Layout('{text}'): dimension '{internal}' is defined more than once")
        self._names[internal] = index

    def _parse(self, text: str) -> None:
        s = text.strip()
        if not s:
            raise LayoutError(f"Layout('{text}'): cannot parse a layout from a blank text")
        if s == _SCALAR:
            self._scalar, self._dynamic = True, False
            return
        if len(s) >= 2 and s[0] == "[" and s[-1] == "]":
            self._parse_bracketed(s, text)
        else:
            self._parse_letters(s, text)

    def _parse_commas(self, part: str, index: int, text: str) -> int:
        if not part:
            raise LayoutError(f"Layout('{text}'): an empty part between commas")
        tokens = part.split(",")
        if part.endswith(","):  # as std::getline, a trailing separator gives no last token
            tokens.pop()
        for token in tokens:
            name = token.strip()
            if name != "?":
                self._assign(name, index, text)
            index += 1
        return index

    def _parse_bracketed(self, s: str, text: str) -> None:
        if len(s) == 2:
            raise LayoutError(f"Layout('{text}'): no dimensions between the brackets")
        body = s[1:-1]
        ellipsis = body.find(_ELLIPSIS)
        if ellipsis < 0:
            self._left = self._parse_commas(body, 0, text)
            self._dynamic = False
            return
        left = body[:ellipsis].strip()
        left_size = right_size = 0
        if left:
            if not left.endswith(","):
                raise LayoutError(f"Layout('{text}'): invalid part before '...' (expected a comma after '{left}')")
            left_size = self._parse_commas(left[:-1], 0, text)
        right = body[ellipsis + len(_ELLIPSIS):].strip()
        if right:
            if not right.startswith(","):
                raise LayoutError(f"Layout('{text}'): invalid part after '...' (expected a comma before '{right}')")
            right = right[1:]
            right_size = right.count(",") + 1
            self._parse_commas(right, -right_size, text)
        self._dynamic, self._left, self._right = True, left_size, right_size

    def _parse_letters(self, s: str, text: str) -> None:
        dynamic_start = s.find(_ELLIPSIS)
        backward = False
        index = -1
        i = 0
        while i < len(s):
            index += 1
            c = s[i].upper()
            if c == "?":
                i += 1
                continue
            if c == ".":
                if backward:
                    raise LayoutError(f"Layout('{text}'): more than one '...'")
                if i != dynamic_start:
                    raise LayoutError(f"Layout('{text}'): a single '.' (any number of dimensions is written '...')")
                i += len(_ELLIPSIS)
                index += len(_ELLIPSIS) - 1
                backward = True
                index -= len(s)
                continue
            self._assign(c, index, text)
            i += 1
        if dynamic_start >= 0:
            self._dynamic, self._left, self._right = True, dynamic_start, len(s) - dynamic_start - len(_ELLIPSIS)
        else:
            self._dynamic, self._left = False, len(s)

    # ------------------------------------------------------------------ OpenVINO's API
    @property
    def empty(self) -> bool:
        """True for the layout that says nothing (`Layout()`, `""`, `"..."`)."""
        return self == Layout()

    def has_name(self, dimension_name: str) -> bool:
        return _internal_name(dimension_name) in self._names

    def get_index_by_name(self, dimension_name: str) -> int:
        """The axis of `dimension_name` (negative when counted from the end, as in `...C` -> -1)."""
        name = _internal_name(dimension_name)
        if name not in self._names:
            raise LayoutError(f"Layout {self.to_string()}: dimension '{dimension_name}' is not defined")
        return self._names[name]

    def to_string(self) -> str:
        """OpenVINO's canonical spelling: `[N,C,H,W]`, `[N,C,...]`, `[...]`, `**SCALAR**`."""
        if self._scalar:
            return _SCALAR
        by_index = self.index_map
        parts = [by_index.get(i, "?") for i in range(self._left)]
        if self._dynamic:
            parts.append(_ELLIPSIS)
            parts.extend(by_index.get(i, "?") for i in range(-self._right, 0))
        return "[" + ",".join(parts) + "]"

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"<Layout: {self.to_string()}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Layout(other)
        if not isinstance(other, Layout):
            return NotImplemented
        return (self._scalar, self._dynamic, self._left, self._right, self._names) == \
            (other._scalar, other._dynamic, other._left, other._right, other._names)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self._scalar, self._dynamic, self._left, self._right, frozenset(self._names.items())))

    # ------------------------------------------------------------------ read-only parts, for layout arithmetic
    @property
    def is_dynamic(self) -> bool:
        """True when the layout has `...` (or is empty): its rank is not fixed."""
        return self._dynamic

    @property
    def left_size(self) -> int:
        return self._left

    @property
    def right_size(self) -> int:
        return self._right

    @property
    def index_map(self) -> dict[int, str]:
        """Axis index -> name, for the named axes."""
        return {i: n for n, i in self._names.items()}


def as_layout(value: "Layout | str | None", what: str) -> Layout:
    """`value` as a Layout (a Layout, a layout text or None for the empty one); `what` names the argument."""
    if value is None:
        return Layout()
    if isinstance(value, (Layout, str)):
        return Layout(value)
    raise LayoutError(f"{what}: expected an irforge Layout or a layout text such as 'NCHW', got {value!r}")


def is_compatible(layout: Layout, shape: "PartialShape") -> bool:
    """Whether a tensor of `shape` can have `layout`: the ranks agree (a `...` layout takes any rank from its
    named axes up)."""
    if not shape.rank_is_static:
        return True
    least = layout.left_size + layout.right_size
    return shape.rank >= least if layout.is_dynamic else shape.rank == least


# ---------------------------------------------------------------- layouts of ports (Parameter / Result)
def port_layout(port: "Output") -> Layout:
    """The layout stored on `port` (empty when none)."""
    entry = port.rt_info.get(RT_KEY)
    if not isinstance(entry, dict) or not entry.get("layout"):
        return Layout()
    return Layout(entry["layout"])


def store_port_layout(port: "Output", layout: Layout) -> None:
    """Store `layout` on `port` as OpenVINO writes it (the empty layout removes it); no checks."""
    if layout.empty:
        port.rt_info.pop(RT_KEY, None)
    else:
        port.rt_info[RT_KEY] = {"version": "0", "layout": layout.to_string()}


def layout_port(node: "Node") -> "Output":
    """The port that holds the layout of a Parameter (its output) or a Result (its source)."""
    if node.type == "Parameter":
        return node.outputs[0]
    if node.type == "Result":
        return node.inputs[0]
    raise GraphError(f"node '{node.name}' ({node.type}): a layout can be set only on Parameter and Result nodes")


def set_port_layout(port: "Output", layout: Any, what: str = "set_layout") -> None:
    """Give `port` a layout, checking that it fits the port's shape (OpenVINO's `layout_helpers.set_layout`)."""
    new = as_layout(layout, what)
    if not new.empty and not is_compatible(new, port.shape):
        raise LayoutError(f"{what}: layout {new} does not fit the shape [{port.shape}] (the ranks differ)")
    store_port_layout(port, new)
