"""Resident pages of mapped weights: a Constant read from an IR (or from ONNX external data) is a read-only view
of a mapped file (xml_io.map_weights). Once a compiled model holds a weight in its kernel's form, the pages the
Constant's bytes were read from are dropped from the process (`madvise(MADV_DONTNEED)`): they stay in the page
cache, and a later read of the Constant maps them back (a minor fault, same bytes), so nothing about the model
changes but its share of the resident set. Only read-only file mappings are ever advised, which makes dropping
pages always safe (nothing in them was written)."""
from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

_PAGE = mmap.PAGESIZE
_LIVE: list[tuple[int, int, "weakref.ref[mmap.mmap]"]] = []  # (address, length, mapping) of registered mappings
_LIVE_LOCK = threading.Lock()
_IDENTITY: "weakref.WeakKeyDictionary[mmap.mmap, tuple[object, ...]]" = weakref.WeakKeyDictionary()


def register(m: mmap.mmap, identity: tuple[object, ...] | None = None) -> mmap.mmap:
    """Record a read-only mapping so that memory known only by address (a torch tensor viewing it) can be
    released (`release_address`); the record goes with the mapping. `identity` names the file's content (path,
    device, inode, size, modification time: `file_identity`) for caches keyed by it (`identity_of`)."""
    if len(m) and memoryview(m).readonly:
        start = np.frombuffer(m, np.uint8).ctypes.data
        with _LIVE_LOCK:
            _LIVE[:] = [e for e in _LIVE if e[2]() is not None]
            _LIVE.append((start, len(m), weakref.ref(m)))
            if identity is not None:
                _IDENTITY[m] = identity
    return m


def file_identity(path: str, st: "os.stat_result") -> tuple[object, ...]:
    """What names a file's content without reading it: path, device, inode, size and modification time (ns)."""
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def identity_of(arr: np.ndarray) -> tuple[object, ...] | None:
    """(file identity, byte offset) of an array viewing a registered mapped file, None otherwise."""
    m = mapping_of(arr)
    if m is None:
        return None
    ident = _IDENTITY.get(m)
    if ident is None:
        return None
    offset = arr.__array_interface__["data"][0] - np.frombuffer(m, np.uint8).ctypes.data
    return ident + (offset, arr.nbytes, arr.dtype.str, arr.shape, arr.strides)


def release_address(address: int, nbytes: int) -> int:
    """`release` for memory given by address: the pages of [address, address + nbytes) that lie in a registered
    read-only mapping (nothing else is touched); the bytes advised."""
    with _LIVE_LOCK:
        live = [(a, n, r()) for a, n, r in _LIVE]
    for start, length, m in live:
        if m is not None and not m.closed and start <= address < start + length:
            return _advise(m, address - start, nbytes)
    return 0


def _advise(m: mmap.mmap, offset: int, nbytes: int) -> int:
    """Drop the pages of `m` covering [offset, offset + nbytes) (whole pages: a neighbour sharing an edge page
    faults it back when read); the bytes advised, 0 where the platform has no madvise."""
    first = offset - offset % _PAGE
    stop = min(len(m), offset + nbytes)
    try:
        m.madvise(mmap.MADV_DONTNEED, first, stop - first)
    except (OSError, ValueError, AttributeError):  # a platform without madvise: the pages stay resident
        return 0
    return stop - first


def mapping_of(arr: np.ndarray) -> mmap.mmap | None:
    """The read-only mmap `arr` is a view into (through NumPy bases and memoryviews), or None."""
    obj: Any = arr
    while isinstance(obj, np.ndarray) and obj.base is not None:
        obj = obj.base
    if isinstance(obj, memoryview):
        obj = obj.obj
    if isinstance(obj, mmap.mmap) and not obj.closed and memoryview(obj).readonly:
        return obj
    return None


def release(arrays: Iterable[np.ndarray | None]) -> int:
    """Drop the resident pages under each array that views a read-only mapped file; the bytes advised."""
    advised = 0
    for arr in arrays:
        if arr is None or arr.nbytes < _PAGE or not (arr.flags.c_contiguous or arr.flags.f_contiguous):
            continue
        m = mapping_of(arr)
        if m is None:
            continue
        offset = arr.__array_interface__["data"][0] - np.frombuffer(m, np.uint8).ctypes.data
        if 0 <= offset < len(m):
            advised += _advise(m, offset, arr.nbytes)
    return advised
