"""ONNX tensor types <-> IR element types and shapes."""
from __future__ import annotations

import onnx

from irforge.errors import ModelReadError, UnsupportedOpsError
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import ElementType, Type

_ONNX_TO_IR: dict[int, ElementType] = {
    onnx.TensorProto.FLOAT: Type.f32,
    onnx.TensorProto.DOUBLE: Type.f64,
    onnx.TensorProto.FLOAT16: Type.f16,
    onnx.TensorProto.BFLOAT16: Type.bf16,
    onnx.TensorProto.INT8: Type.i8,
    onnx.TensorProto.INT16: Type.i16,
    onnx.TensorProto.INT32: Type.i32,
    onnx.TensorProto.INT64: Type.i64,
    onnx.TensorProto.UINT8: Type.u8,
    onnx.TensorProto.UINT16: Type.u16,
    onnx.TensorProto.UINT32: Type.u32,
    onnx.TensorProto.UINT64: Type.u64,
    onnx.TensorProto.BOOL: Type.boolean,
    onnx.TensorProto.STRING: Type.string,
    onnx.TensorProto.INT4: Type.i4,
    onnx.TensorProto.UINT4: Type.u4,
    onnx.TensorProto.FLOAT8E4M3FN: Type.f8e4m3,
    onnx.TensorProto.FLOAT8E5M2: Type.f8e5m2,
}


def element_type(onnx_type: int, what: str = "tensor") -> ElementType:
    """The IR element type of ONNX `TensorProto.DataType` `onnx_type`."""
    if onnx_type == onnx.TensorProto.UNDEFINED:
        return Type.dynamic
    et = _ONNX_TO_IR.get(onnx_type)
    if et is None:
        try:
            name = onnx.TensorProto.DataType.Name(onnx_type)
        except ValueError:  # a number no ONNX version defines
            raise UnsupportedOpsError(f"{what}: unknown ONNX element type {onnx_type}") from None
        raise UnsupportedOpsError(f"{what}: unsupported ONNX element type {name}")
    return et


def onnx_type(et: ElementType) -> int:
    for k, v in _ONNX_TO_IR.items():
        if v == et:
            return k
    raise ValueError(f"no ONNX type for {et}")


def value_info_type(vi: onnx.ValueInfoProto) -> tuple[ElementType, PartialShape]:
    """Element type and partial shape of a graph input/output (`dim_param` and missing dims are dynamic)."""
    tt = vi.type.tensor_type
    et = element_type(tt.elem_type, f"tensor '{vi.name}'")
    if not tt.HasField("shape"):
        return et, PartialShape(None)
    dims = []
    for i, d in enumerate(tt.shape.dim):
        if not d.HasField("dim_value") or d.dim_value == -1:  # -1: some exporters' spelling of a dynamic dim
            dims.append(Dimension())
        elif d.dim_value < 0:
            raise ModelReadError(f"tensor '{vi.name}': dimension {i} is {d.dim_value} (dims are >= 0, or dynamic)")
        else:
            dims.append(Dimension(d.dim_value, d.dim_value))
    return et, PartialShape(dims)
