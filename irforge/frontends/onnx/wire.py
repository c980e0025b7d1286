"""Reading an ONNX file without holding its weights: the protobuf's wire format is scanned in a read-only mapping
of the file, and every tensor whose inline `raw_data` is large is rewritten, in the bytes handed to the protobuf
parser, as external data pointing back into the model file itself (`location` = the file's name, `offset` and
`length` = where its bytes lie). The parser then sees a small message, and `external_data.ExternalData` maps the
tensors' bytes as views of the file, as it does for tensors saved with `save_as_external_data`; the rewritten
message is valid ONNX (onnx's own loader reads those tensors back from the same bytes).

Rewritten: the initializers of the main graph and of sub-graphs, and the tensors of node attributes (Constant's
`value`, sub-graph attributes), where `raw_data` holds at least `MIN_BYTES`. Anything the scanner does not
understand (a group wire type, a length past the end) makes `rewrite` return None, and the caller parses the file as
it is, so its errors are protobuf's own."""
from __future__ import annotations

import mmap
import os

MIN_BYTES = 1024  # smaller tensors stay inline: their copy costs less than their external_data entries

# Field numbers of onnx.proto (onnx/onnx.proto3) that lead to tensors.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_TENSOR_RAW_DATA, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 9, 13, 14
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


class _Malformed(Exception):
    """The bytes are not a message the scanner understands; the caller falls back to protobuf."""


def _varint(buf: mmap.mmap, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


class _Scanner:
    """Rewrites one mapped ONNX file (see the module's doc)."""

    def __init__(self, buf: mmap.mmap, location: str) -> None:
        self.buf = buf
        self.location = location.encode()

    def message(self, start: int, end: int, kind: str) -> list[bytes] | None:
        """The message in buf[start:end] with its large tensors rewritten, as byte chunks; None if unchanged."""
        chunks: list[bytes] = []
        copied = start  # buf[copied:pos] is unchanged and not yet in chunks
        changed = False
        raw: tuple[int, int] | None = None  # a tensor's raw_data: (payload offset, length)
        external = False
        pos = start
        while pos < end:
            field_start = pos
            key, pos = _varint(self.buf, pos, end)
            number, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(self.buf, pos, end)
                if kind == "tensor" and number == _TENSOR_DATA_LOCATION:
                    external = True
                continue
            if wire in (1, 5):  # fixed 64- or 32-bit
                pos += 8 if wire == 1 else 4
                if pos > end:
                    raise _Malformed
                continue
            if wire != 2:  # groups (deprecated in protobuf, unused by ONNX)
                raise _Malformed
            length, payload = _varint(self.buf, pos, end)
            pos = payload + length
            if pos > end:
                raise _Malformed
            if kind == "tensor":
                if number == _TENSOR_RAW_DATA:
                    raw = (payload, length)
                    chunks.append(self.buf[copied:field_start])
                    copied = pos
                elif number == _TENSOR_EXTERNAL_DATA:
                    external = True
                continue
            child = self._child(kind, number, length)
            if child is None:
                continue
            inner = self.message(payload, pos, child)
            if inner is None:
                continue
            chunks.append(self.buf[copied:field_start])
            size = sum(len(c) for c in inner)
            chunks.append(_encode_varint(key) + _encode_varint(size))
            chunks.extend(inner)
            copied = pos
            changed = True
        if pos != end:
            raise _Malformed
        if kind == "tensor":
            if raw is None or external or raw[1] < MIN_BYTES:
                return None
            chunks.append(self.buf[copied:end])
            for k, v in ((b"location", self.location), (b"offset", str(raw[0]).encode()),
                         (b"length", str(raw[1]).encode())):
                chunks.append(_field(_TENSOR_EXTERNAL_DATA, _field(1, k) + _field(2, v)))
            chunks.append(_encode_varint(_TENSOR_DATA_LOCATION << 3) + _encode_varint(_EXTERNAL))
            return chunks
        if not changed:
            return None
        chunks.append(self.buf[copied:end])
        return chunks

    @staticmethod
    def _child(kind: str, number: int, length: int) -> str | None:
        """The kind of the sub-message at field `number` of a `kind` message, when it may hold large tensors."""
        if length < MIN_BYTES:
            return None
        if kind == "model":
            return "graph" if number == _MODEL_GRAPH else None
        if kind == "graph":
            return {_GRAPH_NODE: "node", _GRAPH_INITIALIZER: "tensor"}.get(number)
        if kind == "node":
            return "attribute" if number == _NODE_ATTRIBUTE else None
        if kind == "attribute":
            return {_ATTR_T: "tensor", _ATTR_TENSORS: "tensor", _ATTR_G: "graph", _ATTR_GRAPHS: "graph"}.get(number)
        return None


def rewrite(path: str) -> bytes | None:
    """The bytes of the ONNX file at `path` with its large inline tensors turned into external data referring to
    the file itself (see the module's doc), or None when there is nothing to gain (no large inline tensor, a file
    the scanner does not understand, a symbolic link, an empty file)."""
    if os.path.islink(path):
        return None  # external data may not be read through a link (external_data.resolve)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < MIN_BYTES:
            return None
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        scanner = _Scanner(buf, os.path.basename(path))
        try:
            chunks = scanner.message(0, size, "model")
        except _Malformed:
            return None
        return None if chunks is None else b"".join(chunks)
    finally:
        buf.close()
