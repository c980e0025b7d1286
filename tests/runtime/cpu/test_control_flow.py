"""If, Loop and TensorIterator on the CPU device (lowerings/control_flow.py): bodies compiled as CPU plans of their
own, the op's logic REF's; Ifs that the input shapes decide inlined at plan time (specialize.py). Against ONNX
Runtime and REF, on ONNX models with outer-scope captures, carried values, scan outputs, nested bodies and the
torch exporter's conditional squeeze."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto as T
from onnx import helper as oh
from onnx import numpy_helper

import irforge
from irforge.errors import GraphError
from irforge.ir.clone import bind_parameters
from irforge.ir.graph import Model, make, parameter, result
from irforge.ir.types import Type
from irforge.runtime.devices.cpu import CPUExecutable
from tests.ir.test_ops_control import (_feeds, _if_model, _loop_model, _model, _nested_model, _tensor_iterator, _vi,
                                       _while_model)
from tests.runtime.cpu.helpers import check, cpu_config
from tests.torch_export import export_onnx
from tests.util import assert_close, run_ort, run_ref
from irforge.transforms import loop_unrolling

RNG = np.random.default_rng(3)
V3 = np.array([1, 2, 3], np.float32)
X3 = np.array([0.5, -1, 2], np.float32)


def _cpu(model: Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return irforge.Core().compile_model(model, "CPU", cpu_config())(inputs).values_list()


def _step_types(model: Model, inputs: list[np.ndarray]) -> list[str]:
    """The op types of the steps of the plan these inputs get."""
    ex = CPUExecutable(model, cpu_config())
    ex.create_runner().run(inputs)
    (plan,) = ex.plans.values()
    return [s.type for s in plan.steps]


CASES: list[tuple[str, Any, dict[str, Any], str]] = [
    ("if-then", _if_model, {"c": True, "x": RNG.standard_normal((2, 3)), "y": RNG.standard_normal((2, 3))}, "cpu_if"),
    ("if-else", _if_model, {"c": False, "x": RNG.standard_normal((2, 3)), "y": RNG.standard_normal((2, 3))},
     "cpu_if"),
    ("loop-4", _loop_model, {"M": np.int64(4), "cond": True, "v0": V3, "x0": X3}, "cpu_loop"),
    ("loop-0", _loop_model, {"M": np.int64(0), "cond": True, "v0": V3, "x0": X3}, "cpu_loop"),
    ("loop-not-started", _loop_model, {"M": np.int64(3), "cond": False, "v0": V3, "x0": X3}, "cpu_loop"),
    ("while", _while_model, {"cond": True, "v0": np.float32(1.5), "limit": np.float32(40)}, "cpu_loop"),
    ("if-in-loop-then", _nested_model, {"M": np.int64(3), "flag": True, "v0": V3, "x": X3}, "cpu_loop"),
    ("if-in-loop-else", _nested_model, {"M": np.int64(3), "flag": False, "v0": V3, "x": X3}, "cpu_loop"),
]


@pytest.mark.parametrize("build,values,fast", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bodies_run_as_cpu_plans(build: Any, values: dict[str, Any], fast: str) -> None:
    proto = build()
    feeds = {k: np.asarray(v, np.float32) if np.asarray(v).dtype == np.float64 else v
             for k, v in _feeds(proto, **values).items()}
    model = irforge.convert_model(proto)
    inputs = list(feeds.values())
    check(model, inputs, fast)
    assert_close(_cpu(model, inputs), run_ort(proto, feeds), atol=1e-5)


@pytest.mark.parametrize("unroll", [True, False])
@pytest.mark.parametrize("stride", [1, -1])
def test_tensor_iterator_unrolled_or_run_as_a_cpu_plan(monkeypatch: pytest.MonkeyPatch, stride: int,
                                                       unroll: bool) -> None:
    """Its 5 iterations are known from the sliced input's static length: unrolled into the plan (UnrollSmallLoops),
    or, above the unrolling limit, its body runs as a CPU plan per iteration."""
    if not unroll:
        monkeypatch.setattr(loop_unrolling, "MAX_ITERATIONS", 4)
    model = _tensor_iterator(stride)
    inputs = [RNG.standard_normal(tuple(p.get_shape())).astype(np.float32) for p in model.inputs]
    check(model, inputs, "torch_" if unroll else "cpu_tensoriterator")
    assert ("TensorIterator" in _step_types(model, inputs)) is not unroll


@pytest.mark.parametrize("trips", [0, 1, 3, 20])
@pytest.mark.parametrize("cond", [True, False])
def test_loop_with_a_constant_trip_count(trips: int, cond: bool) -> None:
    """A Loop whose trip count and start condition are constants: unrolled when 1 to 16 iterations run, else its
    body runs as a CPU plan; the scan output and the carried value equal ONNX Runtime's."""
    proto = _loop_model()
    feeds = _feeds(proto, M=np.int64(trips), cond=cond, v0=V3, x0=X3)
    consts = {k: feeds.pop(k) for k in ("M", "cond")}
    proto = irforge_constants(proto, consts)
    model = irforge.convert_model(proto)
    inputs = list(feeds.values())
    assert_close(_cpu(model, inputs), run_ort(proto, feeds), atol=1e-5)
    unrolled = cond and 1 <= trips <= loop_unrolling.MAX_ITERATIONS
    assert ("Loop" in _step_types(model, inputs)) is not unrolled


def irforge_constants(proto: onnx.ModelProto, values: dict[str, np.ndarray]) -> onnx.ModelProto:
    """`proto` with the graph inputs named in `values` turned into initializers."""
    p = onnx.ModelProto()
    p.CopyFrom(proto)
    keep = [i for i in p.graph.input if i.name not in values]
    del p.graph.input[:]
    p.graph.input.extend(keep)
    p.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), k) for k, v in values.items())
    return p


def _if_with_outer_weights(hidden: int = 16) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Each branch multiplies x by a weight of the outer graph (an initializer the branch captures), then GELU /
    tanh: inside the compiled body the weight is a Constant (bound at plan time), so the MatMul is a linear."""
    w1 = (RNG.standard_normal((hidden, hidden)) * 0.3).astype(np.float32)
    w2 = (RNG.standard_normal((hidden, hidden)) * 0.3).astype(np.float32)
    then_g = oh.make_graph([oh.make_node("MatMul", ["x", "w1"], ["m"]), oh.make_node("Relu", ["m"], ["t"])],
                           "then", [], [_vi("t", T.FLOAT, [2, hidden])])
    else_g = oh.make_graph([oh.make_node("MatMul", ["x", "w2"], ["n"]), oh.make_node("Tanh", ["n"], ["e"])],
                           "else", [], [_vi("e", T.FLOAT, [2, hidden])])
    proto = _model([oh.make_node("If", ["c"], ["out"], then_branch=then_g, else_branch=else_g)],
                   [_vi("c", T.BOOL, []), _vi("x", T.FLOAT, [2, hidden])], [_vi("out", T.FLOAT, [2, hidden])],
                   inits=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return proto, {"x": RNG.standard_normal((2, hidden)).astype(np.float32)}


@pytest.mark.parametrize("cond", [True, False])
def test_outer_weights_are_constants_of_the_compiled_body(monkeypatch: pytest.MonkeyPatch, cond: bool) -> None:
    proto, feeds = _if_with_outer_weights()
    feeds = {"c": np.array(cond), **feeds}
    model = irforge.convert_model(proto)
    built: list[list[str]] = []
    real = CPUExecutable._build

    def spy(self: CPUExecutable, key: Any) -> Any:
        plan = real(self, key)
        built.append([s.exec_type for s in plan.steps])
        return plan
    monkeypatch.setattr(CPUExecutable, "_build", spy)
    got = _cpu(model, list(feeds.values()))
    assert_close(got, run_ort(proto, feeds), atol=1e-5)
    body = built[-1]  # the taken branch's plan (built when it first ran)
    assert any(t.startswith("mkl_linear") for t in body), body


def test_bind_parameters_makes_constants_and_keeps_the_rest() -> None:
    a, b = parameter(Type.f32, [2], "a"), parameter(Type.f32, [2], "b")
    body = Model([result(make("Subtract", [a.output(0), b.output(0)]).output(0))], [a, b])
    bound = bind_parameters(body, {1: np.array([1.0, 4.0], np.float32)})
    assert [p.name for p in bound.parameters] == ["a"] and [p.name for p in body.parameters] == ["a", "b"]
    np.testing.assert_array_equal(run_ref(bound, [np.array([3.0, 3.0], np.float32)])[0], [2.0, -1.0])


def _conditional_squeeze(x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
    return x.squeeze(1) * 2.0 if bool(flag) else x.squeeze(1) - 1.0


@pytest.fixture(scope="module")
def squeeze_proto() -> onnx.ModelProto:
    """torch's `squeeze(1)` on a dynamic dimension: If(shape[1] == 1, Squeeze, Identity), inside a runtime If."""
    return export_onnx(torch.jit.script(_conditional_squeeze), [np.ones((3, 1, 4), np.float32), np.array(True)],
                       opset=13, input_names=["x", "flag"], dynamic_axes={"x": {0: "b", 1: "n"}})


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("flag", [True, False])
def test_shape_decided_ifs_are_inlined_in_the_plan(squeeze_proto: onnx.ModelProto, n: int, flag: bool) -> None:
    """The IR keeps the Ifs (shapes are dynamic); the plan for concrete shapes inlines the conditional squeezes
    (branches of different ranks) of whichever outer branch runs, and only the runtime If is a step."""
    model = irforge.convert_model(squeeze_proto)
    feeds = {"x": RNG.standard_normal((2, n, 4)).astype(np.float32), "flag": np.array(flag)}
    inputs = list(feeds.values())
    assert_close(_cpu(model, inputs), run_ort(squeeze_proto, feeds))
    assert _step_types(model, inputs).count("If") == 1


def test_static_shapes_and_a_decided_condition_leave_no_if_step() -> None:
    proto = export_onnx(lambda x: x.squeeze(1) * 2, [np.ones((3, 1, 4), np.float32)], opset=13, input_names=["x"],
                        dynamic_axes={"x": {0: "b", 1: "n"}})
    model = irforge.convert_model(proto)
    assert any(n.type == "If" for n in model.ops())
    for n in (1, 3):
        x = RNG.standard_normal((2, n, 4)).astype(np.float32)
        assert "If" not in _step_types(model, [x])
        assert_close(_cpu(model, [x]), run_ort(proto, {"x": x}))


def test_a_failing_body_step_names_the_if_and_the_step() -> None:
    """An error inside a body names the op holding the body and the body's failing node."""
    then_g = oh.make_graph([oh.make_node("Reshape", ["x", "s"], ["t"])], "then", [], [_vi("t", T.FLOAT, None)])
    else_g = oh.make_graph([oh.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e", T.FLOAT, None)])
    proto = _model([oh.make_node("If", ["c"], ["out"], then_branch=then_g, else_branch=else_g)],
                   [_vi("c", T.BOOL, []), _vi("x", T.FLOAT, [3]), _vi("s", T.INT64, [2])], [_vi("out", T.FLOAT, None)])
    model = irforge.convert_model(proto)
    compiled = irforge.Core().compile_model(model, "CPU", cpu_config())
    with pytest.raises(GraphError, match=r"If.*Reshape"):
        compiled([np.array(True), X3, np.array([2, 2], np.int64)])
    np.testing.assert_array_equal(compiled([np.array(False), X3, np.array([2, 2], np.int64)])[0], X3)
