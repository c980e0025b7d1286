"""Tensor: OpenVINO's `ov.Tensor` over a NumPy array. `.data` is the array itself (a view, not a copy), so
`request.get_input_tensor().data[:] = x` fills the request's input in place, as with OpenVINO."""
from __future__ import annotations

from typing import Any

import numpy as np

from irforge.ir.shape import Shape
from irforge.ir.types import ElementType, Type
from irforge.openvino_names import OpenVINONames


class Tensor(OpenVINONames):
    """`Tensor(array)` (a copy; `shared_memory=True` wraps the array itself), `Tensor(type, shape)` (zeros), or
    `Tensor(tensor)`. Sub-byte types (i4/u4/u1) hold one value per byte."""

    __slots__ = ("_array", "_type")

    def __init__(self, array: Any = None, shape: Any = None, shared_memory: bool = False, *,
                 element_type: Any = None) -> None:
        if isinstance(array, Tensor):
            self._array, self._type = array._array, array._type
            return
        if isinstance(array, Type) or (shape is not None and not isinstance(array, np.ndarray)):
            et = Type(array)
            if et.dtype is None:
                raise ValueError("Tensor: a tensor needs a static element type, got dynamic")
            dims = Shape(shape if shape is not None else ())
            self._array, self._type = np.zeros(tuple(dims), et.dtype), et
            return
        if shape is not None:
            raise TypeError("Tensor(array, shape): reshape the array instead (irforge tensors keep the array's shape)")
        if array is None:
            raise TypeError("Tensor: expected an array, a Tensor, or an element type and a shape")
        arr = np.asarray(array)
        if not shared_memory:
            arr = np.array(arr, copy=True, order="C")
        self._array = arr
        self._type = Type(element_type) if element_type is not None else Type.from_dtype(arr.dtype)

    @classmethod
    def wrap(cls, array: np.ndarray, element_type: ElementType | None = None) -> "Tensor":
        """A Tensor sharing `array` (the runtime's own tensors)."""
        t = cls.__new__(cls)
        t._array = array
        t._type = element_type if element_type is not None else Type.from_dtype(array.dtype)
        return t

    # ---- OpenVINO's accessors
    @property
    def data(self) -> np.ndarray:
        return self._array

    def get_shape(self) -> Shape:
        return Shape(self._array.shape)

    shape = property(get_shape)

    def set_shape(self, shape: Any) -> None:
        """New dims: the data is kept when the element count fits, else re-allocated (zeros)."""
        dims = tuple(Shape(shape))
        if int(np.prod(dims, dtype=np.int64)) == self._array.size:
            self._array = self._array.reshape(dims)
        else:
            self._array = np.zeros(dims, self._array.dtype)

    def get_element_type(self) -> ElementType:
        return self._type

    element_type = property(get_element_type)

    def get_size(self) -> int:
        return int(self._array.size)

    size = property(get_size)

    def get_byte_size(self) -> int:
        return (self._array.size * self._type.bits + 7) // 8

    byte_size = property(get_byte_size)

    def get_strides(self) -> list[int]:
        return list(self._array.strides)

    strides = property(get_strides)

    def is_continuous(self) -> bool:
        return bool(self._array.flags.c_contiguous)

    @property
    def bytes_data(self) -> bytes:
        return self._array.tobytes()

    def copy_to(self, target: "Tensor") -> None:
        target.set_shape(self._array.shape)
        np.copyto(target._array, self._array, casting="no")

    def copy_from(self, source: "Tensor | np.ndarray") -> None:
        src = source.data if isinstance(source, Tensor) else np.asarray(source)
        if src.shape != self._array.shape:
            self.set_shape(src.shape)
        np.copyto(self._array, src, casting="no")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._array.dtype:
            return self._array.astype(dtype)
        return self._array.copy() if copy else self._array

    def __repr__(self) -> str:
        return f"<Tensor: shape[{','.join(str(d) for d in self._array.shape)}] type: {self._type}>"
