"""Input preprocessing embedded in the IR, as OpenVINO's `mo` does it: layout transposition, channel reversal,
mean subtraction and scale division become the model's first ops. The ops are emitted in the order that lets
the optimizer fold them into a first Convolution: x -> Transpose(layout) -> Add(-mean') -> Multiply(1/scale')
-> Gather(reverse channels), where mean'/scale' are the user's values reversed when channels are reversed
(reverse(x) - m == reverse(x - reverse(m)))."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from irforge.errors import OptionError
from irforge.ir.graph import Model, Output, constant, make
from irforge.ir.shape import PartialShape
from irforge.mo.reshape import find_input, reinfer


@dataclass
class InputPrep:
    """What to do to one input (selected by name; None = every 4-D input / the only input)."""

    name: str | None = None
    mean: list[float] | None = None
    scale: list[float] | None = None
    reverse_channels: bool = False
    source_layout: str | None = None  # the layout the user feeds
    layout: str | None = None  # the model's layout (where the channel axis is)
    extra: dict[str, object] = field(default_factory=dict)


def channel_axis(layout: str | None, rank: int) -> int:
    if layout and "c" in layout:
        return layout.index("c")
    return 1 if rank >= 2 else 0


def _insert_after(param: Output, first_new: Output, last: Output) -> None:
    """Route every consumer of `param` except the new chain's first op to `last`."""
    chain_head = first_new.node
    for consumer, i in list(param.uses):
        if consumer is not chain_head:
            consumer.set_input(i, last)


def _per_channel(values: Sequence[float], c: int, axis: int, rank: int, what: str, name: str) -> np.ndarray:
    if len(values) not in (1, c):
        raise OptionError(f"--{what}-values: input '{name}' has {c} channels but {len(values)} values were given")
    shape = [1] * rank
    shape[axis] = len(values)
    return np.asarray(values, np.float32).reshape(shape)


def apply_layout(model: Model, name: str | None, source: str, target: str) -> None:
    """Make input `name` accept `source` layout while the model computes in `target` (a Transpose first)."""
    param = find_input(model, name, 0, "--layout")
    if sorted(source) != sorted(target) or len(set(source)) != len(source):
        raise OptionError(f"--layout: '{source}->{target}' does not permute the same dimension letters")
    shape = param.node.attrs["shape"]
    if shape.rank_is_static and shape.rank != len(target):
        raise OptionError(f"--layout: input '{param.name}' has rank {shape.rank} but layout '{target}' has {len(target)}")
    if source == target:
        return
    perm = [source.index(ch) for ch in target]  # model dim i comes from user dim perm[i]
    if shape.rank_is_static:
        dims = list(shape.dims)
        param.node.attrs["shape"] = PartialShape([dims[target.index(ch)] for ch in source])
        param.node.infer()
    tr = make("Transpose", [param, constant(np.array(perm, np.int64))], name=f"{param.name}/layout")
    _insert_after(param, tr.output(0), tr.output(0))
    reinfer(model)


def apply_normalization(model: Model, prep: InputPrep) -> None:
    """Insert channel reversal, mean subtraction and scale division after input `prep.name`."""
    param = find_input(model, prep.name, 0, "--mean-values/--scale-values")
    shape = param.shape
    if not shape.rank_is_static:
        raise OptionError(f"input '{param.name}' has a dynamic rank; give --input-shape before mean/scale/reverse")
    rank = shape.rank
    axis = channel_axis(prep.layout, rank)
    cdim = shape[axis]
    if not cdim.is_static:
        raise OptionError(f"input '{param.name}': the channel dimension (axis {axis}) is dynamic")
    c = cdim.get_length()
    if prep.reverse_channels and c != 3:
        raise OptionError(f"--reverse-input-channels: input '{param.name}' has {c} channels, not 3")
    order = np.arange(c)[::-1] if prep.reverse_channels else np.arange(c)
    x = param
    first: Output | None = None
    if prep.mean is not None:
        mean = _per_channel(prep.mean, c, axis, rank, "mean", param.name)
        mean = np.take(mean, order, axis=axis) if mean.shape[axis] == c else mean
        x = make("Add", [x, constant(-mean)], name=f"{param.name}/mean").output(0)
        first = first or x
    if prep.scale is not None:
        scale = _per_channel(prep.scale, c, axis, rank, "scale", param.name)
        if np.any(scale == 0):
            raise OptionError(f"--scale-values: input '{param.name}': a scale of 0")
        scale = np.take(scale, order, axis=axis) if scale.shape[axis] == c else scale
        x = make("Multiply", [x, constant((1.0 / scale).astype(np.float32))], name=f"{param.name}/scale").output(0)
        first = first or x
    if prep.reverse_channels:
        x = make("Gather", [x, constant(order.astype(np.int64)), constant(np.int64(axis))], name=f"{param.name}/reverse_channels",
                 batch_dims=0).output(0)
        first = first or x
    if first is not None:
        _insert_after(param, first, x)
