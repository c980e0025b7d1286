"""Shape-producing ops (ShapeOf, Range) and the shape-value helpers the movement and indexing ops share.

`partial_value` reads a shape-like input (a 1-D integer tensor such as Reshape's target) element by element:
known elements are ints, unknown ones are `SymDim`s that keep the bounds of the dimension they come from and,
when read straight from a ShapeOf, which tensor and axis they measure. It sees through the chains exporters
emit (ShapeOf -> Gather/Slice -> Concat -> Convert, simple arithmetic), so `x.view(x.size(0), -1)` on a
[?, 12, 64] input infers [?, 768] even though the batch dimension is unknown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, merged_type
from irforge.ir.shape import INF, Dimension, PartialShape
from irforge.ir.types import ElementType, Type

if TYPE_CHECKING:
    from irforge.ir.graph import Node, Output

_MAX_DEPTH = 24  # how far partial_value walks up a shape sub-graph
_MAX_LEN = 64  # longest shape-like value it tracks element by element
# Ops that only move elements around: their partial value is computed by running the kernel on positions.
_MOVEMENT = {"Gather", "StridedSlice", "Slice", "Squeeze", "Unsqueeze", "Reshape", "Concat", "Tile", "Broadcast",
             "Transpose", "Split", "VariadicSplit"}
_ARITHMETIC = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "FloorMod", "Mod"}
_NEUTRAL = {"Add": 0, "Subtract": 0, "Multiply": 1, "Divide": 1}  # x op neutral == x


@dataclass(frozen=True, eq=False)
class SymDim:
    """An element of a shape-like value unknown at conversion time: a dimension within `dim`'s bounds; when it
    is read from a ShapeOf, `source`/`axis` name the measured tensor dimension (equality is by identity)."""

    dim: Dimension
    source: "Output | None" = None
    axis: int = -1


def partial_value(out: "Output", depth: int = 0) -> "list[int | SymDim] | None":
    """The elements of a scalar or 1-D integer value (None when even its length is unknown)."""
    value = out.constant_value()
    if value is not None:
        v = np.asarray(value)
        if v.ndim > 1 or v.dtype.kind not in "iu" or v.size > _MAX_LEN:
            return None
        return [int(x) for x in v.reshape(-1)]
    node = out.node
    if depth > _MAX_DEPTH or not out.shape.rank_is_static or out.shape.rank > 1:
        return None
    if node.type == "ShapeOf":
        shape = node.inputs[0].shape
        if not shape.rank_is_static:
            return None
        return [d.min if d.is_static else SymDim(d, node.inputs[0], i) for i, d in enumerate(shape)]
    if node.type == "Convert":
        return partial_value(node.inputs[0], depth + 1) if out.element_type.is_integral else None
    if node.type in _MOVEMENT:
        return _moved(node, out.index, depth)
    if node.type in _ARITHMETIC and len(node.inputs) == 2:
        return _arithmetic(node, depth)
    return None


def shape_input(node: "Node", index: int) -> "list[int | SymDim] | None":
    """`partial_value` of input `index` (None when absent or unknown)."""
    return partial_value(node.inputs[index]) if index < len(node.inputs) else None


def as_dims(values: "list[int | SymDim]") -> list[Dimension]:
    """Shape-like elements as output dimensions (unknown elements keep their bounds)."""
    return [v.dim if isinstance(v, SymDim) else Dimension.of(v) for v in values]


def _moved(node: "Node", index: int, depth: int) -> "list[int | SymDim] | None":
    """Run a movement op's kernel on element positions, then pick the tracked elements at those positions."""
    data_inputs = range(len(node.inputs)) if node.type == "Concat" else (0,)
    pool: list[int | SymDim] = []
    args: list[np.ndarray] = []
    for i, src in enumerate(node.inputs):
        if i in data_inputs:
            elems = partial_value(src, depth + 1)
            if elems is None or not src.shape.is_static:
                return None
            args.append(np.arange(len(pool), len(pool) + len(elems), dtype=np.int64).reshape(src.shape.to_shape()))
            pool += elems
        else:
            v = src.constant_value()
            if v is None:
                return None
            args.append(np.asarray(v))
    try:
        positions = np.asarray(node.op.evaluate(node, args)[index])
    except Exception:  # an index pattern the kernel rejects leaves the value unknown
        return None
    if positions.ndim > 1:
        return None
    return [pool[int(p)] for p in positions.reshape(-1)]


def _arithmetic(node: "Node", depth: int) -> "list[int | SymDim] | None":
    a, b = (partial_value(src, depth + 1) for src in node.inputs)
    if a is None or b is None or (len(a) != len(b) and 1 not in (len(a), len(b))):
        return None
    n = max(len(a), len(b))
    a, b = (v * n if len(v) == 1 else v for v in (a, b))
    neutral = _NEUTRAL.get(node.type)
    out: list[int | SymDim] = []
    for x, y in zip(a, b):
        if isinstance(x, int) and isinstance(y, int):
            args = [np.asarray(v, src.element_type.dtype) for v, src in zip((x, y), node.inputs)]
            out.append(int(node.op.evaluate(node, args)[0]))
        elif isinstance(x, SymDim) and y == neutral:
            out.append(x)
        elif isinstance(y, SymDim) and x == neutral and node.type in ("Add", "Multiply"):
            out.append(y)
        else:
            out.append(SymDim(Dimension()))
    return out


def op_error(node: "Node", msg: str) -> GraphError:
    """An error naming the node and its op type."""
    return GraphError(f"node '{node.name}' ({node.type}): {msg}")


def merge_dim(a: Dimension, b: Dimension) -> Dimension:
    """The dimension that satisfies both `a` and `b` (they must be compatible)."""
    hi = a.max if b.max == INF else b.max if a.max == INF else min(a.max, b.max)
    lo = max(a.min, b.min)
    if hi != INF and lo > hi:
        raise GraphError(f"dimensions {a} and {b} are incompatible")
    return Dimension(lo, hi)


def numpy_dtype(et: ElementType) -> np.dtype:
    """The dtype a kernel creates values of `et` in."""
    assert et.dtype is not None, et
    return et.dtype


# ------------------------------------------------------------------------------------------------ ShapeOf
@register
class ShapeOf(OpSpec):
    type_name = "ShapeOf"
    version = "opset3"
    attrs = (Attr("output_type", "type", Type.i64),)
    min_inputs = 1
    max_inputs = 1

    def out_type(self, node: "Node") -> ElementType:
        et: ElementType = node.attrs["output_type"]
        if et not in (Type.i32, Type.i64):
            raise op_error(node, f"output_type must be i32 or i64, got {et}")
        return et

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        shape = node.inputs[0].shape
        length = Dimension.of(shape.rank) if shape.rank_is_static else Dimension()
        return [(self.out_type(node), PartialShape([length]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(np.shape(inputs[0]), dtype=node.outputs[0].element_type.dtype)]


@register
class ShapeOf1(ShapeOf):
    version = "opset1"
    attrs = ()

    def out_type(self, node: "Node") -> ElementType:
        return Type.i64


# ------------------------------------------------------------------------------------------------ Range
def range_length(start: float, stop: float, step: float, integral: bool) -> int:
    """OpenVINO's element count: inputs truncated toward zero for an integral output, then
    max(ceil((stop - start) / step), 0)."""
    if integral:
        start, stop, step = math.trunc(start), math.trunc(stop), math.trunc(step)
    if step == 0 or not all(map(math.isfinite, (start, stop, step))):
        raise GraphError("Range: step must be non-zero and the inputs finite")
    if (step > 0 and start >= stop) or (step < 0 and start <= stop):
        return 0
    return int(math.ceil(abs(stop - start) / abs(step)))


@register
class Range(OpSpec):
    """start, stop, step scalars -> [start, start+step, ...) computed in the output type (f64 accumulation
    for floating outputs)."""

    type_name = "Range"
    version = "opset4"
    attrs = (Attr("output_type", "type"),)
    min_inputs = 3
    max_inputs = 3

    def out_type(self, node: "Node") -> ElementType:
        return node.attrs["output_type"]

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        for i, what in enumerate(("start", "stop", "step")):
            s = node.inputs[i].shape
            if s.rank_is_static and s.rank != 0:  # OpenVINO's shape inference rejects a one-element 1-D too
                raise op_error(node, f"'{what}' must be a scalar, got [{s}]")
        et = self.out_type(node)
        values = [node.input_value(i) for i in range(3)]
        if any(v is None for v in values):
            return [(et, PartialShape.dynamic(1))]
        start, stop, step = (float(np.asarray(v, np.float64).reshape(-1)[0]) for v in values)
        n = range_length(start, stop, step, et.is_integral)
        return [(et, PartialShape([n]))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        start, stop, step = (float(np.asarray(v, np.float64).reshape(-1)[0]) for v in inputs)
        n = range_length(start, stop, step, et.is_integral)
        if et.is_integral:
            out = math.trunc(start) + np.arange(n, dtype=np.int64) * math.trunc(step)
        else:
            out = start + np.arange(n, dtype=np.float64) * step
        return [out.astype(numpy_dtype(et))]


@register
class Range1(Range):
    """Range-1: the output type is the (common) input type."""

    version = "opset1"
    attrs = ()

    def out_type(self, node: "Node") -> ElementType:
        return merged_type(node, (0, 1, 2))
