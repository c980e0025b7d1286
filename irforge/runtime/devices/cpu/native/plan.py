"""NativePlan (shared by the runners of a compiled model: primitives, packed weights, the memory plan) and
NativeRunner (one per infer request: its activation blocks, scratchpad, oneDNN memory objects and the prebuilt
argument arrays of every call, so that a run is one `dnnl_primitive_execute` per call and nothing else).

Threads: the primitives run on GNU OpenMP (the library's runtime). Its thread count is per OS thread, so a runner
sets it in the thread that runs, before each run, when it differs."""
from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import InferenceError
from irforge.runtime.device import PerfCount
from irforge.runtime.devices.cpu.native import dnnl
from irforge.runtime.devices.cpu.native.build import Builder, _aligned, build, plan_memory
from irforge.runtime.devices.cpu.native.values import Call, Value

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.specialize import Specialized

_gomp = ctypes.CDLL("libgomp.so.1")  # the OpenMP runtime libdnnl runs on (torch's copy where torch loaded first)
_gomp.omp_get_max_threads.restype = ctypes.c_int
_gomp.omp_set_num_threads.argtypes = [ctypes.c_int]


def build_plan(spec: "Specialized", threads: int) -> "NativePlan":
    """Build under the thread count the plan runs with: oneDNN kernels size their work split by it when created."""
    previous = _gomp.omp_get_max_threads()
    _gomp.omp_set_num_threads(threads)
    try:
        return NativePlan(build(spec), threads)
    finally:
        _gomp.omp_set_num_threads(previous)


class NativePlan:
    native = True

    def __init__(self, b: Builder, threads: int) -> None:
        self.calls: list[Call] = b.calls
        self.buffers = b.buffers
        self.blocks, self.where = plan_memory(b.buffers)
        self.scratch_bytes = max([c.prim.scratchpad_bytes for c in b.calls], default=0)
        self.outputs = [(tuple(o.shape.to_shape()), o.element_type.dtype) for o in b.spec.model.outputs]
        self.n_inputs = len(b.spec.model.inputs)
        self.threads = threads

    @property
    def activation_bytes(self) -> int:
        """Memory one runner holds for activations and scratchpad."""
        return sum(self.blocks) + self.scratch_bytes

    def describe(self) -> list[tuple[str, str, str]]:
        return [(c.name, c.type, c.exec_type) for c in self.calls]


class NativeRunner:
    """Runs one NativePlan; not shared between threads."""

    def __init__(self, plan: NativePlan) -> None:
        lib = dnnl.library()
        self.plan = plan
        self._lib = lib
        self._execute = lib.primitive_execute
        stream = ctypes.c_void_p()
        dnnl.check(lib.stream_create(ctypes.byref(stream), lib.engine, dnnl.STREAM_DEFAULT_FLAGS), "stream")
        self._stream = stream.value
        self._blocks = [_aligned(n) for n in plan.blocks]
        self._scratch = _aligned(max(plan.scratch_bytes, 1))
        self._memories: dict[int, dnnl.Memory] = {}
        self._keep: list[object] = []
        self._bindings: list[tuple[str, int, int, dnnl.Memory]] = []  # (kind, index, offset, memory) set per run
        self._calls: list[tuple[int, int, object]] = []
        for c in plan.calls:
            args = [(a, self._memory(v).handle) for a, v in c.args]
            if c.prim.scratchpad_bytes:
                m = dnnl.Memory(c.prim.scratchpad, self._scratch.ctypes.data)  # type: ignore[arg-type]
                self._keep.append(m)
                args.append((dnnl.ARG_SCRATCHPAD, m.handle))
            arr = (dnnl.ExecArg * len(args))(*args)
            self._keep.append(arr)
            self._calls.append((c.prim.handle, len(args), ctypes.cast(arr, ctypes.c_void_p)))
        self._inputs = [[(off, m) for kind, k, off, m in self._bindings if kind == "input" and k == i]
                        for i in range(plan.n_inputs)]
        self._outputs = [[(off, m) for kind, k, off, m in self._bindings if kind == "output" and k == i]
                         for i in range(len(plan.outputs))]
        self.counts: list[PerfCount] = []

    def __del__(self) -> None:
        if getattr(self, "_stream", None):
            self._lib.cdll.dnnl_stream_destroy(ctypes.c_void_p(self._stream))
            self._stream = None

    def _memory(self, v: Value) -> dnnl.Memory:
        m = self._memories.get(id(v))
        if m is not None:
            return m
        buf = v.buf
        if buf.kind == "const":
            assert buf.array is not None
            m = dnnl.Memory(v.md, buf.array.ctypes.data + v.offset)
        elif buf.kind == "slot":
            blk, off = self.plan.where[id(buf)]
            m = dnnl.Memory(v.md, self._blocks[blk].ctypes.data + off + v.offset)
        else:
            m = dnnl.Memory(v.md, 0)
            self._bindings.append((buf.kind, buf.index, v.offset, m))
        self._memories[id(v)] = m
        return m

    def run(self, inputs: Sequence[np.ndarray], profile: bool = False) -> list[np.ndarray]:
        plan = self.plan
        if _gomp.omp_get_max_threads() != plan.threads:
            _gomp.omp_set_num_threads(plan.threads)
        arrays = [np.ascontiguousarray(a, np.float32) for a in inputs]
        for arr, mems in zip(arrays, self._inputs):
            base = arr.ctypes.data
            for off, m in mems:
                m.set(base + off)
        outs = [np.empty(shape, dtype) for shape, dtype in plan.outputs]
        for arr, mems in zip(outs, self._outputs):
            base = arr.ctypes.data
            for off, m in mems:
                m.set(base + off)
        execute, stream = self._execute, self._stream
        if profile:
            self.counts = []
            for (prim, n, args), c in zip(self._calls, plan.calls):
                t = time.perf_counter()
                self._check(execute(prim, stream, n, args), c)
                self.counts.append(PerfCount(c.name, c.type, c.exec_type, time.perf_counter() - t))
        else:
            for i, (prim, n, args) in enumerate(self._calls):
                status = execute(prim, stream, n, args)
                if status:
                    self._check(status, plan.calls[i])
        return outs

    @staticmethod
    def _check(status: int, c: Call) -> None:
        if status:
            raise InferenceError(f"node '{c.name}' ({c.type}, {c.exec_type}) failed in oneDNN (status {status})")
