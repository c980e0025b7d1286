"""Builds a NativePlan from a specialized graph: each op (with the post-ops it absorbs) becomes oneDNN primitives
over strided values (values.py), weights are reordered once into the primitives' formats, and the activation
buffers get a static memory plan (buffers whose lifetimes do not overlap share memory).

The builder raises Unsupported (naming the node) when the graph holds an op, an element type or an attribute the
native lowerings (ops.py) do not cover; the CPU device then builds its torch plan instead."""
from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

from irforge.ir.graph import Node, Output
from irforge.ir.mapped import release
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.native import dnnl
from irforge.runtime.devices.cpu.native.dnnl import MemoryDesc, Primitive
from irforge.runtime.devices.cpu.native.values import Buffer, Call, Unsupported, Value, channels_last, row_major
from irforge.runtime.devices.cpu.specialize import Specialized

Lowering = Callable[["Builder", Node], None]
Matcher = Callable[["Builder", Node], Any]
LOWERINGS: dict[str, Lowering] = {}  # op type -> lowering (ops.py registers them)
REFERENCE = "*reference"  # LOWERINGS' key of the reference-kernel step (small ops without a native lowering)
MATCHERS: dict[str, Matcher] = {}  # op type -> the fused chain it absorbs (an object with `.nodes`)
NATIVE_TYPES = ("f32",)  # element types of the values the native executor computes with
VIEWS = ("Reshape", "Squeeze", "Unsqueeze", "Slice", "Split", "VariadicSplit")  # no call: empty values are fine
# NumPy steps running the op's reference kernel (ops.reference_step): ops oneDNN has no primitive for (integer
# Convert) or whose oneDNN form drops NaN where REF keeps it (Maximum/Minimum, ReduceMax/ReduceMin)
REFERENCE_OPS = ("Convert", "Maximum", "Minimum", "ReduceMax", "ReduceMin")
# every op type lowered to NumPy steps (Builder.numpy_call): gathers (ops.gather, ops.gather_elements) and the above
NUMPY_OPS = ("Gather", "GatherElements") + REFERENCE_OPS


def matches(*types: str) -> Callable[[Matcher], Matcher]:
    """Register the chain matcher of ops whose lowering absorbs the nodes after them (matched for the whole graph
    before anything is built, so each step is built where its last node was: every input is ready by then)."""
    def register(fn: Matcher) -> Matcher:
        for t in types:
            MATCHERS[t] = fn
        return fn
    return register


def lowers(*types: str) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for t in types:
            assert t not in LOWERINGS, t
            LOWERINGS[t] = fn
        return fn
    return register


class StaleCache(Exception):
    """A cache file's packed weights do not fit this plan (the caller rebuilds without it)."""


class Builder:
    def __init__(self, spec: Specialized, g: GraphView, cached: list[np.ndarray] | None = None) -> None:
        self.spec = spec
        self.cached = cached  # packed weights from a CACHE_DIR file, in packing order (cache.py)
        self.packed: list[np.ndarray] = []  # every packed weight, in order (what a cache file holds)
        self.g = g
        self.values: dict[int, Value] = {}  # id(Output) -> its runtime value
        self.calls: list[Call] = []
        self.buffers: list[Buffer] = []
        self.node: Node | None = None  # the node being lowered (for messages)
        self.matched: dict[int, Any] = {}  # root uid -> its matched chain (MATCHERS)
        self.reference: set[int] = set()  # uids of small ops run by their reference kernel (precheck)

    # ------------------------------------------------------------------ values
    def value(self, out: Output) -> Value:
        """The runtime value of `out`; a plan-time value becomes a constant buffer."""
        v = self.values.get(id(out))
        if v is not None:
            return v
        data = self.g.const(out)
        if data is not None:
            return self.constant(np.asarray(data, np.float32) if data.dtype.kind == "f" else data)
        raise Unsupported(f"{self._where()}: value '{out.name}' has no native producer")

    def lower(self, node: Node) -> None:
        outer = self.node
        self.node = node
        chain = self.matched.get(node.uid)
        if node.uid in self.reference:
            LOWERINGS[REFERENCE](self, node)
        else:
            try:
                LOWERINGS[node.type](self, node)
            except Unsupported:
                if chain is not None or not _small(node, self.g):
                    raise
                LOWERINGS[REFERENCE](self, node)  # a form the lowering does not take, small: its reference kernel
        self.node = outer
        # its weights are packed now: their mapped .bin pages leave the resident set at once, so the peak holds
        # one weight twice, not the model (a 2 GB BERT: 1.92x its weights before)
        for n in [node] + list(getattr(chain, "nodes", [])):
            release(self.g.const(src) for src in n.inputs)

    def constant(self, data: np.ndarray) -> Value:
        arr = np.ascontiguousarray(data)
        if arr.dtype not in dnnl.DATA_TYPES:
            raise Unsupported(f"{self._where()}: constant of type {arr.dtype}")
        buf = Buffer(arr.nbytes, "const", array=arr)
        self.buffers.append(buf)
        return Value(tuple(arr.shape), row_major(tuple(arr.shape)), arr.dtype, buf)

    def new(self, shape: tuple[int, ...], strides: tuple[int, ...] | None = None,
            dtype: np.dtype = np.dtype(np.float32)) -> Value:
        """A fresh activation (a planned buffer) of `shape`, dense with `strides` (row-major by default)."""
        shape = tuple(int(d) for d in shape)
        nbytes = max(1, int(np.prod(shape, dtype=np.int64))) * dtype.itemsize
        buf = Buffer(nbytes, "slot")
        self.buffers.append(buf)
        return Value(shape, strides if strides is not None else row_major(shape), dtype, buf)

    def like(self, v: Value, shape: tuple[int, ...] | None = None) -> Value:
        """A fresh activation in `v`'s storage order (channels-last or row-major; its shape by default)."""
        shape = v.shape if shape is None else shape
        if v.is_channels_last and not v.is_row_major or channel_minor(v):
            return self.new(shape, channels_last(shape))
        return self.new(shape)

    def define(self, out: Output, v: Value) -> None:
        self.values[id(out)] = v

    # ------------------------------------------------------------------ calls
    def call(self, prim: Primitive, args: list[tuple[int, Value]], exec_type: str, node: Node | None = None,
             allow_ref: bool = False) -> None:
        """Append a call. oneDNN's reference kernels are refused (Unsupported: the torch plan runs the graph
        faster) unless `allow_ref` (small ops where they are fine)."""
        node = node or self.node
        assert node is not None
        if prim.impl.startswith("ref") and not allow_ref:
            raise Unsupported(f"{self._where(node)}: oneDNN has only its reference kernel for it ({prim.impl})")
        self._append(Call(prim, args, node.name, node.type, f"{exec_type}:{prim.impl}"))
        for arg, v in args:
            span = v.md.nbytes if v.packed else v.span  # (v.md: Unsupported for a value oneDNN cannot read)
            if v.offset + span > v.buf.nbytes:  # a builder bug: oneDNN would write past the buffer
                raise AssertionError(f"{self._where(node)}: argument {arg} of {exec_type} spans "
                                     f"{v.offset} + {span} bytes of a {v.buf.nbytes}-byte buffer "
                                     f"(shape {v.shape}, strides {v.strides})")

    def numpy_call(self, fn: Callable[..., None], ins: list[Value], outs: list[Value], exec_type: str) -> None:
        """Append a NumPy step: fn(*input arrays, *output arrays) (views of the plan's buffers) writes the outputs;
        for the ops oneDNN has no primitive for (gathers, type conversions), cheap next to the model."""
        node = self.node
        assert node is not None
        self._append(Call(None, [(0, v) for v in ins] + [(1, v) for v in outs], node.name, node.type,
                          f"{exec_type}:numpy", fn))

    def _append(self, c: Call) -> None:
        """Add a call; the buffers it uses live from their first call to their last (the memory plan's input)."""
        index = len(self.calls)
        for _, v in c.args:
            if v.buf.first < 0:
                v.buf.first = index
            v.buf.last = index
        self.calls.append(c)

    def reorder_to(self, v: Value, strides: tuple[int, ...]) -> Value:
        """`v` stored densely with `strides` (itself when it already is)."""
        if v.same_order(strides):
            return v
        dst = self.new(v.shape, strides, v.dtype)
        self.call(dnnl.reorder(v.md, dst.md), [(dnnl.ARG_FROM, v), (dnnl.ARG_TO, dst)], "reorder")
        return dst

    def pack(self, data: np.ndarray, packed: MemoryDesc) -> np.ndarray:
        """`data` (any strides) reordered now into the layout `packed` (a primitive's weights format): a new array
        the plan owns."""
        if self.cached is not None:
            k = len(self.packed)
            if k >= len(self.cached) or self.cached[k].nbytes != packed.nbytes:
                raise StaleCache(f"{self._where()}: packed weights {k} do not match")
            self.packed.append(self.cached[k])
            return self.cached[k]
        if data.dtype != np.float32:
            data = data.astype(np.float32)
        user = MemoryDesc.strided(data.shape, dnnl.F32, [s // data.itemsize for s in data.strides])
        out = _aligned(packed.nbytes)
        prim = dnnl.reorder(user, packed)
        lib = dnnl.library()
        mems = [dnnl.Memory(user, data.ctypes.data), dnnl.Memory(packed, out.ctypes.data)]
        pairs = [(dnnl.ARG_FROM, mems[0].handle), (dnnl.ARG_TO, mems[1].handle)]
        scratch = None
        if prim.scratchpad is not None and prim.scratchpad_bytes:
            scratch = _aligned(prim.scratchpad_bytes)
            mems.append(dnnl.Memory(prim.scratchpad, scratch.ctypes.data))
            pairs.append((dnnl.ARG_SCRATCHPAD, mems[2].handle))
        args = (dnnl.ExecArg * len(pairs))(*pairs)
        dnnl.check(lib.primitive_execute(prim.handle, lib.stream, len(pairs), ctypes.cast(args, ctypes.c_void_p)),
                   f"{self._where()}: packing weights")
        lib.stream_wait(lib.stream)
        self.packed.append(out)
        return out

    def packed_const(self, arr: np.ndarray, md: MemoryDesc, shape: tuple[int, ...]) -> Value:
        """A constant already in a primitive's format (`md`)."""
        buf = Buffer(arr.nbytes, "const", array=arr)
        self.buffers.append(buf)
        v = Value(shape, row_major(shape), np.dtype(np.float32), buf, packed=True)
        v._md = md
        return v

    def _where(self, node: Node | None = None) -> str:
        node = node or self.node
        return f"node '{node.name}' ({node.type})" if node is not None else "the plan"

    def unsupported(self, why: str) -> Unsupported:
        return Unsupported(f"{self._where()}: {why}")


def channel_minor(v: Value) -> bool:
    """A view of a channels-last value (a Split part, a channel Slice): channels innermost, not dense."""
    return len(v.shape) >= 3 and v.shape[1] > 1 and v.strides[1] == 1 and not v.is_row_major


def _aligned(nbytes: int, align: int = 64) -> np.ndarray:
    raw = np.empty(nbytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]


def native_types() -> list[str]:
    """The op types the native executor lowers."""
    from irforge.runtime.devices.cpu.native import ops  # noqa: F401 - registers the lowerings

    return sorted(t for t in LOWERINGS if t != REFERENCE)


SMALL_REFERENCE = 1 << 18  # elements: an op without a native lowering this small runs its reference kernel
_NO_REFERENCE = {"ReadValue", "Assign", "RandomUniform", "Parameter", "Result"}


def _small(node: Node, g: GraphView) -> bool:
    """Every value the node reads at run time and writes is static, small and a NumPy type (mask, position and
    shape arithmetic of transformer exports: Equal, CumSum, Expand, integer Multiply, a Pad of the embeddings)."""
    if node.bodies or node.type in _NO_REFERENCE:
        return False
    for o in list(node.outputs) + g.runtime_inputs(node):
        if not o.shape.is_static or o.element_type.dtype is None or \
                int(np.prod(o.shape.to_shape(), dtype=np.int64)) > SMALL_REFERENCE:
            return False
    return True


def precheck(spec: Specialized, g: GraphView) -> set[int]:
    """Raise Unsupported, cheaply and before anything is built, for ops or types no native lowering takes; the
    uids of the small ops that run their reference kernel as NumPy steps instead (`_small`)."""
    from irforge.runtime.devices.cpu.native import ops  # noqa: F401 - registers the lowerings

    reference: set[int] = set()
    for node in spec.ops:
        problem = None if node.type in LOWERINGS else "no native lowering"
        typed = node.type not in VIEWS and node.type not in NUMPY_OPS  # values oneDNN reads or writes
        for o in list(node.outputs) + g.runtime_inputs(node):
            if problem:
                break
            if not o.shape.is_static:
                problem = "a dynamic value"
            elif 0 in o.shape.to_shape() and node.type not in VIEWS:
                problem = "an empty value"
            elif typed and o.element_type.name not in NATIVE_TYPES and (o.node is not node or g.uses(o) or
                                                                       g.is_output(o)):
                problem = f"{o.element_type.name} value"
        if problem is None:
            continue
        if _small(node, g) and not (node.type in VIEWS and problem == "an empty value"):
            reference.add(node.uid)
            continue
        raise Unsupported(f"node '{node.name}' ({node.type}): {problem}")
    for p in spec.model.inputs:
        if p.element_type.dtype is None or p.element_type.dtype.kind not in "fiub":
            raise Unsupported(f"input '{p.name}': {p.element_type.name}")
    for o in spec.model.outputs:
        if o.element_type.name not in NATIVE_TYPES:
            raise Unsupported(f"output '{o.name}': {o.element_type.name}")
    return reference


def build(spec: Specialized, cached: list[np.ndarray] | None = None) -> Builder:
    """Lower every op; the builder then holds the calls, values and buffers (outputs bound, see `bind_outputs`).
    `cached`: packed weights to use instead of packing (StaleCache when they do not fit)."""
    g = GraphView(spec)
    b = Builder(spec, g, cached)
    b.reference = precheck(spec, g)
    for k, p in enumerate(spec.model.inputs):
        shape = tuple(p.shape.to_shape())
        dtype = np.dtype(p.element_type.dtype)
        buf = Buffer(max(1, int(np.prod(shape, dtype=np.int64))) * dtype.itemsize, "input", index=k)
        b.buffers.append(buf)
        b.define(p, Value(shape, row_major(shape), dtype, buf))
    topo = {n.uid: i for i, n in enumerate(spec.ops)}
    order = []
    for node in spec.ops:  # match: each root with the chain it absorbs
        if node.uid in b.g.claimed:
            continue
        b.g.claimed.add(node.uid)
        last = topo[node.uid]
        if node.type in MATCHERS and node.uid not in b.reference:
            b.node = node
            chain = MATCHERS[node.type](b, node)
            if chain is not None:
                b.matched[node.uid] = chain
                for n in chain.nodes:
                    b.g.claimed.add(n.uid)
                    last = max(last, topo[n.uid])
        order.append((last, topo[node.uid], node))
    for _, _, node in sorted(order, key=lambda e: (e[0], e[1])):
        b.lower(node)
    b.node = None
    if cached is not None and len(b.packed) != len(cached):
        raise StaleCache(f"the cache holds {len(cached)} packed weights, the plan {len(b.packed)}")
    bind_outputs(b)
    # the plan holds every weight in its kernel's form: the mapped .bin pages leave the resident set
    release(spec.known.values())
    return b


def bind_outputs(b: Builder) -> None:
    """Make each model output a row-major buffer of its own (the caller's array at run time), copying where the
    value is a view, shares its buffer with another output or an input, or is a constant."""
    taken: set[int] = set()
    for k, out in enumerate(b.spec.model.outputs):
        v = b.value(out)
        shape = tuple(out.shape.to_shape())
        whole = v.is_row_major and v.offset == 0 and v.buf.kind == "slot" and v.buf.nbytes == v.nbytes and \
            id(v.buf) not in taken and v.shape == shape
        if v.nbytes == 0:  # an empty output: the caller's empty array, nothing to write
            v = b.new(shape)
        elif not whole:
            dst = b.new(shape)
            src = v if v.shape == shape else v.view(shape) if v.is_row_major else None
            if src is None:
                raise Unsupported(f"output '{out.name}': a strided value of another shape")
            b.node = out.node
            b.call(dnnl.reorder(src.md, dst.md), [(dnnl.ARG_FROM, src), (dnnl.ARG_TO, dst)], "copy")
            v = dst
        v.buf.kind, v.buf.index = "output", k
        taken.add(id(v.buf))


def plan_memory(buffers: list[Buffer]) -> tuple[list[int], dict[int, int]]:
    """Blocks (byte sizes) and, per slot buffer (by id), its block: buffers whose [first, last] call ranges do not
    overlap share a block (best fit; a block grows to its largest tenant)."""
    slots = sorted((b for b in buffers if b.kind == "slot" and b.first >= 0), key=lambda b: b.first)
    blocks: list[int] = []
    busy: list[tuple[int, int]] = []  # (last call, block) of tenants
    free: list[int] = []
    where: dict[int, int] = {}
    for buf in slots:
        still = []
        for last, blk in busy:
            if last < buf.first:
                free.append(blk)
            else:
                still.append((last, blk))
        busy = still
        fits = [blk for blk in free if blocks[blk] >= buf.nbytes]
        if fits:
            blk = min(fits, key=lambda i: blocks[i])
        elif free:
            blk = max(free, key=lambda i: blocks[i])
            blocks[blk] = buf.nbytes
        else:
            blocks.append(buf.nbytes)
            blk = len(blocks) - 1
        if blk in free:
            free.remove(blk)
        busy.append((buf.last, blk))
        where[id(buf)] = blk
    return blocks, where
