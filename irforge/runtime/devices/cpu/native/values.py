"""What the native executor's plan is made of at build time: buffers (with the steps that use them, for the memory
plan), values (a strided view of a buffer: shape, strides, byte offset) and calls (a oneDNN primitive with its
arguments).

Every activation has a plain strided layout: channels-last (NHWC, NWC, NDHWC) where a convolution produced it or
reads it, the IR's own (row-major) order elsewhere, and any strides for views (a Slice, a Split output, a
Transpose read by a reorder). Views cost nothing: a Reshape of a row-major value, a Squeeze or a Slice is the same
buffer with another descriptor. Weights alone take oneDNN's blocked formats (chosen by the primitive, reordered
once at build time)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from irforge.runtime.devices.cpu.native.dnnl import DATA_TYPES, MemoryDesc, Primitive


class Unsupported(Exception):
    """The plan holds something the native executor does not run (the CPU device then uses its torch
    executor); the message names the node."""


@dataclass(eq=False)
class Buffer:
    nbytes: int
    kind: str  # "slot" (planned), "input" / "output" (the run's arrays), "const" (owned by the plan)
    index: int = -1  # the input or output number
    array: np.ndarray | None = None  # a const buffer's data
    first: int = -1  # the first and last call using the buffer (slots get memory for that range)
    last: int = -1


def row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(strides))


def channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of [N, C, *spatial] stored as [N, *spatial, C]."""
    if len(shape) < 3:
        return row_major(shape)
    order = [0] + list(range(2, len(shape))) + [1]
    stored = row_major(tuple(shape[i] for i in order))
    strides = [0] * len(shape)
    for pos, axis in enumerate(order):
        strides[axis] = stored[pos]
    return tuple(strides)


@dataclass(eq=False)
class Value:
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements
    dtype: np.dtype
    buf: Buffer
    offset: int = 0  # bytes into the buffer
    _md: MemoryDesc | None = field(default=None, repr=False)
    packed: bool = False  # a weight in a primitive's blocked format (`_md` says the layout, not shape/strides)

    @property
    def md(self) -> MemoryDesc:
        """The oneDNN descriptor (Unsupported for element types oneDNN has none of: such values are read only by
        NumPy steps)."""
        if self._md is None:
            if self.dtype not in DATA_TYPES:
                raise Unsupported(f"a {self.dtype} value reaches a oneDNN primitive")
            # size-1 axes' strides do not matter to the data but do to oneDNN's layout matching (a channels-last
            # view whose batch stride is not H*W*C gets reference kernels): dense values say their layout exactly
            exact = self.strides in (row_major(self.shape), channels_last(self.shape))
            strides = self.strides if exact else row_major(self.shape) if self.is_row_major else \
                channels_last(self.shape) if self.is_channels_last else self.strides
            self._md = MemoryDesc.strided(self.shape, DATA_TYPES[self.dtype], strides)
        return self._md

    @property
    def span(self) -> int:
        """Bytes from the value's first element to past its last one (its strides may skip some)."""
        if any(d == 0 for d in self.shape):
            return 0
        return (sum((d - 1) * abs(s) for d, s in zip(self.shape, self.strides)) + 1) * self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def same_order(self, strides: tuple[int, ...]) -> bool:
        """Whether this value is dense with exactly these strides (size-1 axes' strides do not matter)."""
        return all(d == 1 or a == b for d, a, b in zip(self.shape, self.strides, strides))

    @property
    def is_row_major(self) -> bool:
        return self.same_order(row_major(self.shape))

    @property
    def is_channels_last(self) -> bool:
        return self.same_order(channels_last(self.shape))

    def view(self, shape: tuple[int, ...], strides: tuple[int, ...] | None = None, offset: int = 0) -> "Value":
        return Value(tuple(shape), strides if strides is not None else row_major(tuple(shape)), self.dtype,
                     self.buf, self.offset + offset)


def reshaped_strides(shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...]
                     ) -> tuple[int, ...] | None:
    """Strides that read a value of `shape`/`strides` in row-major order as `new_shape` without moving it (NumPy's
    no-copy reshape: each run of old axes merged or split must be contiguous within itself); None when a copy is
    needed. A transposed [B, HW, C] -> [B, C, HW] read as [B, C, H, W] is channels-last, the layout convolutions
    take, and the way back is row-major: SegFormer's stages hand values over without a reorder."""
    if 0 in shape or 0 in new_shape:
        return None
    old = [(d, s) for d, s in zip(shape, strides) if d != 1]
    od, ost = [d for d, _ in old], [s for _, s in old]
    nd = list(new_shape)
    out = [1] * len(nd)
    oi = ni = 0
    while oi < len(od) and ni < len(nd):
        oj, nj = oi + 1, ni + 1
        op, npr = od[oi], nd[ni]
        while op != npr:
            if npr < op:
                if nj >= len(nd):
                    return None
                npr *= nd[nj]
                nj += 1
            else:
                if oj >= len(od):
                    return None
                op *= od[oj]
                oj += 1
        if any(ost[k] != od[k + 1] * ost[k + 1] for k in range(oi, oj - 1)):
            return None  # the merged old axes are not contiguous among themselves
        out[nj - 1] = ost[oj - 1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * nd[k]
        oi, ni = oj, nj
    if oi != len(od) or any(d != 1 for d in nd[ni:]):
        return None
    return tuple(out)


@dataclass
class Call:
    prim: Primitive | None  # None: a NumPy step (`fn`)
    args: list[tuple[int, Value]]  # (DNNL_ARG_*, value); a NumPy step: (0, input) ... then (1, output) ...
    name: str
    type: str
    exec_type: str
    fn: Callable[..., None] | None = None  # a NumPy step: fn(*inputs, *outputs) writes its outputs' arrays
