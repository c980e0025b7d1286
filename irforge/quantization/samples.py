"""Items a user hands in (a dict name -> array, a list/tuple of arrays in input order, or one array for a one-input
model) become samples: one array per model input, checked against the model's input types and (partial) shapes."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from irforge.ir.graph import Model, Output
from irforge.quantization.errors import DataError

Sample = list[np.ndarray]


def input_name(port: Output) -> str:
    return port.name


def to_sample(item: Any, model: Model, where: str) -> Sample:
    """One item as the model's positional inputs; errors name the item (`where`), the input, expected and got."""
    params = model.inputs
    if isinstance(item, Mapping):
        names = [input_name(p) for p in params]
        unknown = [k for k in item if not any(k in p.names or k == p.node.name for p in params)]
        if unknown:
            raise DataError(f"{where}: unknown input name(s) {', '.join(map(str, unknown))} "
                            f"(the model's inputs: {', '.join(names)})")
        arrays = []
        for p, name in zip(params, names):
            value = next((v for k, v in item.items() if k in p.names or k == p.node.name), None)
            if value is None:
                raise DataError(f"{where}: input '{name}' is missing (the model's inputs: {', '.join(names)})")
            arrays.append(value)
    elif isinstance(item, (list, tuple)):
        if len(item) != len(params):
            raise DataError(f"{where}: {len(item)} arrays given, the model takes {len(params)} inputs "
                            f"({', '.join(input_name(p) for p in params)})")
        arrays = list(item)
    else:
        if len(params) != 1:
            raise DataError(f"{where}: one array given, the model takes {len(params)} inputs "
                            f"({', '.join(input_name(p) for p in params)}): give a dict name -> array")
        arrays = [item]
    return [fit_input(np.asarray(a), p, where) for a, p in zip(arrays, params)]


def fit_input(arr: np.ndarray, port: Output, where: str) -> np.ndarray:
    et, shape = port.element_type, port.shape
    name = input_name(port)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise DataError(f"{where}: input '{name}' got an array of {arr.dtype}, expected {et}")
    if shape.rank_is_static and arr.ndim == shape.rank - 1 and shape[0].compatible(1):
        arr = arr[None]  # a sample without its batch axis
    expected = f"{et}[{shape}]"
    if shape.rank_is_static:
        if arr.ndim != shape.rank:
            raise DataError(f"{where}: input '{name}' expects {expected}, got {arr.dtype}{list(arr.shape)} "
                            f"(rank {arr.ndim}, expected {shape.rank})")
        for i, (d, n) in enumerate(zip(shape.dims, arr.shape)):
            if not d.compatible(int(n)):
                raise DataError(f"{where}: input '{name}' expects {expected}, got {arr.dtype}{list(arr.shape)} "
                                f"(dim {i} is {n}, expected {d})")
    if et.dtype is not None and arr.dtype != et.dtype:
        if et.is_float and arr.dtype.kind in "biuf":
            arr = arr.astype(et.dtype)
        elif not et.is_float and arr.dtype.kind in "biu":
            arr = arr.astype(et.dtype)
        else:
            raise DataError(f"{where}: input '{name}' expects {expected}, got {arr.dtype}{list(arr.shape)}")
    return np.ascontiguousarray(arr)


def iter_samples(items: Iterable[Any], model: Model, transform: Callable[[Any], Any] | None = None,
                 limit: int | None = None, label: str = "calibration item") -> Iterator[Sample]:
    """Samples from `items` (after `transform`), at most `limit` of them."""
    if isinstance(items, (np.ndarray, Mapping)):
        raise DataError(f"{label}s: give an iterable of items (a list of arrays or dicts), not one "
                        f"{'array' if isinstance(items, np.ndarray) else 'dict'}")
    count = 0
    for i, item in enumerate(items):
        if limit is not None and count >= limit:
            return
        yield to_sample(transform(item) if transform is not None else item, model, f"{label} {i}")
        count += 1


def rows(sample: Sample) -> int:
    """The batch size of a sample (its first input's leading dimension; 1 for scalars)."""
    first = sample[0]
    return int(first.shape[0]) if first.ndim else 1
