"""SimplifyReshapeTarget: `x.view(x.size(0), x.size(1), h, -1)`-style targets computed from ShapeOf become
constants with special zeros / -1; the shape sub-graph dies; outputs stay ONNX Runtime's at several input shapes."""
from __future__ import annotations


import numpy as np
import onnx
import pytest
import torch

import irforge
from irforge.ir.graph import Model
from irforge.transforms.base import PassManager
from irforge.transforms.cleanup import DeadCodeElimination
from irforge.transforms.reshape_simplification import SimplifyReshapeTarget
from tests.torch_export import export_onnx
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(0)


def export(fn, shapes: list[tuple[int, ...]], dynamic: dict[int, str]) -> onnx.ModelProto:  # type: ignore[no-untyped-def]
    names = [f"x{i}" for i in range(len(shapes))]
    return export_onnx(fn, [torch.zeros(s) for s in shapes], input_names=names, dynamic_axes={n: dynamic for n in names})


def simplify(proto: onnx.ModelProto) -> tuple[Model, int]:
    model = irforge.convert_model(proto, optimize=False)
    p = SimplifyReshapeTarget()
    PassManager([p, DeadCodeElimination()], validate=True).run(model)
    return model, p.count


def check_outputs(proto: onnx.ModelProto, model: Model, shapes: list[list[tuple[int, ...]]]) -> None:
    for per_input in shapes:
        xs = [RNG.standard_normal(s).astype(np.float32) for s in per_input]
        want = run_ort(proto, {f"x{i}": x for i, x in enumerate(xs)})
        assert_close(run_ref(model, xs), want, atol=0, what=f"REF {per_input}")
        assert_close(run_openvino(model, xs), want, atol=0, what=f"OpenVINO {per_input}")


SIMPLIFIED = {
    # fn, example shape, dynamic axes, expected constant target
    "heads_split": (lambda x: x.view(x.size(0), x.size(1), 4, 16), (2, 5, 64), {0: "b", 1: "s"}, [0, 0, 4, 16]),
    "heads_merge": (lambda x: x.reshape(x.size(0), x.size(1), -1), (2, 5, 4, 16), {0: "b", 1: "s"}, [0, 0, -1]),
    "flatten_batch": (lambda x: x.view(x.size(0), -1), (2, 3, 4, 5), {0: "b"}, [0, -1]),
    "one_unknown_becomes_minus_one": (lambda x: x.view(x.size(0) * x.size(1), 20), (4, 6, 20), {0: "a", 1: "c"},
                                      [-1, 20]),
}


@pytest.mark.parametrize("case", SIMPLIFIED.values(), ids=SIMPLIFIED.keys())
def test_target_becomes_constant(case) -> None:  # type: ignore[no-untyped-def]
    fn, shape, dynamic, target = case
    proto = export(fn, [shape], dynamic)
    model, count = simplify(proto)
    assert count == 1
    (reshape,) = [n for n in model.ops() if n.type == "Reshape"]
    assert reshape.inputs[1].node.type == "Constant" and reshape.attrs["special_zero"]
    assert reshape.inputs[1].node.data.tolist() == target
    assert "ShapeOf" not in model.histogram() and "Concat" not in model.histogram()
    other = tuple(d + 1 if i in dynamic else d for i, d in enumerate(shape))
    check_outputs(proto, model, [[shape], [other]])


def test_two_unknown_dims_stay() -> None:
    """x.view(x.size(1), x.size(0), -1): two dims in swapped places, plus a -1: nothing can replace them."""
    proto = export(lambda x: x.view(x.size(1), x.size(0), -1), [(3, 4, 5)], {0: "a", 1: "b"})
    model, count = simplify(proto)
    assert count == 0 and "ShapeOf" in model.histogram()
    check_outputs(proto, model, [[(3, 4, 5)], [(2, 6, 5)]])


def test_dims_of_another_tensor_stay() -> None:
    """The target reads y's dims: equal for valid inputs, maybe, but nothing says so."""
    proto = export(lambda x, y: x.view(y.size(0), y.size(1), -1), [(2, 3, 8), (2, 3)], {0: "a", 1: "b"})
    model, count = simplify(proto)
    assert count == 0
    check_outputs(proto, model, [[(2, 3, 8), (2, 3)], [(4, 6, 8), (4, 6)]])
