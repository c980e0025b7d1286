"""Model/Node/Output: uses kept exact on rewiring, topological order, validation, attribute checks."""
import numpy as np
import pytest

from irforge.errors import GraphError
from irforge.ir.evaluate import evaluate_model
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type


def _model() -> tuple[Model, object]:
    x = parameter(Type.f32, [None, 3], "x")
    w = constant(np.array([1, 2, 3], np.float32), name="w")
    add = make("Add", [x.output(0), w], name="add")
    relu = make("Relu", [add.output(0)], name="relu")
    return Model([result(relu.output(0))], [x], "m"), add


def test_order_uses_and_eval() -> None:
    m, add = _model()
    assert [n.name for n in m.nodes()][0] == "x" and m.nodes()[-1].type == "Result"
    assert len(add.output(0).uses) == 1
    m.validate()
    out = evaluate_model(m, [np.array([[-5, 0, 1]], np.float32)])[0]
    np.testing.assert_array_equal(out, [[0, 2, 4]])


def test_replace_all_uses_bypasses_node() -> None:
    m, add = _model()
    relu = add.output(0).uses[0][0]
    relu.output(0).replace_all_uses_with(add.output(0))
    relu.detach()
    m.validate()
    assert m.histogram().get("Relu") is None
    assert evaluate_model(m, [np.array([[-5, 0, 1]], np.float32)])[0].tolist() == [[-4, 2, 4]]


def test_attribute_and_inference_errors_name_the_node() -> None:
    x = parameter(Type.f32, [2, 3], "x")
    with pytest.raises(GraphError, match="node 'bad' .*unknown attribute"):
        make("Add", [x.output(0), x.output(0)], name="bad", nonsense=1)
    y = parameter(Type.f32, [4], "y")
    with pytest.raises(GraphError, match="node 'mix' \\(Add\\).*do not broadcast"):
        make("Add", [x.output(0), y.output(0)], name="mix")
    i = parameter(Type.i64, [2, 3], "i")
    with pytest.raises(GraphError, match="element types differ"):
        make("Add", [x.output(0), i.output(0)], name="types")


def test_validate_catches_unlisted_parameter() -> None:
    x = parameter(Type.f32, [2], "x")
    stray = parameter(Type.f32, [2], "stray")
    add = make("Add", [x.output(0), stray.output(0)])
    with pytest.raises(GraphError, match="Parameter 'stray'"):
        Model([result(add.output(0))], [x]).validate()
