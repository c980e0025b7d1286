"""CACHE_DIR for the native executor (OpenVINO's property): a plan's packed weights, written once and mapped back.

Packing (reordering every weight into its primitive's blocked format) is the part of `compile_model` that grows
with the model. With a cache directory, the first compile writes the packed weights of each plan to
`<CACHE_DIR>/<key>.irfc`; a later compile (in any process) with the same key maps that file read-only and hands
its arrays to the primitives: no reordering, and the weights are file-backed pages the kernel can share between
processes and evict. Primitives themselves are re-created (oneDNN 3.2 keeps no CPU primitive blobs), which takes
milliseconds.

The key (`plan_key`) covers the model (its topology, attributes and types, and each Constant's bytes: a Constant
read from an IR is named by the `.bin`'s path, inode, size and modification time and its offset, not hashed;
others are hashed), the input shapes, thread count and precision the plan is built for, the CPU's ISA flags,
oneDNN's and irforge's versions. A file is used only when its magic, format version, key, header checksum and
sizes match and every packed array has the size its primitive asks for; anything else (stale, truncated, foreign,
from another CPU) is ignored and rewritten. Files are written to a temporary name and renamed into place, so
processes sharing a directory never read a partial file and all of them succeed."""
from __future__ import annotations

import hashlib
import mmap
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from irforge.ir.graph import Model
from irforge.ir.mapped import identity_of

MAGIC = b"IRFORGE-PACKED-WEIGHTS.\n"  # 24 bytes, as the header holds it
FORMAT = 1
ALIGN = 64
_HEAD = struct.Struct("<24sI32sQ")  # magic, format, key, count
_ENTRY = struct.Struct("<QQ")  # offset, nbytes
_CRC = struct.Struct("<I")


def model_digest(model: Model) -> bytes:
    """A digest of everything about `model` a plan depends on (see the module docstring)."""
    h = hashlib.blake2b(digest_size=32)
    _digest_into(h, model)
    return h.digest()


def _digest_into(h: "hashlib._Hash", model: Model) -> None:
    index: dict[int, int] = {}
    for i, node in enumerate(model.nodes()):
        index[node.uid] = i
        h.update(f"{node.type}/{getattr(node.op, 'version', '')}|".encode())
        h.update(repr([(index[src.node.uid], src.index) for src in node.inputs]).encode())  # producers come first
        h.update(repr([(str(o.element_type), str(o.shape)) for o in node.outputs]).encode())
        for k in sorted(node.attrs):
            v = node.attrs[k]
            h.update(k.encode())
            h.update(v.tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
        if node.data is not None:
            data = np.asarray(node.data)
            ident = identity_of(data)
            if ident is not None:
                h.update(repr(ident).encode())
            else:
                h.update(repr((data.dtype.str, data.shape)).encode())
                h.update(np.ascontiguousarray(data).tobytes())
        for body in node.bodies:
            _digest_into(h, body)
    h.update(repr([index.get(r.uid) for r in model.results]).encode())


def plan_key(digest: bytes, shapes: tuple[tuple[int, ...], ...], threads: int, precision: str) -> str:
    """The key of one plan of the model whose `model_digest` is `digest`."""
    from irforge import __version__
    from irforge.runtime import host
    from irforge.runtime.devices.cpu.native import dnnl

    h = hashlib.sha256()
    h.update(digest)
    h.update(repr((shapes, threads, precision, sorted(host.cpu_flags()), dnnl.library().version_tuple,
                   __version__, FORMAT)).encode())
    return h.hexdigest()


class PackedCache:
    """One plan's cache file: `load` gives the packed arrays (read-only views of the mapped file) or None;
    `save` writes them."""

    def __init__(self, directory: str, key: str) -> None:
        self.directory = Path(directory)
        self.key = key
        self.path = self.directory / f"{key}.irfc"

    def load(self) -> list[np.ndarray] | None:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < _HEAD.size:
                    return None
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        magic, fmt, key, count = _HEAD.unpack_from(m, 0)
        if magic != MAGIC or fmt != FORMAT or key != bytes.fromhex(self.key) or count > size:
            return None
        table_end = _HEAD.size + count * _ENTRY.size
        if table_end + _CRC.size > size:
            return None
        (crc,) = _CRC.unpack_from(m, table_end)
        if crc != zlib.crc32(m[:table_end]):
            return None
        arrays = []
        for i in range(count):
            offset, nbytes = _ENTRY.unpack_from(m, _HEAD.size + i * _ENTRY.size)
            if offset % ALIGN or offset + nbytes > size:
                return None
            arrays.append(np.frombuffer(m, np.uint8, nbytes, offset))
        return arrays

    def save(self, arrays: list[np.ndarray]) -> None:
        """Write atomically (a temporary file renamed into place); a directory that cannot be written is an
        OSError for the caller to report."""
        self.directory.mkdir(parents=True, exist_ok=True)
        table_end = _HEAD.size + len(arrays) * _ENTRY.size
        offset = -(-(table_end + _CRC.size) // ALIGN) * ALIGN
        entries = []
        for a in arrays:
            entries.append((offset, a.nbytes))
            offset = -(-(offset + a.nbytes) // ALIGN) * ALIGN
        head = _HEAD.pack(MAGIC, FORMAT, bytes.fromhex(self.key), len(arrays)) + \
            b"".join(_ENTRY.pack(o, n) for o, n in entries)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(head)
                f.write(_CRC.pack(zlib.crc32(head)))
                for (o, _), a in zip(entries, arrays):
                    f.seek(o)
                    f.write(memoryview(np.ascontiguousarray(a)).cast("B"))
                f.truncate(offset)
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
