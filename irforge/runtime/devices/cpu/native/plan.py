"""NativePlan (shared by the runners of a compiled model: primitives, packed weights, the memory plan) and
NativeRunner (one per infer request: its activation blocks, scratchpad, oneDNN memory objects and the prebuilt
argument arrays of every call, so that a run is one `dnnl_primitive_execute` per call and nothing else).

Threads: the primitives run on GNU OpenMP (the library's runtime). Its thread count is per OS thread, so a runner
sets it in the thread that runs, before each run, when it differs."""
from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import InferenceError
from irforge.runtime.device import PerfCount
from irforge.runtime.devices.cpu.native import dnnl
from irforge.runtime.devices.cpu.native.build import Builder, StaleCache, _aligned, build, plan_memory
from irforge.runtime.devices.cpu.native.values import Call, Value

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.native.cache import PackedCache
    from irforge.runtime.devices.cpu.specialize import Specialized


class _OpenMP:
    """The OpenMP runtime libdnnl runs on (torch's copy where torch was loaded first: one runtime either way)."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL("libgomp.so.1")
        except OSError as e:
            raise dnnl.DnnlUnavailable(f"GNU OpenMP (libgomp.so.1), which libdnnl runs on, did not load: {e}") from e
        self.get = lib.omp_get_max_threads
        self.get.restype = ctypes.c_int
        self.set = lib.omp_set_num_threads
        self.set.argtypes = [ctypes.c_int]


@lru_cache(maxsize=1)
def openmp() -> _OpenMP:
    return _OpenMP()


def build_plan(spec: "Specialized", threads: int, cache: "PackedCache | None" = None) -> "NativePlan":
    """Build under the thread count the plan runs with (oneDNN kernels size their work split by it when created),
    with the packed weights of `cache` when it holds this plan's (else they are packed and written there)."""
    omp = openmp()
    previous = omp.get()
    omp.set(threads)
    try:
        cached = cache.load() if cache is not None else None
        with dnnl.created_in_background(lambda: omp.set(threads)):  # JIT code generation beside the lowering
            try:
                b = build(spec, cached)
            except StaleCache:
                cached = None
                b = build(spec)
        if cache is not None and cached is None:
            try:
                cache.save(b.packed)
            except OSError as e:
                raise CacheWriteError(f"CACHE_DIR '{cache.directory}': cannot write {cache.path.name}: "
                                      f"{e.strerror or e}") from e
        return NativePlan(b, threads)
    finally:
        omp.set(previous)


class CacheWriteError(OSError):
    pass


class NativePlan:
    native = True

    def __init__(self, b: Builder, threads: int) -> None:
        self.calls: list[Call] = b.calls
        self.buffers = b.buffers
        self.blocks, self.where = plan_memory(b.buffers)
        self.scratch_bytes = max([c.prim.scratchpad_bytes for c in b.calls if c.prim is not None], default=0)
        self.outputs = [(tuple(o.shape.to_shape()), o.element_type.dtype) for o in b.spec.model.outputs]
        self.inputs = [np.dtype(p.element_type.dtype) for p in b.spec.model.inputs]
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
        self._omp = openmp()
        stream = ctypes.c_void_p()
        dnnl.check(lib.stream_create(ctypes.byref(stream), lib.engine, dnnl.STREAM_DEFAULT_FLAGS), "stream")
        self._stream = stream.value
        self._blocks = [_aligned(n) for n in plan.blocks]
        self._scratch = _aligned(max(plan.scratch_bytes, 1))
        self._memories: dict[int, dnnl.Memory] = {}
        self._keep: list[object] = []
        self._bindings: list[tuple[str, int, int, dnnl.Memory]] = []  # (kind, index, offset, memory) set per run
        self._calls: list[tuple[int, int, object, object]] = []  # (primitive, nargs, args, NumPy step)
        self._run_arrays: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])  # this run's inputs, outputs
        for c in plan.calls:
            if c.prim is None:
                self._calls.append((0, 0, None, self._numpy_step(c)))
                continue
            args = [(a, self._memory(v).handle) for a, v in c.args]
            if c.prim.scratchpad_bytes:
                m = dnnl.Memory(c.prim.scratchpad, self._scratch.ctypes.data)  # type: ignore[arg-type]
                self._keep.append(m)
                args.append((dnnl.ARG_SCRATCHPAD, m.handle))
            arr = (dnnl.ExecArg * len(args))(*args)
            self._keep.append(arr)
            self._calls.append((c.prim.handle, len(args), ctypes.cast(arr, ctypes.c_void_p), None))
        self._inputs = [[(off, m) for kind, k, off, m in self._bindings if kind == "input" and k == i]
                        for i in range(len(plan.inputs))]
        self._outputs = [[(off, m) for kind, k, off, m in self._bindings if kind == "output" and k == i]
                         for i in range(len(plan.outputs))]
        self.counts: list[PerfCount] = []

    def __del__(self) -> None:
        if getattr(self, "_stream", None):
            self._lib.cdll.dnnl_stream_destroy(ctypes.c_void_p(self._stream))
            self._stream = None

    def _array(self, v: Value) -> "Callable[[], np.ndarray]":
        """A getter of `v` as a NumPy array over the plan's memory (the run's own array for inputs/outputs)."""
        strides = tuple(s * v.dtype.itemsize for s in v.strides)
        buf = v.buf
        if buf.kind in ("input", "output"):
            k, kind = buf.index, 0 if buf.kind == "input" else 1
            runs = self._run_arrays
            return lambda: np.ndarray(v.shape, v.dtype, buffer=runs[kind][k], offset=v.offset, strides=strides)
        if buf.kind == "const":
            base = buf.array
        else:
            base = self._blocks[self.plan.where[id(buf)]]
        arr = np.ndarray(v.shape, v.dtype, buffer=base, offset=v.offset, strides=strides)  # type: ignore[arg-type]
        return lambda: arr

    def _numpy_step(self, c: Call) -> "Callable[[], None]":
        fn = c.fn
        assert fn is not None
        getters = [self._array(v) for _, v in c.args]

        def step() -> None:
            fn(*[g() for g in getters])
        return step

    def _memory(self, v: Value) -> dnnl.Memory:
        m = self._memories.get(id(v))
        if m is not None:
            return m
        buf = v.buf
        if buf.kind == "const":
            assert buf.array is not None
            m = dnnl.Memory(v.md, buf.array.ctypes.data + v.offset)
        elif buf.kind == "slot":
            m = dnnl.Memory(v.md, self._blocks[self.plan.where[id(buf)]].ctypes.data + v.offset)
        else:
            m = dnnl.Memory(v.md, 0)
            self._bindings.append((buf.kind, buf.index, v.offset, m))
        self._memories[id(v)] = m
        return m

    def run(self, inputs: Sequence[np.ndarray], profile: bool = False) -> list[np.ndarray]:
        plan = self.plan
        if self._omp.get() != plan.threads:
            self._omp.set(plan.threads)
        arrays = [np.ascontiguousarray(a, t) for a, t in zip(inputs, plan.inputs)]
        for arr, mems in zip(arrays, self._inputs):
            base = arr.ctypes.data
            for off, m in mems:
                m.set(base + off)
        outs = [np.empty(shape, dtype) for shape, dtype in plan.outputs]
        for arr, mems in zip(outs, self._outputs):
            base = arr.ctypes.data
            for off, m in mems:
                m.set(base + off)
        self._run_arrays[0][:] = arrays
        self._run_arrays[1][:] = outs
        execute, stream = self._execute, self._stream
        if profile:
            self.counts = []
            for (prim, n, args, py), c in zip(self._calls, plan.calls):
                t = time.perf_counter()
                if py is None:
                    self._check(execute(prim, stream, n, args), c)
                else:
                    self._numpy(py, c)
                self.counts.append(PerfCount(c.name, c.type, c.exec_type, time.perf_counter() - t))
        else:
            for i, (prim, n, args, py) in enumerate(self._calls):
                if py is None:
                    status = execute(prim, stream, n, args)
                    if status:
                        self._check(status, plan.calls[i])
                else:
                    self._numpy(py, plan.calls[i])
        self._run_arrays[0][:] = []
        self._run_arrays[1][:] = []
        return outs

    @staticmethod
    def _numpy(step: "Callable[[], None]", c: Call) -> None:
        try:
            step()
        except Exception as e:  # noqa: BLE001 - a bad index or value names the step
            raise InferenceError(f"node '{c.name}' ({c.type}, {c.exec_type}) failed: {e}") from e

    @staticmethod
    def _check(status: int, c: Call) -> None:
        if status:
            raise InferenceError(f"node '{c.name}' ({c.type}, {c.exec_type}) failed in oneDNN (status {status})")
