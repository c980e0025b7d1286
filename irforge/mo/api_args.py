"""Python-API arguments in the forms OpenVINO takes them, checked and turned into the converter's structures.

`convert_model(..., input=...)` accepts every form ovc's Python API does: a shape (`[1,3,224,224]`, a tuple, a
PartialShape, `"[1,3,?,?]"`), a list of shapes (by input order), a name, a list of names, `(name, shape)`,
`(name, shape, type)` or `(name, type)` tuples (any order) or lists of them, `{name: shape | type | (shape,
type)}`, an element type alone; and irforge's command-line string (`"x[1,3,224,224]{f32},mask"`). `Model.reshape`
takes the shape forms. Dims are ints (-1 dynamic), Dimensions, strings (`?`, `1..8`) or (min, max) pairs. A value
of any other form fails with one OptionError naming the argument; nothing is ignored."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.errors import OptionError
from irforge.ir.shape import Dimension, PartialShape, Shape
from irforge.ir.types import ElementType, Type
from irforge.mo.options import InputSpec, parse_input

if TYPE_CHECKING:
    from irforge.ir.graph import Model, Output

_DIM_TEXT = re.compile(r"^\s*(\?|-1|\d+|\d*\s*\.\.\s*\d*)\s*$")
_SHAPE_FORMS = "a list/tuple of dims, a PartialShape or a string such as '[1,3,?,1..8]'"


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_dim(value: object) -> bool:
    """A single dimension: an int, a Dimension, or dim text (`?`, `3`, `1..8`)."""
    return _is_int(value) or isinstance(value, Dimension) or (isinstance(value, str) and bool(_DIM_TEXT.match(value)))


def _is_range(value: object) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value)


def is_shape_like(value: object) -> bool:
    """Whether `value` is one shape (not a list of input specs): a PartialShape/Shape, or a list/tuple whose
    items are dims with at least one int or Dimension among them (a (min, max) pair then counts as one dim)."""
    if isinstance(value, (PartialShape, Shape)):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype.kind in "iu"
    if not isinstance(value, (list, tuple)):
        return False
    if not value:
        return True  # a scalar's shape
    has_number = any(_is_int(v) or isinstance(v, Dimension) for v in value)
    return has_number and all(_is_dim(v) or _is_range(v) for v in value)


def partial_shape_of(value: Any, argument: str) -> PartialShape:
    """`value` (any of OpenVINO's shape forms) as a PartialShape; OptionError naming `argument` otherwise."""
    if isinstance(value, PartialShape):
        return value
    if isinstance(value, str):
        try:
            return PartialShape.parse(value)
        except ValueError as e:
            raise OptionError(f"{argument}: bad shape '{value}' ({e})") from None
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise OptionError(f"{argument}: expected {_SHAPE_FORMS}, got {type(value).__name__} {value!r}")
    dims = []
    for axis, d in enumerate(value):
        if isinstance(d, float) or isinstance(d, (bool, np.bool_)):
            raise OptionError(f"{argument}: dim {axis} is {d!r}; dims are ints (-1: dynamic), Dimensions, '?', "
                              "'1..8' or (min, max) pairs")
        if _is_int(d) and int(d) < -1:
            raise OptionError(f"{argument}: dim {axis} is {int(d)}; dims are >= 0, or -1 for a dynamic one")
        try:
            dims.append(Dimension.of(d))
        except (TypeError, ValueError) as e:
            raise OptionError(f"{argument}: dim {axis} {d!r}: {e}") from None
    return PartialShape(dims)


def element_type_of(value: Any, argument: str) -> ElementType:
    """An element type from a Type, a NumPy dtype or scalar type, a Python type or a type name."""
    try:
        t = Type(value)
    except (TypeError, ValueError):
        raise OptionError(f"{argument}: {value!r} is not an element type (e.g. irforge.Type.f32, np.float32, "
                          "'f32')") from None
    if t.is_dynamic:
        raise OptionError(f"{argument}: the element type must be static, got {t}")
    return t


def _is_type(value: object) -> bool:
    if isinstance(value, Type):
        return True
    if isinstance(value, str) or value is None:
        return False
    try:
        Type(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, (type, np.dtype))


def _spec_of(item: Any, argument: str, name: str | None = None) -> InputSpec:
    """One input's entry: a name, a shape, a type, or a tuple of them (any order, each at most once)."""
    spec = InputSpec(name)
    parts = list(item) if isinstance(item, tuple) and not is_shape_like(item) else [item]
    for part in parts:
        if isinstance(part, str) and not _DIM_TEXT.match(part) and not part.strip().startswith(("[", "(")):
            if spec.name is not None:
                raise OptionError(f"{argument}: {item!r} names an input twice")
            spec.name = part
        elif _is_type(part):
            if spec.element_type is not None:
                raise OptionError(f"{argument}: {item!r} gives two element types")
            spec.element_type = element_type_of(part, argument)
        elif isinstance(part, (list, tuple, np.ndarray, PartialShape, str)):
            if spec.shape is not None:
                raise OptionError(f"{argument}: {item!r} gives two shapes")
            spec.shape = partial_shape_of(part, argument)
        else:
            raise OptionError(f"{argument}: cannot read {part!r} in {item!r}; expected a name, {_SHAPE_FORMS}, "
                              "or an element type")
    return spec


def input_specs_of(value: Any, argument: str = "input") -> list[InputSpec]:
    """`convert_model`'s `input` in any of ovc's forms (see the module docstring) as InputSpecs."""
    if isinstance(value, str):
        return parse_input(value)
    if isinstance(value, Mapping):
        specs = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise OptionError(f"{argument}: dict keys are input names, got {key!r}")
            spec = _spec_of(item, argument, key)
            if spec.name != key:
                raise OptionError(f"{argument}: the entry for '{key}' names another input ({spec.name!r})")
            specs.append(spec)
        return specs
    if is_shape_like(value) or _is_type(value):
        return [_spec_of(value, argument)]
    if isinstance(value, tuple):
        return [_spec_of(value, argument)]
    if isinstance(value, list):
        if not value:
            raise OptionError(f"{argument}: an empty list names no input")
        return [_spec_of(item, argument) for item in value]
    raise OptionError(f"{argument}: expected a shape, a name, a (name, shape[, type]) tuple, a list of those or a "
                      f"dict name -> shape, got {type(value).__name__}")


def input_shapes_of(value: Any, argument: str = "input_shape") -> list[InputSpec]:
    """`input_shape`: irforge's string, one shape, a list of shapes (by input order) or a dict name -> shape."""
    if isinstance(value, str):
        from irforge.mo.options import parse_input_shape

        return parse_input_shape(value)
    if isinstance(value, Mapping):
        return [InputSpec(_name(k, argument), partial_shape_of(v, f"{argument}['{k}']")) for k, v in value.items()]
    if is_shape_like(value):
        return [InputSpec(None, partial_shape_of(value, argument))]
    if isinstance(value, (list, tuple)) and value:
        return [InputSpec(None, partial_shape_of(v, f"{argument}[{i}]")) for i, v in enumerate(value)]
    raise OptionError(f"{argument}: expected {_SHAPE_FORMS}, a list of them or a dict name -> shape, "
                      f"got {value!r}")


def values_of(value: Any, argument: str) -> list[tuple[str | None, list[float]]]:
    """`mean_values`/`scale_values`: irforge's string, a list/tuple/array of numbers, or a dict name -> list."""
    if isinstance(value, str):
        from irforge.mo.options import parse_values

        return parse_values(value, f"--{argument.replace('_', '-')}")
    if isinstance(value, Mapping):
        return [(_name(k, argument), _numbers(v, f"{argument}['{k}']")) for k, v in value.items()]
    return [(None, _numbers(value, argument))]


def _numbers(value: Any, argument: str) -> list[float]:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
        raise OptionError(f"{argument}: expected a list of numbers, got {value!r}")
    out = []
    for v in np.asarray(value, dtype=object).reshape(-1).tolist():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise OptionError(f"{argument}: {v!r} is not a number")
        if not math.isfinite(float(v)):
            raise OptionError(f"{argument}: {v!r} is not a finite number")
        out.append(float(v))
    return out


def _name(key: object, argument: str) -> str:
    if not isinstance(key, str):
        raise OptionError(f"{argument}: dict keys are input names, got {key!r}")
    return key


def int_of(value: Any, argument: str) -> int:
    """An integer argument (`batch`): ints only; strings, floats and bools are rejected, not rounded."""
    if not _is_int(value):
        raise OptionError(f"{argument}: expected an integer, got {type(value).__name__} {value!r}")
    return int(value)


def reshape_model(model: "Model", shapes: Any) -> None:
    """`Model.reshape`: one shape (one-input models), a list of shapes by input order, or a dict keyed by input
    name, index or port (OpenVINO's forms); then the graph's types and shapes are re-inferred."""
    from irforge.ir.graph import Output
    from irforge.mo.reshape import find_input, set_input_shapes

    argument = "Model.reshape"
    if isinstance(shapes, Mapping):
        specs = []
        for key, value in shapes.items():
            if isinstance(key, Output):
                if key not in model.inputs:
                    raise OptionError(f"{argument}: {key!r} is not an input of the model")
                name = model.inputs[model.inputs.index(key)].name
                specs.append(InputSpec(name, partial_shape_of(value, f"{argument}[{name!r}]")))
                continue
            if _is_int(key):
                if not 0 <= int(key) < len(model.inputs):
                    raise OptionError(f"{argument}: input index {key} out of range (the model has "
                                      f"{len(model.inputs)} inputs)")
                key = model.inputs[int(key)].name
            specs.append(InputSpec(_name(key, argument), partial_shape_of(value, f"{argument}[{key!r}]")))
    elif is_shape_like(shapes) or isinstance(shapes, str):
        if len(model.inputs) != 1:
            raise OptionError(f"{argument}: one shape given but the model has {len(model.inputs)} inputs; pass a "
                              "dict input name -> shape")
        specs = [InputSpec(None, partial_shape_of(shapes, argument))]
    else:
        raise OptionError(f"{argument}: expected {_SHAPE_FORMS} or a dict input -> shape, got {shapes!r}")
    for i, spec in enumerate(specs):
        port = find_input(model, spec.name, i, argument)
        if spec.shape is not None and port.shape.rank_is_static and spec.shape.rank_is_static \
                and spec.shape.rank != port.shape.rank:
            raise OptionError(f"{argument}: input '{port.name}' has rank {port.shape.rank}, the new shape "
                              f"{spec.shape.to_string()} has rank {spec.shape.rank}")
    set_input_shapes(model, specs, argument)

