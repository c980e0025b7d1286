"""The mapping a compiled model returns: keyed by output tensor names, output index, or Output."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from irforge.ir.graph import Output


class InferResult(Mapping[object, np.ndarray]):
    """Outputs of one inference. `r["logits"]`, `r[0]` and `r[model.output(0)]` all work; iteration yields
    each output's primary name (`Model.output_names`)."""

    def __init__(self, outputs: Sequence[Output], names: Sequence[str], values: Sequence[np.ndarray]) -> None:
        self._outputs = list(outputs)
        self._names = list(names)
        self._values = list(values)
        self._index: dict[object, int] | None = None  # built on the first lookup by name

    def _key(self, key: object) -> int:
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
            if key in self._index:
                return self._index[key]
        shown = key.name if isinstance(key, Output) else key
        raise KeyError(f"no output {shown!r}; outputs are {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: object) -> np.ndarray:
        return self._values[self._key(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._values)

    def values_list(self) -> list[np.ndarray]:
        return list(self._values)

    def to_dict(self) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self._values))
