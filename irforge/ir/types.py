"""Element types of IR tensors (OpenVINO's `ov.Type`), with their IR spellings and NumPy storage dtypes.

`Type` is both the class and the namespace of its instances, as in OpenVINO: `Type.f32`, `Type(np.float32)`,
`Type("f32")` all give the one `Type.f32` object. `ElementType` is the same class under the name irforge's own
code uses for annotations."""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from irforge.openvino_names import OpenVINONames, missing


class _Flag(int):
    """A yes/no fact of a type that reads both as irforge's property (`if t.is_integral:`) and as OpenVINO's
    method (`t.is_integral()`)."""

    def __call__(self) -> bool:
        return bool(self)

    def __repr__(self) -> str:
        return repr(bool(self))


_TRUE, _FALSE = _Flag(1), _Flag(0)


def _flag(value: bool) -> _Flag:
    return _TRUE if value else _FALSE


# OpenVINO's long type names (`repr(ov.Type.f32)` is `<Type: 'float32'>`)
_OV_NAMES = {"boolean": "char", "f64": "double64", "i4": "int4_t", "i8": "int8_t", "i16": "int16_t",
             "i32": "int32_t", "i64": "int64_t", "u1": "uint1_t", "u4": "uint4_t", "u8": "uint8_t",
             "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t", "f32": "float32", "f16": "float16",
             "bf16": "bfloat16"}


class _TypeNamespace(type):
    """`Type.nf4` and other element types irforge lacks raise NotSupportedError naming them."""

    def __getattr__(cls, name: str) -> Any:
        missing("Type", name)


class Type(OpenVINONames, metaclass=_TypeNamespace):
    """One IR element type. `name` is the IR `element_type` spelling (`f32`), `precision` the port spelling
    (`FP32`), `dtype` the NumPy dtype holding its values (bf16/f8: ml_dtypes; None for `dynamic`)."""

    __slots__ = ("name", "precision", "dtype", "bits")

    name: str
    precision: str
    dtype: np.dtype | None
    bits: int

    ALL: tuple["Type", ...] = ()
    boolean: "Type"
    bf16: "Type"
    f16: "Type"
    f32: "Type"
    f64: "Type"
    i4: "Type"
    i8: "Type"
    i16: "Type"
    i32: "Type"
    i64: "Type"
    u1: "Type"
    u4: "Type"
    u8: "Type"
    u16: "Type"
    u32: "Type"
    u64: "Type"
    f8e4m3: "Type"
    f8e5m2: "Type"
    string: "Type"
    dynamic: "Type"

    def __new__(cls, value: Any = None) -> "Type":
        """The type of `value`: a Type, an IR name (`"f32"`) or port precision (`"FP32"`), or anything NumPy
        reads as a dtype (`np.float32`, `"float32"`, `int`, `float`, `bool`). `Type()` is `Type.dynamic`."""
        if value is None:
            return cls.dynamic
        if isinstance(value, Type):
            return value
        if isinstance(value, str):
            found = _BY_NAME.get(value) or _BY_PRECISION.get(value.upper())
            if found is not None:
                return found
        try:
            dtype = np.dtype(value)
        except TypeError:
            try:  # a name only ml_dtypes makes NumPy know ("bfloat16")
                _load_ml_dtypes()
                dtype = np.dtype(value)
            except TypeError:
                raise TypeError(f"Type: cannot make an element type of {value!r}") from None
        return cls.from_dtype(dtype)

    @classmethod
    def _define(cls, name: str, precision: str, dtype: object, bits: int) -> "Type":
        obj = object.__new__(_MLType if isinstance(dtype, str) else cls)
        for field, value in (("name", name), ("precision", precision),
                             ("dtype", None if dtype is None or isinstance(dtype, str) else np.dtype(dtype)),
                             ("bits", bits)):
            cls.__dict__[field].__set__(obj, value)  # the slot itself (_MLType's `dtype` is a property over it)
        return obj

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"element type {self.name} is immutable")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return Type, (self.name,)

    def __copy__(self) -> "Type":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "Type":
        return self

    # ---- facts irforge reads as properties (and OpenVINO calls as methods)
    @property
    def is_float(self) -> bool:
        return self.name in ("f16", "bf16", "f32", "f64", "f8e4m3", "f8e5m2")

    @property
    def is_integral(self) -> _Flag:
        return _flag(self.name[0] in "iu")

    @property
    def is_signed(self) -> _Flag:
        return _flag(self.name[0] in "if" or self.name == "bf16")

    @property
    def is_dynamic(self) -> _Flag:
        return _flag(self.name == "dynamic")

    # ---- OpenVINO's spellings
    def is_static(self) -> bool:
        return self.name != "dynamic"

    def is_real(self) -> bool:
        return self.is_float

    def is_integral_number(self) -> bool:
        return bool(self.is_integral) and self.name != "boolean"

    def is_quantized(self) -> bool:
        return self.name in ("i4", "i8", "i32", "u8", "f8e4m3", "f8e5m2")

    real = property(is_real)
    integral = property(lambda self: bool(self.is_integral))
    integral_number = property(is_integral_number)
    signed = property(lambda self: bool(self.is_signed))
    quantized = property(is_quantized)

    def get_type_name(self) -> str:
        return self.name

    type_name = property(get_type_name)

    def to_string(self) -> str:
        return self.name

    def get_bitwidth(self) -> int:
        return self.bits

    bitwidth = property(get_bitwidth)

    def get_size(self) -> int:
        """Bytes of one element (sub-byte types round up to one byte)."""
        return (self.bits + 7) // 8

    size = property(get_size)

    def to_dtype(self) -> np.dtype:
        """The NumPy dtype of this type's values (bf16 and f8 types: the ml_dtypes dtypes irforge computes with,
        where OpenVINO hands out float16/uint8 bit patterns)."""
        if self.dtype is None:
            raise ValueError("the dynamic element type has no NumPy dtype")
        return self.dtype

    def compatible(self, other: "Type") -> bool:
        other = Type(other)
        return self is other or self.name == "dynamic" or other.name == "dynamic"

    def merge(self, other: "Type") -> "Type | None":
        """The more specific of two compatible types, or None when they conflict."""
        other = Type(other)
        if not self.compatible(other):
            return None
        return other if self.name == "dynamic" else self

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Type: '{_OV_NAMES.get(self.name, self.name)}'>"

    # ---- lookups
    @staticmethod
    def from_name(name: str) -> "Type":
        """The type spelled `name` in IR (`f32`, `i64`, ...); also accepts port precisions (`FP32`)."""
        t = _BY_NAME.get(name) or _BY_PRECISION.get(name.upper())
        if t is None:
            raise ValueError(f"unknown element type '{name}'")
        return t

    @staticmethod
    def from_dtype(dtype: object) -> "Type":
        """The IR type that stores NumPy `dtype` (bool, float16/32/64, int8..64, uint8..64, bf16, f8)."""
        d = np.dtype(dtype)
        t = _BY_DTYPE.get(d)
        if t is None and "ml_dtypes" in sys.modules:  # a dtype of ml_dtypes exists only once it is imported
            _load_ml_dtypes()
            t = _BY_DTYPE.get(d)
        if t is None:
            raise ValueError(f"no IR element type for NumPy dtype {d}")
        return t


ElementType = Type


class _MLType(Type):
    """bf16 and the f8 types: their NumPy dtypes come from ml_dtypes, imported on first use of `dtype` (the
    import costs about a second, more than the rest of `import irforge`)."""

    __slots__ = ()

    @property  # type: ignore[override]
    def dtype(self) -> np.dtype:
        dtype = _SLOT_DTYPE.__get__(self, Type)
        if dtype is None:
            _load_ml_dtypes()
            dtype = _SLOT_DTYPE.__get__(self, Type)
        return dtype  # type: ignore[no-any-return]


_SLOT_DTYPE = Type.__dict__["dtype"]  # the slot under `_MLType.dtype`
# IR name -> the ml_dtypes attribute holding its dtype
_ML_DTYPES = {"bf16": "bfloat16", "f8e4m3": "float8_e4m3fn", "f8e5m2": "float8_e5m2"}


def _load_ml_dtypes() -> None:
    """Import ml_dtypes and give bf16 and the f8 types their dtypes (once)."""
    if _BY_DTYPE_ML_DONE:
        return
    import ml_dtypes

    for name, attr in _ML_DTYPES.items():
        t = _BY_NAME[name]
        dtype = np.dtype(getattr(ml_dtypes, attr))
        _SLOT_DTYPE.__set__(t, dtype)
        _BY_DTYPE[dtype] = t
    _BY_DTYPE_ML_DONE.append(True)


_BY_DTYPE_ML_DONE: list[bool] = []

_DEFINITIONS = [
    ("boolean", "BOOL", np.bool_, 8),
    ("bf16", "BF16", "ml_dtypes", 16),
    ("f16", "FP16", np.float16, 16),
    ("f32", "FP32", np.float32, 32),
    ("f64", "FP64", np.float64, 64),
    ("i4", "I4", np.int8, 4),
    ("i8", "I8", np.int8, 8),
    ("i16", "I16", np.int16, 16),
    ("i32", "I32", np.int32, 32),
    ("i64", "I64", np.int64, 64),
    ("u1", "BIN", np.uint8, 1),
    ("u4", "U4", np.uint8, 4),
    ("u8", "U8", np.uint8, 8),
    ("u16", "U16", np.uint16, 16),
    ("u32", "U32", np.uint32, 32),
    ("u64", "U64", np.uint64, 64),
    ("f8e4m3", "F8E4M3", "ml_dtypes", 8),
    ("f8e5m2", "F8E5M2", "ml_dtypes", 8),
    ("string", "STRING", np.object_, 0),
    ("dynamic", "UNSPECIFIED", None, 0),
]
for _name, _precision, _dtype, _bits in _DEFINITIONS:
    type.__setattr__(Type, _name, Type._define(_name, _precision, _dtype, _bits))
type.__setattr__(Type, "ALL", tuple(getattr(Type, d[0]) for d in _DEFINITIONS))

_BY_NAME = {t.name: t for t in Type.ALL}
_BY_NAME["undefined"] = Type.dynamic
_BY_PRECISION = {t.precision: t for t in Type.ALL}
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
}  # bf16 and the f8 types join when ml_dtypes is imported (_load_ml_dtypes)
