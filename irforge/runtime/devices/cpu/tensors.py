"""Values at run time: torch tensors for every element type torch computes with, NumPy arrays for the rest
(strings, f8, 4-bit types). These helpers convert between the two without copying where they can."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from irforge.ir.types import ElementType

# NumPy dtype -> torch dtype for the types the fast lowerings compute with (bf16 goes through int16 bits)
_TORCH_OF_NUMPY: dict[np.dtype, torch.dtype] = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float16): torch.float16,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.int8): torch.int8,
    np.dtype(np.uint8): torch.uint8,
    np.dtype(np.bool_): torch.bool,
}  # + ml_dtypes' bfloat16 -> torch.bfloat16 (`_torch_of`: ml_dtypes is imported only where bf16 is used)


def _torch_of(dtype: np.dtype) -> torch.dtype | None:
    dt = _TORCH_OF_NUMPY.get(dtype)
    if dt is None and dtype.kind == "V" and dtype.name == "bfloat16":
        return torch.bfloat16
    return dt


def torch_of_numpy(dtype: np.dtype) -> torch.dtype | None:
    """The torch dtype `to_torch` gives arrays of `dtype` (None: they stay NumPy arrays)."""
    return _torch_of(dtype)


FLOAT_TYPES = ("f32", "f16", "bf16", "f64")
# element types whose values live as torch tensors (the others stay NumPy arrays end to end)
TORCH_TYPES = {"f32", "f16", "bf16", "f64", "i64", "i32", "i16", "i8", "u8", "boolean"}


def torch_dtype(et: ElementType) -> torch.dtype | None:
    """The torch dtype holding values of `et`, None when torch does not compute with it."""
    if et.name not in TORCH_TYPES or et.dtype is None:
        return None
    return _torch_of(et.dtype)


def to_torch(value: Any) -> Any:
    """A NumPy array as a torch tensor sharing its memory (read-only arrays and arrays with negative strides are
    copied: torch wants writable memory and positive strides); other values (tensors, arrays of types torch
    lacks) pass through."""
    if value.__class__ is np.ndarray and value.flags.writeable and value.dtype in _TORCH_OF_NUMPY:
        try:  # the common case, once per input and body-plan value of every inference: shared as is
            return torch.from_numpy(value)
        except ValueError:  # negative strides (even a C-contiguous array has them on a length-1 axis): copied below
            pass
    if not isinstance(value, np.ndarray):
        if np.isscalar(value) and not isinstance(value, (str, bytes)):
            return to_torch(np.asarray(value))
        return value
    dt = _torch_of(value.dtype)
    if dt is None:
        return value
    if not value.flags.writeable or any(s < 0 for s in value.strides):
        value = value.copy()  # torch has no negative strides either (a reversed view, x[::-1])
    if dt is torch.bfloat16:
        bits = np.ascontiguousarray(value).view(np.int16).reshape(value.shape)  # (ascontiguousarray makes 0-d 1-d)
        return torch.from_numpy(bits).view(torch.bfloat16)
    if value.dtype.byteorder == ">":
        value = value.astype(value.dtype.newbyteorder("="))
    return torch.from_numpy(value)


def to_numpy(value: Any) -> Any:
    """A torch tensor as a NumPy array sharing its memory (bf16 reinterpreted as ml_dtypes.bfloat16);
    arrays pass through."""
    if value.__class__ is torch.Tensor and value.dtype is not torch.bfloat16:
        return tensor_numpy(value)  # the common case, for every output of every inference
    if isinstance(value, torch.Tensor):
        if value.dtype is torch.bfloat16:
            import ml_dtypes

            return value.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return value.numpy()
    return value


# Tensor.numpy itself, called unbound: looking the method up on a tensor costs a quarter of the call
tensor_numpy = torch._C.TensorBase.numpy


def read_only_weight(arr: np.ndarray) -> Any:
    """A weight that kernels only read, as a torch tensor sharing the array's memory when it is C-contiguous or a
    transposed C-contiguous matrix (ONNX's [K, N] MatMul weight read as [N, K]), even when that memory is
    read-only (a view of the mapped `.bin`: the weight then has no other copy, and its pages come and go with the
    page cache); other layouts are copied. Never hand the result to a kernel that writes into its operand."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "The given NumPy array is not writable"
        if arr.flags.c_contiguous:
            return torch.from_numpy(arr)
        if arr.ndim == 2 and arr.flags.f_contiguous:
            return torch.from_numpy(arr.T).t()
        return torch.from_numpy(np.ascontiguousarray(arr))


def constant_tensor(arr: np.ndarray) -> Any:
    """A plan-time constant as a torch tensor with its own contiguous memory (never aliasing the IR's data)."""
    return to_torch(np.array(arr, copy=True, order="C"))


def owned_numpy(value: Any, must_copy: bool) -> np.ndarray:
    """A model output for the caller: a C-contiguous NumPy array (channels-last tensors are reordered here,
    at the model's edge); copied when it could alias memory the runtime still uses (`must_copy`)."""
    arr = to_numpy(value)
    if arr.__class__ is not np.ndarray:
        arr = np.asarray(arr)
    if must_copy:
        return np.array(arr, copy=True, order="C")
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
