"""Matrix products: MatMul (with embedded transposes and 1-D operands) and Einsum."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from irforge.errors import GraphError
from irforge.ir.opset import Attr, OpSpec, register
from irforge.ir.ops._base import TypedShape, accumulate, from_compute, merged_type, to_compute
from irforge.ir.shape import Dimension, PartialShape, broadcast_dim, broadcast_shapes

if TYPE_CHECKING:
    from irforge.ir.graph import Node


@register
class MatMul(OpSpec):
    """Transposes apply to the two last axes of operands of rank >= 2; a 1-D first operand is a row vector and a
    1-D second operand a column vector, and those inserted axes are dropped from the result."""

    type_name = "MatMul"
    attrs = (Attr("transpose_a", "bool", False), Attr("transpose_b", "bool", False))
    min_inputs = 2
    max_inputs = 2

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = merged_type(node)
        a, b = node.inputs[0].shape, node.inputs[1].shape
        if not (a.rank_is_static and b.rank_is_static):
            return [(et, PartialShape(None))]
        if a.rank == 0 or b.rank == 0:
            raise GraphError(f"node '{node.name}' (MatMul): scalar operands are not allowed ({a} x {b})")
        da = list(a.dims) if a.rank > 1 else [Dimension.of(1), a[0]]
        db = list(b.dims) if b.rank > 1 else [b[0], Dimension.of(1)]
        if a.rank > 1 and node.attrs["transpose_a"]:
            da[-2], da[-1] = da[-1], da[-2]
        if b.rank > 1 and node.attrs["transpose_b"]:
            db[-2], db[-1] = db[-1], db[-2]
        if da[-1].is_static and db[-2].is_static and da[-1].min != db[-2].min:
            raise GraphError(f"node '{node.name}' (MatMul): inner dimensions differ ({a} x {b})")
        batch = broadcast_shapes(PartialShape(da[:-2]), PartialShape(db[:-2])).dims
        out = list(batch) + ([da[-2]] if a.rank > 1 else []) + ([db[-1]] if b.rank > 1 else [])
        return [(et, PartialShape(out))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        a, b = (accumulate(v, et) for v in inputs)
        if a.ndim > 1 and node.attrs["transpose_a"]:
            a = np.swapaxes(a, -1, -2)
        if b.ndim > 1 and node.attrs["transpose_b"]:
            b = np.swapaxes(b, -1, -2)
        return [from_compute(np.matmul(a, b), et)]


def _split_equation(equation: str) -> tuple[list[str], str | None]:
    """Input subscripts and the output subscript (None in implicit mode), spaces removed."""
    eq = equation.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    return lhs.split(","), (rhs if "->" in eq else None)


def _implicit_output(inputs: list[str]) -> str:
    """Implicit mode: the ellipsis first, then the labels used once, in alphabetical order (capitals first)."""
    labels = "".join(s.replace("...", "") for s in inputs)
    once = sorted(ch for ch in set(labels) if labels.count(ch) == 1)
    return ("..." if any("..." in s for s in inputs) else "") + "".join(once)


def _label_dims(subscript: str, shape: PartialShape) -> tuple[dict[str, Dimension], list[Dimension]]:
    """Map each label of `subscript` to its dimension (repeated labels merged) and list the ellipsis dims."""
    head, ell, tail = subscript.partition("...")
    n_ell = shape.rank - len(head) - len(tail)
    if (not ell and n_ell != 0) or n_ell < 0:
        raise ValueError(f"subscript '{subscript}' does not match rank {shape.rank}")
    dims = shape.dims
    ell_dims = list(dims[len(head):len(head) + n_ell]) if ell else []
    labelled = list(zip(head, dims[:len(head)])) + list(zip(tail, dims[len(dims) - len(tail):]))
    out: dict[str, Dimension] = {}
    for label, dim in labelled:
        out[label] = broadcast_dim(out[label], dim) if label in out else dim
    return out, ell_dims


@register
class Einsum(OpSpec):
    type_name = "Einsum"
    version = "opset7"
    attrs = (Attr("equation", "str"),)
    min_inputs = 1

    def infer(self, node: "Node") -> list[TypedShape]:
        self.check_inputs(node)
        et = merged_type(node, tuple(range(len(node.inputs))))
        subs, out_sub = _split_equation(node.attrs["equation"])
        if len(subs) != len(node.inputs):
            raise GraphError(f"node '{node.name}' (Einsum): equation '{node.attrs['equation']}' has {len(subs)} "
                             f"operands, the node {len(node.inputs)} inputs")
        if out_sub is None:
            out_sub = _implicit_output(subs)
        if not all(i.shape.rank_is_static for i in node.inputs):
            return [(et, PartialShape(None))]
        labels: dict[str, Dimension] = {}
        ell = PartialShape([])
        for sub, src in zip(subs, node.inputs):
            dims, ell_dims = _label_dims(sub, src.shape)
            for label, dim in dims.items():
                labels[label] = broadcast_dim(labels[label], dim) if label in labels else dim
            ell = broadcast_shapes(ell, PartialShape(ell_dims))
        head, has_ell, tail = out_sub.partition("...")
        try:
            out = [labels[ch] for ch in head] + (list(ell.dims) if has_ell else []) + [labels[ch] for ch in tail]
        except KeyError as e:
            raise GraphError(f"node '{node.name}' (Einsum): output label {e} is not in any input") from None
        return [(et, PartialShape(out))]

    def evaluate(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        et = node.outputs[0].element_type
        subs, out_sub = _split_equation(node.attrs["equation"])
        equation = ",".join(subs) + ("" if out_sub is None else "->" + out_sub)
        out = np.einsum(equation, *(to_compute(v, et) for v in inputs))
        return [from_compute(out, et)]
