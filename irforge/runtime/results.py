"""The mapping an inference returns, as OpenVINO's OVDict: keyed by the output ports, and looked up by port,
output index or tensor name (`r[compiled.output(0)]`, `r[0]`, `r["logits"]`)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from irforge.ir.graph import Output


_SCAN = 8  # up to this many outputs, a name is looked up by a scan instead of building the index


class InferResult(Mapping[Output, np.ndarray]):
    """Outputs of one inference. Iteration and `keys()` give the output ports (as OpenVINO's OVDict does);
    `names()` their tensor names, `to_dict()` port -> array, `to_tuple()` the arrays; `by_name()` gives each
    output's primary name -> array (`Model.output_names`)."""

    __slots__ = ("_outputs", "_names", "_values", "_index")

    def __init__(self, outputs: Sequence[Output], names: Sequence[str], values: Sequence[np.ndarray]) -> None:
        """The sequences are kept as given, not copied (one result per inference: its cost is per call), so the
        caller hands over sequences it no longer changes (the runtime passes tuples and each inference's own
        list of arrays)."""
        self._outputs = outputs
        self._names = names
        self._values = values
        self._index: dict[object, int] | None = None  # built on the first lookup by name

    def _key(self, key: object) -> int:
        if key.__class__ is int:  # (what the index below gives an int: itself, when it is an output's position)
            if 0 <= key < len(self._values):  # type: ignore[operator]
                return key  # type: ignore[return-value]
        elif key.__class__ is str and self._index is None and len(self._outputs) <= _SCAN:
            for i, (out, name) in enumerate(zip(self._outputs, self._names)):  # the index's first match, without
                if key == name or key in out.names:  # building it (a result is often looked up once)
                    return i
        if isinstance(key, Output):
            for i, out in enumerate(self._outputs):
                if out is key:
                    return i
        else:
            if self._index is None:
                self._index = {}
                for i, (out, name) in enumerate(zip(self._outputs, self._names)):
                    for k in [name, *sorted(out.names), i]:
                        self._index.setdefault(k, i)
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                key = int(key)
            if isinstance(key, (str, int)) and key in self._index:
                return self._index[key]
        shown = key.name if isinstance(key, Output) else key
        raise KeyError(f"no output {shown!r}; outputs are {', '.join(self._names)}")

    def __getitem__(self, key: object) -> np.ndarray:
        return self._values[self._key(key)]

    def __contains__(self, key: object) -> bool:
        try:
            self._key(key)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[Output]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> tuple[set[str], ...]:
        """Each output's tensor names (OpenVINO's `OVDict.names()`)."""
        return tuple(set(o.names) or {n} for o, n in zip(self._outputs, self._names))

    def to_dict(self) -> dict[Output, np.ndarray]:
        return dict(zip(self._outputs, self._values))

    def to_tuple(self) -> tuple[np.ndarray, ...]:
        return tuple(self._values)

    def by_name(self) -> dict[str, np.ndarray]:
        """Each output's primary name -> its array."""
        return dict(zip(self._names, self._values))

    def values_list(self) -> list[np.ndarray]:
        return list(self._values)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{o!r}: {v!r}" for o, v in zip(self._outputs, self._values)) + "}"
