"""oneDNN's C API through ctypes: the library, the constants the native executor uses, and owning wrappers of its
handles (memory descriptors, primitive descriptors, primitives, memory objects, attributes).

The library is the CPU/GNU-OpenMP build of oneDNN 3.2 that the `onednn-cpu-gomp` wheel installs into the
environment's `lib/` (the same oneDNN torch links statically, but loadable on its own: ~10 ms and ~15 MB, where
`import torch` costs over a second and 200 MB). `IRFORGE_DNNL_LIBRARY` names another libdnnl.so.3 to use. The
constants below are the values of oneDNN 3.2's headers (`oneapi/dnnl/dnnl_types.h`), read off by compiling them.

No build step: every call goes through ctypes with declared argument types. Errors raise `DnnlError` naming the
call and oneDNN's status."""
from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# data types
F16, BF16, F32, S32, S8, U8 = 1, 2, 3, 4, 5, 6
DATA_TYPES = {np.dtype(np.float32): F32, np.dtype(np.int32): S32, np.dtype(np.int8): S8, np.dtype(np.uint8): U8,
              np.dtype(np.float16): F16}
# format tags
FORMAT_ANY = 1
# propagation kinds, algorithms
FORWARD_INFERENCE = 96
CONVOLUTION_DIRECT = 1
ELTWISE = {"relu": 32, "tanh": 33, "elu": 34, "square": 35, "abs": 36, "sqrt": 37, "linear": 38, "soft_relu": 39,
           "hardsigmoid": 40, "logistic": 41, "exp": 42, "gelu_tanh": 43, "swish": 44, "log": 45, "clip": 46,
           "clip_v2": 47, "pow": 48, "gelu_erf": 49, "round": 50, "mish": 51, "hardswish": 52}
POOLING_MAX, POOLING_AVG_INCLUDE_PADDING, POOLING_AVG_EXCLUDE_PADDING = 511, 767, 1023
BINARY = {"add": 131056, "mul": 131057, "max": 131058, "min": 131059, "div": 131060, "sub": 131061}
REDUCTION = {"max": 196594, "min": 196595, "sum": 196596, "mean": 196598, "norm_lp_sum": 196600}
RESAMPLING_NEAREST, RESAMPLING_LINEAR = 196592, 196593
SOFTMAX_ACCURATE = 196608
SCRATCHPAD_MODE_USER = 1
ENGINE_CPU = 1
STREAM_DEFAULT_FLAGS = 1
USE_SCALE, USE_SHIFT = 2, 4
# queries
QUERY_IMPL_INFO_STR = 8
QUERY_WEIGHTS_MD, QUERY_SCRATCHPAD_MD = 131, 136
# execution argument indices
ARG_SRC, ARG_SRC_1, ARG_DST, ARG_WEIGHTS, ARG_BIAS = 1, 2, 17, 33, 41
ARG_SCALE, ARG_SHIFT, ARG_SCRATCHPAD, ARG_MULTIPLE_SRC = 51, 52, 80, 1024
ARG_FROM, ARG_TO = ARG_SRC, ARG_DST


def arg_post_op(index: int) -> int:
    """DNNL_ARG_ATTR_MULTIPLE_POST_OP(index): the base of a binary post-op's arguments."""
    return 32768 * (index + 1)


MAX_DIMS = 12
Dims = ctypes.c_int64 * MAX_DIMS
_vp = ctypes.c_void_p


class DnnlError(RuntimeError):
    pass


class DnnlUnavailable(DnnlError):
    """The library (or the OpenMP runtime it needs) cannot be loaded here."""


class ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _vp)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "dnnl_version": (ctypes.POINTER(_Version), []),
    "dnnl_engine_create": (ctypes.c_int, [ctypes.POINTER(_vp), ctypes.c_int, ctypes.c_size_t]),
    "dnnl_stream_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_uint]),
    "dnnl_memory_desc_create_with_tag": (ctypes.c_int, [ctypes.POINTER(_vp), ctypes.c_int, Dims, ctypes.c_int,
                                                        ctypes.c_int]),
    "dnnl_memory_desc_create_with_strides": (ctypes.c_int, [ctypes.POINTER(_vp), ctypes.c_int, Dims, ctypes.c_int,
                                                            Dims]),
    "dnnl_memory_desc_clone": (ctypes.c_int, [ctypes.POINTER(_vp), _vp]),
    "dnnl_memory_desc_destroy": (ctypes.c_int, [_vp]),
    "dnnl_memory_desc_get_size": (ctypes.c_size_t, [_vp]),
    "dnnl_memory_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, _vp, _vp]),
    "dnnl_memory_set_data_handle": (ctypes.c_int, [_vp, _vp]),
    "dnnl_memory_destroy": (ctypes.c_int, [_vp]),
    "dnnl_primitive_attr_create": (ctypes.c_int, [ctypes.POINTER(_vp)]),
    "dnnl_primitive_attr_destroy": (ctypes.c_int, [_vp]),
    "dnnl_primitive_attr_set_scratchpad_mode": (ctypes.c_int, [_vp, ctypes.c_int]),
    "dnnl_primitive_attr_set_post_ops": (ctypes.c_int, [_vp, _vp]),
    "dnnl_post_ops_create": (ctypes.c_int, [ctypes.POINTER(_vp)]),
    "dnnl_post_ops_destroy": (ctypes.c_int, [_vp]),
    "dnnl_post_ops_append_eltwise": (ctypes.c_int, [_vp, ctypes.c_int, ctypes.c_float, ctypes.c_float]),
    "dnnl_post_ops_append_binary": (ctypes.c_int, [_vp, ctypes.c_int, _vp]),
    "dnnl_primitive_desc_query_md": (_vp, [_vp, ctypes.c_int, ctypes.c_int]),
    "dnnl_primitive_desc_query": (ctypes.c_int, [_vp, ctypes.c_int, ctypes.c_int, _vp]),
    "dnnl_primitive_desc_destroy": (ctypes.c_int, [_vp]),
    "dnnl_primitive_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp]),
    "dnnl_primitive_destroy": (ctypes.c_int, [_vp]),
    "dnnl_primitive_execute": (ctypes.c_int, [_vp, _vp, ctypes.c_int, _vp]),
    "dnnl_stream_wait": (ctypes.c_int, [_vp]),
    "dnnl_convolution_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, _vp, _vp, Dims, Dims, Dims,
                       Dims, _vp]),
    "dnnl_matmul_primitive_desc_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, _vp, _vp, _vp, _vp, _vp]),
    "dnnl_pooling_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, Dims, Dims, Dims, Dims, Dims,
                       _vp]),
    "dnnl_eltwise_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, ctypes.c_float,
                       ctypes.c_float, _vp]),
    "dnnl_binary_primitive_desc_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, _vp, _vp, _vp,
                                                         _vp]),
    "dnnl_reduction_primitive_desc_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, _vp, _vp,
                                                            ctypes.c_float, ctypes.c_float, _vp]),
    "dnnl_softmax_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, ctypes.c_int, _vp]),
    "dnnl_reorder_primitive_desc_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, _vp, _vp, _vp, _vp]),
    "dnnl_concat_primitive_desc_create": (ctypes.c_int, [ctypes.POINTER(_vp), _vp, _vp, ctypes.c_int, ctypes.c_int,
                                                         ctypes.POINTER(_vp), _vp]),
    "dnnl_layer_normalization_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, _vp, _vp, _vp, ctypes.c_float, ctypes.c_uint, _vp]),
    "dnnl_resampling_forward_primitive_desc_create": (
        ctypes.c_int, [ctypes.POINTER(_vp), _vp, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float), _vp,
                       _vp, _vp]),
}


def _candidates() -> list[Path]:
    named = os.environ.get("IRFORGE_DNNL_LIBRARY", "").strip()
    if named:
        return [Path(named)]
    roots = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    return [r / "lib" / name for r in roots for name in ("libdnnl.so.3", "libdnnl.so")]


class Library:
    """The loaded libdnnl with typed functions (attributes named as in C, without the `dnnl_` prefix)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cdll = ctypes.CDLL(str(path))
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(self.cdll, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name[len("dnnl_"):], fn)
        v = self.version().contents
        self.version_tuple = (v.major, v.minor, v.patch)
        if v.major != 3:
            raise DnnlUnavailable(f"{path}: oneDNN {v.major}.{v.minor} found, the native CPU executor needs oneDNN 3.x")
        engine = _vp()
        check(self.engine_create(ctypes.byref(engine), ENGINE_CPU, 0), "dnnl_engine_create")
        self.engine = engine
        stream = _vp()
        check(self.stream_create(ctypes.byref(stream), engine, STREAM_DEFAULT_FLAGS), "dnnl_stream_create")
        self.stream = stream


@lru_cache(maxsize=1)
def library() -> Library:
    """The process's libdnnl (loaded once). Raises DnnlError saying what was looked for when none loads."""
    tried = []
    for path in _candidates():
        if path.is_file():
            try:
                return Library(path)
            except OSError as e:
                tried.append(f"{path} ({e})")
        else:
            tried.append(f"{path} (absent)")
    raise DnnlUnavailable("oneDNN library not found (install the onednn-cpu-gomp wheel or set IRFORGE_DNNL_LIBRARY): "
                    + "; ".join(tried))


_STATUS = {1: "out_of_memory", 2: "invalid_arguments", 3: "unimplemented", 5: "runtime_error",
           6: "not_required", 7: "invalid_graph", 8: "invalid_graph_op", 9: "invalid_shape", 10: "invalid_data_type"}


def check(status: int, what: str) -> None:
    if status != 0:
        raise DnnlError(f"{what} failed: oneDNN status {_STATUS.get(status, status)}")


def dims(values: Sequence[int]) -> Any:
    out = Dims()
    for i, v in enumerate(values):
        out[i] = int(v)
    return out


class MemoryDesc:
    """An owned dnnl_memory_desc_t: logical dims, element type and a layout (strides, or a format chosen by a
    primitive)."""

    def __init__(self, handle: int, shape: Sequence[int] | None = None) -> None:
        self.handle = handle
        self.shape = tuple(shape) if shape is not None else None

    @classmethod
    def strided(cls, shape: Sequence[int], dtype: int, strides: Sequence[int]) -> "MemoryDesc":
        lib = library()
        h = _vp()
        shp = list(shape) or [1]
        st = list(strides) or [1]
        check(lib.memory_desc_create_with_strides(ctypes.byref(h), len(shp), dims(shp), dtype, dims(st)),
              f"memory descriptor {list(shape)} strides {list(strides)}")
        return cls(h.value, shape)

    @classmethod
    def any(cls, shape: Sequence[int], dtype: int) -> "MemoryDesc":
        lib = library()
        h = _vp()
        check(lib.memory_desc_create_with_tag(ctypes.byref(h), len(shape), dims(shape), dtype, FORMAT_ANY),
              f"memory descriptor {list(shape)} (any)")
        return cls(h.value, shape)

    @classmethod
    def clone_of(cls, handle: int, shape: Sequence[int] | None = None) -> "MemoryDesc":
        h = _vp()
        check(library().memory_desc_clone(ctypes.byref(h), handle), "dnnl_memory_desc_clone")
        return cls(h.value, shape)

    @property
    def nbytes(self) -> int:
        return int(library().memory_desc_get_size(self.handle))

    def __del__(self) -> None:
        if self.handle:
            library().memory_desc_destroy(self.handle)
            self.handle = 0


class Attr:
    """Primitive attributes: user-managed scratchpad (each runner passes its own) and post-ops."""

    def __init__(self) -> None:
        lib = library()
        h = _vp()
        check(lib.primitive_attr_create(ctypes.byref(h)), "dnnl_primitive_attr_create")
        self.handle = h.value
        check(lib.primitive_attr_set_scratchpad_mode(self.handle, SCRATCHPAD_MODE_USER), "scratchpad mode")
        self._post_ops = 0
        self._count = 0  # post-ops appended (a binary one's index is its position)

    def _ops(self) -> int:
        if not self._post_ops:
            h = _vp()
            check(library().post_ops_create(ctypes.byref(h)), "dnnl_post_ops_create")
            self._post_ops = h.value
        return self._post_ops

    def eltwise(self, alg: int, alpha: float = 0.0, beta: float = 0.0) -> None:
        check(library().post_ops_append_eltwise(self._ops(), alg, alpha, beta), "eltwise post-op")
        self._count += 1

    def binary(self, alg: int, src1: MemoryDesc) -> int:
        """Append a binary post-op; its index (the second source's argument is arg_post_op(index) | ARG_SRC_1)."""
        check(library().post_ops_append_binary(self._ops(), alg, src1.handle), "binary post-op")
        self._count += 1
        return self._count - 1

    def finish(self) -> int:
        if self._post_ops:
            check(library().primitive_attr_set_post_ops(self.handle, self._post_ops), "set post-ops")
        return self.handle

    def __del__(self) -> None:
        lib = library()
        if self._post_ops:
            lib.post_ops_destroy(self._post_ops)
            self._post_ops = 0
        if self.handle:
            lib.primitive_attr_destroy(self.handle)
            self.handle = 0


class Primitive:
    """A created primitive with the memory descriptors its descriptor chose for the weights and the scratchpad,
    and the implementation's name (e.g. 'brg:avx512_core', 'jit:avx512_core', 'ref:any'). `create` is one of
    oneDNN's `*_primitive_desc_create` functions; `args` its arguments between the descriptor and the attributes,
    which are always last (`attr`, or the default ones: the user-managed scratchpad).

    Inside `created_in_background`, the primitive itself (oneDNN's JIT code generation, most of a plan's build
    time) is made on that worker thread while the caller goes on; `handle` waits for it."""

    def __init__(self, what: str, create: Any, *args: Any, attr: "Attr | None" = None) -> None:
        lib = library()
        pd = _vp()
        attr = attr or Attr()  # (alive until the descriptor is made)
        check(create(ctypes.byref(pd), *args, attr.finish()), what)
        self._handle = 0
        self._ready: threading.Event | None = None
        self._error: BaseException | None = None
        try:
            self.impl = _impl_name(pd.value)
            self.weights = self._md(pd.value, QUERY_WEIGHTS_MD)
            self.scratchpad = self._md(pd.value, QUERY_SCRATCHPAD_MD)
        except BaseException:
            lib.primitive_desc_destroy(pd.value)
            raise
        creator: _Creator | None = getattr(_BACKGROUND, "creator", None)
        if creator is None:
            self._create(pd.value, what)
        else:
            self._ready = threading.Event()
            creator.submit(self, pd.value, what)

    def _create(self, pd: int, what: str) -> None:
        """Make the primitive from its descriptor (then destroyed)."""
        lib = library()
        try:
            h = _vp()
            check(lib.primitive_create(ctypes.byref(h), pd), f"{what}: dnnl_primitive_create")
            self._handle = h.value
        finally:
            lib.primitive_desc_destroy(pd)

    @property
    def handle(self) -> int:
        if self._ready is not None:
            self._ready.wait()
            if self._error is not None:
                raise self._error
        return self._handle

    @staticmethod
    def _md(pd: int, what: int) -> MemoryDesc | None:
        h = library().primitive_desc_query_md(pd, what, 0)
        return MemoryDesc.clone_of(h) if h else None

    @property
    def scratchpad_bytes(self) -> int:
        return self.scratchpad.nbytes if self.scratchpad is not None else 0

    def __del__(self) -> None:
        if getattr(self, "_handle", 0):
            library().primitive_destroy(self._handle)
            self._handle = 0


_BACKGROUND = threading.local()


class _Creator:
    """The worker thread of `created_in_background` (ctypes releases the GIL during oneDNN's calls)."""

    def __init__(self, setup: Callable[[], None]) -> None:
        self.queue: queue.SimpleQueue[tuple[Primitive, int, str] | None] = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, args=(setup,), name="irforge-dnnl-create", daemon=True)
        self.thread.start()

    def submit(self, prim: Primitive, pd: int, what: str) -> None:
        self.queue.put((prim, pd, what))

    def _work(self, setup: Callable[[], None]) -> None:
        setup()
        while True:
            item = self.queue.get()
            if item is None:
                return
            prim, pd, what = item
            try:
                prim._create(pd, what)
            except BaseException as e:  # noqa: BLE001 - raised where the primitive is used, and at the end
                prim._error = e
                self.errors.append(e)
            finally:
                assert prim._ready is not None
                prim._ready.set()

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()


@contextmanager
def created_in_background(setup: Callable[[], None]) -> Iterator[None]:
    """Primitives made in this block (on this thread) are created on one worker thread, which first runs
    `setup` (the OpenMP thread count they are sized for); all are made when the block ends, and the first
    failure is raised then."""
    creator = _Creator(setup)
    previous = getattr(_BACKGROUND, "creator", None)
    _BACKGROUND.creator = creator
    try:
        yield
    finally:
        _BACKGROUND.creator = previous
        creator.close()
    if creator.errors:
        raise creator.errors[0]


def _impl_name(pd: int) -> str:
    out = ctypes.c_char_p()
    if library().primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, ctypes.byref(out)) != 0 or not out.value:
        return "?"
    return out.value.decode()


class Memory:
    """A dnnl_memory_t over memory owned elsewhere (a NumPy buffer); the handle is replaced per run for model
    inputs and outputs."""

    def __init__(self, md: MemoryDesc, address: int) -> None:
        lib = library()
        h = _vp()
        check(lib.memory_create(ctypes.byref(h), md.handle, lib.engine, address or None), "dnnl_memory_create")
        self.handle = h.value
        self.md = md

    def set(self, address: int) -> None:
        library().memory_set_data_handle(self.handle, address)

    def __del__(self) -> None:
        if getattr(self, "handle", 0):
            library().memory_destroy(self.handle)
            self.handle = 0


def reorder(src: MemoryDesc, dst: MemoryDesc) -> Primitive:
    lib = library()
    return Primitive("reorder", lib.reorder_primitive_desc_create, src.handle, lib.engine, dst.handle, lib.engine)
