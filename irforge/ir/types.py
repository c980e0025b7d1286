"""Element types of IR tensors, with their OpenVINO IR spellings and NumPy storage dtypes."""
from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class ElementType:
    """One IR element type. `name` is the IR `element_type` spelling, `precision` the port spelling."""

    name: str
    precision: str
    dtype: np.dtype | None  # NumPy dtype of values of this type (bf16/f8: ml_dtypes; None: dynamic)
    bits: int

    @property
    def is_float(self) -> bool:
        return self.name in ("f16", "bf16", "f32", "f64", "f8e4m3", "f8e5m2")

    @property
    def is_integral(self) -> bool:
        return self.name[0] in "iu" and self.name != "undefined"

    @property
    def is_signed(self) -> bool:
        return self.name[0] in "if" or self.name == "bf16"

    @property
    def is_dynamic(self) -> bool:
        return self.name == "dynamic"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Type.{self.name}"


def _t(name: str, precision: str, dtype: object, bits: int) -> ElementType:
    return ElementType(name, precision, None if dtype is None else np.dtype(dtype), bits)


class Type:
    """Namespace of the element types: `Type.f32`, `Type.i64`, ..."""

    boolean = _t("boolean", "BOOL", np.bool_, 8)
    bf16 = _t("bf16", "BF16", ml_dtypes.bfloat16, 16)
    f16 = _t("f16", "FP16", np.float16, 16)
    f32 = _t("f32", "FP32", np.float32, 32)
    f64 = _t("f64", "FP64", np.float64, 64)
    i4 = _t("i4", "I4", np.int8, 4)
    i8 = _t("i8", "I8", np.int8, 8)
    i16 = _t("i16", "I16", np.int16, 16)
    i32 = _t("i32", "I32", np.int32, 32)
    i64 = _t("i64", "I64", np.int64, 64)
    u1 = _t("u1", "BIN", np.uint8, 1)
    u4 = _t("u4", "U4", np.uint8, 4)
    u8 = _t("u8", "U8", np.uint8, 8)
    u16 = _t("u16", "U16", np.uint16, 16)
    u32 = _t("u32", "U32", np.uint32, 32)
    u64 = _t("u64", "U64", np.uint64, 64)
    f8e4m3 = _t("f8e4m3", "F8E4M3", ml_dtypes.float8_e4m3fn, 8)
    f8e5m2 = _t("f8e5m2", "F8E5M2", ml_dtypes.float8_e5m2, 8)
    string = _t("string", "STRING", np.object_, 0)
    dynamic = _t("dynamic", "UNSPECIFIED", None, 0)

    ALL: tuple[ElementType, ...] = ()

    @staticmethod
    def from_name(name: str) -> ElementType:
        """The type spelled `name` in IR (`f32`, `i64`, ...); also accepts port precisions (`FP32`)."""
        t = _BY_NAME.get(name) or _BY_PRECISION.get(name.upper())
        if t is None:
            raise ValueError(f"unknown element type '{name}'")
        return t

    @staticmethod
    def from_dtype(dtype: object) -> ElementType:
        """The IR type that stores NumPy `dtype` (bool, float16/32/64, int8..64, uint8..64)."""
        d = np.dtype(dtype)
        t = _BY_DTYPE.get(d)
        if t is None:
            raise ValueError(f"no IR element type for NumPy dtype {d}")
        return t


Type.ALL = tuple(v for v in vars(Type).values() if isinstance(v, ElementType))
_BY_NAME = {t.name: t for t in Type.ALL}
_BY_NAME["undefined"] = Type.dynamic
_BY_PRECISION = {t.precision: t for t in Type.ALL}
_BY_PRECISION["FP64"] = Type.f64
_BY_DTYPE = {
    np.dtype(np.bool_): Type.boolean,
    np.dtype(np.float16): Type.f16,
    np.dtype(np.float32): Type.f32,
    np.dtype(np.float64): Type.f64,
    np.dtype(np.int8): Type.i8,
    np.dtype(np.int16): Type.i16,
    np.dtype(np.int32): Type.i32,
    np.dtype(np.int64): Type.i64,
    np.dtype(np.uint8): Type.u8,
    np.dtype(np.uint16): Type.u16,
    np.dtype(np.uint32): Type.u32,
    np.dtype(np.uint64): Type.u64,
    np.dtype(np.object_): Type.string,
    np.dtype(ml_dtypes.bfloat16): Type.bf16,
    np.dtype(ml_dtypes.float8_e4m3fn): Type.f8e4m3,
    np.dtype(ml_dtypes.float8_e5m2): Type.f8e5m2,
}
