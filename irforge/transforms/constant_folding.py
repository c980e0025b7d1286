"""ConstantFolding: ops whose inputs are all constants (and ShapeOf of static shapes, and shape computations
whose elements are known though the shape is partly dynamic) become Constants, computed with the ops' own
reference kernels. Decompression Converts (FP16 weights) and weight dequantization
chains (i8/u8/i4/u4 Constant -> Convert -> [Subtract zero point] -> Multiply scale) stay, as in OpenVINO
(KeepConstPrecision, MarkDequantizationSubgraph), so compressed and quantized weights remain compressed.

Folding never allocates more than MAX_FOLD_BYTES (512 MiB) per node: enough for the largest weights real models
build in-graph (VGG-19's 25088x4096 f32 FC weight, 392 MiB, made by ConstantOfShape in onnx's light models), far
below what a folding bomb asks for. A node whose inferred outputs would be larger (a ConstantOfShape/Expand/Tile/Range of a few bytes that asks for gigabytes), or whose output size is not
known and whose constant inputs are larger, stays an op computed at run time. A node whose reference kernel
fails on its constant inputs also stays unfolded (inference or the device reports it, with the node's name)."""
from __future__ import annotations

import math

import numpy as np

from irforge.ir.graph import Model, Node, constant
from irforge.ir.ops.shape_ops import partial_value
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type
from irforge.transforms.base import Pass
from irforge.transforms.graph_edit import erase_if_dead, refresh_shapes

_NEVER_FOLD = {"Parameter", "Result", "Constant", "RandomUniform", "ReadValue", "Assign", "FakeQuantize"}

MAX_FOLD_BYTES = 512 << 20  # the largest value one folded node may produce (all its outputs together)


_QUANTIZED_WEIGHT_TYPES = (Type.i8, Type.u8, Type.i4, Type.u4)


def is_decompression(node: Node) -> bool:
    return "decompression" in node.rt_info


def _low_precision_convert(node: Node) -> bool:
    """A Convert of an i8/u8/i4/u4 Constant to a float type."""
    if node.type != "Convert":
        return False
    src = node.inputs[0]
    return (src.node.type == "Constant" and src.element_type in _QUANTIZED_WEIGHT_TYPES
            and node.outputs[0].element_type.is_float)


def _dequantizes(node: Node) -> bool:
    """A zero-point Subtract (data - zp) or scale Multiply (either order) of a dequantization chain: its data is
    a low-precision Convert or an earlier step, the other input a Constant or a low-precision Convert."""
    if node.type not in ("Subtract", "Multiply") or len(node.inputs) != 2:
        return False
    orders = [(0, 1), (1, 0)] if node.type == "Multiply" else [(0, 1)]
    for d, b in orders:
        data, by = node.inputs[d].node, node.inputs[b].node
        by_ok = by.type == "Constant" or _low_precision_convert(by)
        if by_ok and (_low_precision_convert(data) or _dequantizes(data)):
            return True
    return False


def is_weight_dequantization(node: Node) -> bool:
    """A step of the dequantization of low-precision weights (Convert -> [Subtract zero point] -> Multiply
    scale, as MarkDequantizationSubgraph matches it), kept as it is. A low-precision Convert counts only when it
    feeds such a step: one that feeds other arithmetic (a u8 mask in `(1 - mask) * -1e4`) folds."""
    if node.type == "Convert":
        return _low_precision_convert(node) and any(_dequantizes(c) for c, _ in node.outputs[0].uses)
    return _dequantizes(node)


def _known_shape_elements(node: Node) -> list[np.ndarray] | None:
    """The value of a one-output shape computation whose elements are all known though its inputs are not, e.g.
    Gather(ShapeOf(x), 1) when only x's batch is dynamic (the symbolic tracking of shape_ops.partial_value)."""
    out = node.outputs[0] if len(node.outputs) == 1 else None
    if out is None or not out.element_type.is_integral or not out.shape.is_static or out.shape.rank > 1:
        return None
    elems = partial_value(out)
    if elems is None or not all(isinstance(e, int) for e in elems):
        return None
    return [np.array(elems, dtype=out.element_type.dtype).reshape(out.shape.to_shape())]


def _nbytes(shape: PartialShape, et: ElementType) -> int | None:
    """Bytes of a value of `shape` (None when its size is not known yet)."""
    if not shape.is_static:
        return None
    return (math.prod(shape.to_shape()) * max(et.bits, 8) + 7) // 8


def _too_large(node: Node) -> bool:
    """Whether folding `node` could allocate more than MAX_FOLD_BYTES: its outputs' inferred sizes, or, when
    one is unknown (data-dependent, as NonZero's), its constant inputs' sizes, bound what it produces."""
    sizes = [_nbytes(o.shape, o.element_type) for o in node.outputs]
    if all(size is not None for size in sizes):
        return sum(sizes) > MAX_FOLD_BYTES  # type: ignore[arg-type]
    return sum(src.node.data.nbytes for src in node.inputs
               if src.node.type == "Constant" and src.node.data is not None) > MAX_FOLD_BYTES


def _folded_values(node: Node) -> list[np.ndarray] | None:
    """The node's output values if they are known now (and not too large to compute), else None."""
    if _too_large(node):
        return None
    if node.type == "ShapeOf":
        shape = node.inputs[0].shape
        if not shape.is_static:
            return None
        return [np.array(shape.to_shape(), dtype=node.outputs[0].element_type.dtype)]
    values = []
    for src in node.inputs:
        if src.node.type != "Constant" or is_decompression(src.node):
            return _known_shape_elements(node)
        assert src.node.data is not None
        values.append(src.node.data)
    try:
        return node.op.evaluate(node, values)
    except Exception:  # e.g. a Range with step 0: left to inference / the device, which name the node
        return None


class ConstantFolding(Pass):
    name = "constant_folding"
    description = "evaluate ops whose inputs are constants (incl. static ShapeOf sub-graphs) at conversion time"

    def run(self, model: Model) -> bool:
        changed = False
        for node in model.ops():
            if node.type in _NEVER_FOLD or node.bodies or is_decompression(node) or is_weight_dequantization(node):
                continue
            outs = _folded_values(node)
            if outs is None:
                continue
            for out, value in zip(node.outputs, outs):
                if not out.uses:
                    continue
                arr = np.asarray(value)
                if out.element_type.dtype is not None:
                    arr = arr.astype(out.element_type.dtype, copy=False)
                new = constant(arr, name=node.name if len(node.outputs) == 1 else f"{node.name}:{out.index}")
                out.replace_all_uses_with(new)
            erase_if_dead(node)
            self.count += 1
            changed = True
        if changed:
            refresh_shapes(model)
        return changed
