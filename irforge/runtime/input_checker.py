"""InputChecker: `prepare_inputs` for one compiled model, fast when calls repeat.

A small model runs in microseconds, so the per-call checks of inputs.py (a name scan per key, a rank and a
per-dimension comparison per input) are a visible share of its time. Whether `check_input` accepts an ndarray
depends only on its dtype, its shape and whether it is C-contiguous, so each input remembers the (dtype, shape)
it last accepted: an ndarray with that dtype and shape that is C-contiguous is accepted with one comparison, and
anything else (another shape, a Python value, a subclass, a non-contiguous array) takes the full check, which
raises the usual message. Names are resolved through a dict built once; a name the dict does not hold (or that
no longer names its input) takes `input_index`'s scan. Errors and their order are those of `prepare_inputs`.

One checker is shared by all requests of a compiled model, which may run in several threads: the only state it
writes is a signature tuple per input, replaced whole and only by a signature the full check accepted."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from irforge.ir.graph import Output
from irforge.runtime.inputs import check_input, prepare_inputs
from irforge.runtime.tensor import Tensor

Signature = tuple[np.dtype, tuple[int, ...]]
_NONE: Signature = (np.dtype("V1"), (-1,))  # matches no array (no shape has a negative dim)


class InputChecker:
    """Checks and orders one model's inputs (see the module docstring for what is cached)."""

    def __init__(self, params: Sequence[Output]) -> None:
        self.params = list(params)
        self._n = len(self.params)
        self._accepted: list[Signature] = [_NONE] * self._n  # per input: the last (dtype, shape) accepted
        self._position: dict[str, int] = {}  # tensor or Parameter name -> input (the first that has it, as
        for i, p in enumerate(self.params):  # input_index's scan finds it)
            for name in [*sorted(p.names), p.node.name]:
                self._position.setdefault(name, i)

    def prepare(self, inputs: Any) -> list[np.ndarray]:
        """`prepare_inputs(params, inputs)`: the checked arrays in Parameter order (a new list per call)."""
        cls = inputs.__class__
        if cls is dict:
            values = self._by_position(inputs)
            if values is None:
                return prepare_inputs(self.params, inputs)
        elif cls is list or cls is tuple:
            if len(inputs) != self._n:
                return prepare_inputs(self.params, inputs)  # raises: how many inputs the model takes
            values = list(inputs)
        elif (cls is np.ndarray or cls is Tensor) and self._n == 1:
            values = [inputs]
        else:
            return prepare_inputs(self.params, inputs)
        check = self.check
        for i, value in enumerate(values):
            values[i] = check(i, value)
        return values

    def check(self, i: int, value: Any) -> np.ndarray:
        """`check_input(params[i], value)`, with one comparison when `value` matches the last accepted array."""
        arr = value.data if value.__class__ is Tensor else value
        if arr.__class__ is np.ndarray:
            dtype, shape = self._accepted[i]
            if arr.shape == shape and arr.dtype == dtype and arr.flags.c_contiguous:
                return arr
            checked = check_input(self.params[i], arr)
            if checked is arr:  # an accepted C-contiguous ndarray: its dtype and shape are accepted from now on
                self._accepted[i] = (arr.dtype, arr.shape)
            return checked
        return check_input(self.params[i], value)

    def _by_position(self, inputs: dict[Any, Any]) -> list[Any] | None:
        """A dict's values in input order when every key is a known name and every input is given once (None:
        let `prepare_inputs` sort it out, or raise its message)."""
        if len(inputs) != self._n:
            return None
        values: list[Any] = [None] * self._n
        position, params = self._position, self.params
        for key, value in inputs.items():
            i = position.get(key) if key.__class__ is str else None
            if i is None or value is None or values[i] is not None:
                return None
            p = params[i]
            if key not in p.names and key != p.node.name:  # renamed since this checker was made
                return None
            values[i] = value
        return values
