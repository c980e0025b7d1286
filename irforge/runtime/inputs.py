"""Ordering and checking user inputs against a model's Parameters: each mistake fails with one message naming the
input, what it expects and what it got (`input 'x' expects f32[1,3,224,224], got u8[1,224,224,3]`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from irforge.errors import InferenceError
from irforge.ir.graph import Model, Output
from irforge.ir.types import Type
from irforge.runtime.tensor import Tensor


def input_index(params: list[Output], key: object) -> int:
    """Position of the input named by `key`: an index, an Output, a tensor name or a Parameter's name."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if 0 <= int(key) < len(params):
            return int(key)
    elif isinstance(key, Output):
        for i, p in enumerate(params):
            if p is key:
                return i
    else:
        for i, p in enumerate(params):
            if key in p.names or key == p.node.name:
                return i
    shown = key.name if isinstance(key, Output) else key
    raise InferenceError(f"unknown input {shown!r} (the model's inputs: {', '.join(p.name for p in params)})")


def output_index(outputs: list[Output], names: list[str], key: object) -> int:
    """Position of the output named by `key`: an index, an Output or one of its tensor names."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if 0 <= int(key) < len(outputs):
            return int(key)
    elif isinstance(key, Output):
        for i, o in enumerate(outputs):
            if o is key:
                return i
    else:
        for i, (o, name) in enumerate(zip(outputs, names)):
            if key == name or key in o.names:
                return i
    shown = key.name if isinstance(key, Output) else key
    raise InferenceError(f"unknown output {shown!r} (the model's outputs: {', '.join(names)})")


def prepare_inputs(model: Model | list[Output], inputs: Any) -> list[np.ndarray]:
    """User inputs (a mapping keyed by name/index/Output, a sequence in model order, or one array for a one-input
    model) as checked arrays in the model's Parameter order. `model`: the Model or its list of inputs."""
    params = model.inputs if isinstance(model, Model) else model
    if isinstance(inputs, (np.ndarray, Tensor)) or np.isscalar(inputs):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        by_pos: list[Any] = [None] * len(params)
        for key, val in inputs.items():
            by_pos[input_index(params, key)] = val
        missing = [f"{params[i].name} ({describe_port(params[i])})" for i, v in enumerate(by_pos) if v is None]
        if missing:
            raise InferenceError(f"missing input(s): {', '.join(missing)}")
        values = by_pos
    elif inputs is None:
        values = []
    else:
        values = list(inputs)
    if len(values) != len(params):
        expected = ", ".join(f"'{p.name}' ({describe_port(p)})" for p in params) or "none"
        raise InferenceError(f"the model takes {len(params)} input(s): {expected}; got {len(values)}")
    return [check_input(p, v) for p, v in zip(params, values)]


def describe_port(port: Output) -> str:
    return f"{port.element_type}[{port.shape}]"


def describe_array(arr: np.ndarray) -> str:
    try:
        type_name = Type.from_dtype(arr.dtype).name
    except ValueError:
        type_name = str(arr.dtype)
    return f"{type_name}[{','.join(str(d) for d in arr.shape)}]"


def check_input(param: Output, value: Any) -> np.ndarray:
    """`value` as an array of the input's element type and a shape within its (partial) shape."""
    et = param.element_type
    if isinstance(value, Tensor):
        value = value.data
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr is not value and et.dtype is not None and arr.dtype != et.dtype:
        arr = arr.astype(et.dtype)  # plain Python values take the input's type
    if et.dtype is not None and arr.dtype != et.dtype:
        raise InferenceError(f"{_expects(param, arr)} (element type {describe_array(arr).split('[')[0]} "
                             f"instead of {et})")
    shape = param.shape
    if shape.rank_is_static:
        dims = shape.dims
        if arr.ndim != len(dims):
            raise InferenceError(f"{_expects(param, arr)} (rank {arr.ndim} instead of {len(dims)})")
        for axis, (dim, got) in enumerate(zip(dims, arr.shape)):
            if not dim.compatible(got):
                where = f"instead of {dim}" if dim.is_static else f"outside {dim}"
                raise InferenceError(f"{_expects(param, arr)} (dim {axis} is {got} {where})")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def _expects(param: Output, arr: np.ndarray) -> str:
    return f"input '{param.name}' expects {describe_port(param)}, got {describe_array(arr)}"
