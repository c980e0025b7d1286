"""ONNX tensors stored outside the model file (`onnx.save(..., save_as_external_data=True)`), mapped rather than
loaded: the model is read with `onnx.load(path, load_external_data=False)`, each external file is mapped once
(read-only `mmap`) and a tensor's value is a read-only NumPy view of its bytes, so converting a model does not
hold a second copy of its weights (4-bit and other packed types, and data not aligned for its type, are unpacked
or copied).

The files must lie inside the model's folder, as onnx's own loader requires (from onnx 1.21): a relative
location, no `..` or symbolic link leading out, a regular file (not a link), the data within the file's end. A
violation is a ModelReadError of one line naming the tensor."""
from __future__ import annotations

import math
import mmap
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from irforge.errors import ModelReadError
from irforge.ir.mapped import register, release

EXTERNAL = onnx.TensorProto.EXTERNAL


def uses_external_data(tensor: onnx.TensorProto) -> bool:
    return tensor.HasField("data_location") and tensor.data_location == EXTERNAL


def _info(tensor: onnx.TensorProto) -> tuple[str, int, int | None]:
    """(location, offset, length or None) of an external tensor; bad numbers are errors naming it."""
    fields = {e.key: e.value for e in tensor.external_data}
    numbers: dict[str, int | None] = {}
    for key in ("offset", "length"):
        text = fields.get(key)
        try:
            numbers[key] = None if text is None else int(text)
        except ValueError:
            raise _bad(tensor, f"external data {key} '{text}' is not an integer") from None
        if (numbers[key] or 0) < 0:
            raise _bad(tensor, f"External data {key} must be non-negative, got {numbers[key]} for tensor "
                               f"'{tensor.name}'")
    return fields.get("location", ""), numbers["offset"] or 0, numbers["length"]


def _bad(tensor: onnx.TensorProto, message: str) -> ModelReadError:
    return ModelReadError(message if tensor.name in message else f"tensor '{tensor.name}': {message}")


def resolve(tensor: onnx.TensorProto, base_dir: str) -> str:
    """The file holding `tensor`'s data: inside `base_dir` (the model's folder) or a ModelReadError naming the
    tensor (messages as onnx's loader words them)."""
    location = _info(tensor)[0]
    what = f"TensorProto ( tensor name: {tensor.name})"
    if not location:
        raise _bad(tensor, f"Location of external {what} is empty")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or os.path.splitdrive(location)[0]:
        raise _bad(tensor, f"Location of external {what} should be a relative path, but it is an absolute path: "
                           f"{location}")
    base = os.path.abspath(base_dir or os.curdir)
    path = os.path.join(base, location)
    real_base = os.path.realpath(base)
    normal = os.path.normpath(location)
    if normal == os.pardir or normal.startswith(os.pardir + os.sep) or \
            os.path.commonpath([real_base, os.path.realpath(os.path.dirname(path))]) != real_base:
        raise _bad(tensor, f"Data of {what} should be file inside '{base}', but '{location}' points outside the "
                           "directory.")
    if os.path.islink(path):
        raise _bad(tensor, f"Data of {what} should be stored in {path}, but it is a symbolic link.")
    if not os.path.isfile(path):
        raise _bad(tensor, f"Data of {what} should be stored in {path}, but it is not regular file.")
    return path


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of `graph`: initializers and attribute tensors, sub-graphs included."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield from g.initializer
        for node in g.node:
            for a in node.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)


class ExternalData:
    """The external files of one model, each mapped once, and the values of its tensors as views of them."""

    def __init__(self, base_dir: str) -> None:
        self.base_dir = base_dir
        self._maps: dict[str, memoryview] = {}

    def check(self, model: onnx.ModelProto) -> None:
        """Every external tensor of `model` lies in a file inside the model's folder, within the file's end."""
        for tensor in _tensors(model.graph):
            if uses_external_data(tensor):
                self.raw(tensor)

    def _mapped(self, path: str) -> memoryview:
        view = self._maps.get(path)
        if view is None:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    view = memoryview(b"")
                else:
                    kwargs: dict[str, Any] = {"trackfd": False} if sys.version_info >= (3, 13) else {}
                    view = memoryview(register(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ, **kwargs)))
            self._maps[path] = view
        return view

    def raw(self, tensor: onnx.TensorProto) -> memoryview:
        """The bytes of an external tensor: a slice of its mapped file."""
        path = resolve(tensor, self.base_dir)
        _, offset, length = _info(tensor)
        try:
            data = self._mapped(path)
        except (OSError, ValueError) as e:
            raise _bad(tensor, f"cannot map {path} ({getattr(e, 'strerror', None) or e})") from None
        size = len(data)
        if offset > size:
            raise _bad(tensor, f"External data offset ({offset}) exceeds file size ({size}) for tensor "
                               f"'{tensor.name}'")
        if length is not None and length > size - offset:
            raise _bad(tensor, f"External data length ({length}) exceeds available data ({size - offset} bytes "
                               f"from offset {offset}) for tensor '{tensor.name}'")
        return data[offset:size if length is None else offset + length]

    def to_array(self, tensor: onnx.TensorProto) -> np.ndarray:
        """`numpy_helper.to_array(tensor)`, with an external tensor's value a read-only view of its mapped file
        where its type allows (packed and unaligned data are copied)."""
        if not uses_external_data(tensor):
            return numpy_helper.to_array(tensor)
        raw = self.raw(tensor)
        dims = [int(d) for d in tensor.dims]
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)) \
            if tensor.data_type != onnx.TensorProto.UNDEFINED else None
        bits = _storage_bits(tensor.data_type)
        if dtype is None or dtype.kind in "OSU" or bits != dtype.itemsize * 8 or sys.byteorder != "little":
            inline = onnx.TensorProto()
            inline.CopyFrom(tensor)
            del inline.external_data[:]
            inline.data_location = onnx.TensorProto.DEFAULT
            inline.raw_data = bytes(raw)
            return numpy_helper.to_array(inline)
        count = math.prod(dims)
        if len(raw) < count * dtype.itemsize:
            raise _bad(tensor, f"external data of {len(raw)} bytes is smaller than the {count * dtype.itemsize} "
                               f"bytes of its {dims} elements")
        arr = np.frombuffer(raw.toreadonly(), dtype, count).reshape(dims)
        if not arr.flags.aligned:  # e.g. an inline tensor of a protobuf file (wire.py): its pages are dropped
            view, arr = arr, arr.copy()
            arr.flags.writeable = False
            release([view])
        return arr


def _storage_bits(data_type: int) -> int:
    """Bits one element takes in `raw_data` (4 for the 4-bit types, 2 for the 2-bit ones, ...)."""
    name = onnx.TensorProto.DataType.Name(data_type)
    for prefix, bits in (("INT4", 4), ("UINT4", 4), ("FLOAT4", 4), ("INT2", 2), ("UINT2", 2), ("FLOAT6", 6)):
        if name.startswith(prefix):
            return bits
    dtype = onnx.helper.tensor_dtype_to_np_dtype(data_type)
    return int(np.dtype(dtype).itemsize * 8)
