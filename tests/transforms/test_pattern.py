"""The pattern matcher and PatternPass driver on small hand-built graphs."""
import numpy as np
import pytest

from irforge.errors import OptionError
from irforge.ir.evaluate import evaluate_model
from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.transforms.base import PassManager, PatternPass
from irforge.transforms.pattern import Any, Const, Match, Op, OneOf, matches


def _graph(swap: bool = False, extra_use: bool = False) -> Model:
    x = parameter(Type.f32, [2, 3], "x").output(0)
    two = constant(np.float32(2.0))
    mul = make("Multiply", [two, x] if swap else [x, two], name="mul").output(0)
    add = make("Add", [mul, x], name="add").output(0)
    outs = [result(make("Relu", [add], name="relu").output(0))]
    if extra_use:
        outs.append(result(mul))
    return Model(outs, [x.node])


PAT = Op("Add", Op("Multiply", Any("x"), Const("k")), Any("x"))


@pytest.mark.parametrize("swap", [False, True])
def test_commutative_and_shared_binding(swap: bool) -> None:
    m = _graph(swap)
    add = next(n for n in m.ops() if n.type == "Add")
    found = list(matches(PAT, add.output(0)))
    assert len(found) == 1
    assert found[0]["x"] is m.inputs[0] and float(found[0]["k"]) == 2.0
    assert [n.type for n in found[0].nodes] == ["Add", "Multiply"]


def test_binding_must_agree() -> None:
    m = _graph()
    add = next(n for n in m.ops() if n.type == "Add")
    pat = Op("Add", Op("Multiply", Any("x"), Const()), Any("y", where=lambda o: o.node.type == "Constant"))
    assert not list(matches(pat, add.output(0)))
    assert list(matches(OneOf(pat, PAT), add.output(0)))


class _FoldAffine(PatternPass):
    """x*k + x -> x*(k+1): a toy fusion."""

    name = "toy"

    def pattern(self) -> Op:
        return PAT

    def rewrite(self, m: Match) -> Output:
        return make("Multiply", [m["x"], constant(np.float32(m["k"] + 1))]).output(0)


def test_pattern_pass_rewrites_and_cleans_up() -> None:
    m = _graph()
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 3
    before = evaluate_model(m, [x])
    report = PassManager([_FoldAffine()], validate=True).run(m)
    assert report.records[0].count == 1 and m.histogram()["Multiply"] == 1 and "Add" not in m.histogram()
    assert m.outputs[0].node.inputs[0].node.name == "add"  # the fused node keeps the replaced node's name
    np.testing.assert_array_equal(evaluate_model(m, [x])[0], before[0])
    assert len(m.inputs[0].uses) == 1  # the dead Multiply/Add no longer hold uses of x


def test_intermediate_used_elsewhere_is_not_fused() -> None:
    m = _graph(extra_use=True)
    PassManager([_FoldAffine()]).run(m)
    assert m.histogram()["Add"] == 1


def test_unknown_disabled_pass() -> None:
    with pytest.raises(OptionError, match="unknown pass.*nope"):
        PassManager([_FoldAffine()], disabled=["nope"])
