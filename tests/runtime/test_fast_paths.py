"""The per-inference fast paths keep every promise of the slow ones: an input signature cached by one call never
lets a later wrong dtype, rank or dimension through (the message is the full check's), a model with dynamic
shapes switches plans when its input shapes alternate, outputs of consecutive inferences are distinct arrays that
belong to the caller, results look up like before, and the calling thread's torch state is left as it was.
(benchmarks/overhead.py measures these paths; no timing here.)"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import irforge
from irforge.errors import InferenceError
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.runtime.input_checker import InputChecker
from irforge.runtime.inputs import prepare_inputs
from tests.util import in_threads

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _relu(shape: Any = (2, 8)) -> Model:
    """y = Relu(x) + b, x: f32[shape], b: f32[shape] (two inputs, one output)."""
    x = parameter(Type.f32, list(shape), "x")
    b = parameter(Type.f32, list(shape), "b")
    y = make("Add", [make("Relu", [x.output(0)]).output(0), b.output(0)], name="y")
    return Model([result(y.output(0))], [x, b])


def _compile(model: Model, device: str = "CPU") -> irforge.CompiledModel:
    return irforge.Core().compile_model(model, device, F32)


def _feeds(shape: tuple[int, ...] = (2, 8), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(shape).astype(np.float32), "b": rng.standard_normal(shape).astype(np.float32)}


def _want(feeds: dict[str, np.ndarray]) -> np.ndarray:
    return np.maximum(feeds["x"], 0) + feeds["b"]


def _message(call: Any) -> str:
    with pytest.raises(InferenceError) as e:
        call()
    return str(e.value)


# ---------------------------------------------------------------- cached input signatures
BAD_INPUTS = [
    ({"x": np.zeros((2, 8), np.float64), "b": np.zeros((2, 8), np.float32)}, "element type f64 instead of f32"),
    ({"x": np.zeros((2, 8), np.float32), "b": np.zeros((2, 9), np.float32)}, "dim 1 is 9 instead of 8"),
    ({"x": np.zeros((2, 8, 1), np.float32), "b": np.zeros((2, 8), np.float32)}, "rank 3 instead of 2"),
    ({"x": np.zeros((2, 8), np.float32)}, "missing input(s): b"),
    ({"x": np.zeros((2, 8), np.float32), "b": np.zeros((2, 8), np.float32), "c": 1}, "unknown input 'c'"),
    ({"x": np.zeros((2, 8), np.float32), "Parameter_x": np.zeros((2, 8), np.float32)}, None),  # see below
]


@pytest.mark.parametrize("bad, part", BAD_INPUTS)
def test_a_cached_signature_never_accepts_a_wrong_input(bad: dict[str, Any], part: str | None) -> None:
    compiled = _compile(_relu())
    request = compiled.create_infer_request()
    good = _feeds()
    for _ in range(2):  # the second call takes the cached path
        np.testing.assert_allclose(request.infer(good)[0], _want(good), rtol=1e-6)
    want = _message(lambda: prepare_inputs(compiled.inputs, bad))  # the full check's message
    if part is not None:
        assert part in want
    assert _message(lambda: request.infer(bad)) == want
    assert _message(lambda: compiled(bad)) == want
    as_list = list(bad.values())
    try:
        prepare_inputs(compiled.inputs, as_list)
    except InferenceError as e:
        assert _message(lambda: compiled(as_list)) == str(e)
    np.testing.assert_allclose(request.infer(good)[0], _want(good), rtol=1e-6)  # and the good one still runs


def test_the_cached_path_rejects_what_the_full_check_rejects_for_every_kind_of_value() -> None:
    compiled = _compile(_relu())
    request = compiled.create_infer_request()
    good = _feeds()
    request.infer(good)
    x64 = good["x"].astype(np.float64)
    for call in (lambda: request.infer([x64, good["b"]]), lambda: request.infer({"x": irforge.Tensor(x64),
                                                                                 "b": good["b"]}),
                 lambda: request.set_input_tensor(0, irforge.Tensor(x64)),
                 lambda: request.set_tensor("x", irforge.Tensor(good["x"][:1])),
                 lambda: request.infer({"x": good["x"].reshape(16), "b": good["b"]})):
        assert "input 'x' expects f32[2,8]" in _message(call)


def test_one_input_model_takes_an_array_a_tensor_or_a_scalar_after_caching() -> None:
    x = parameter(Type.f32, [], "x")
    model = Model([result(make("Relu", [x.output(0)]).output(0))], [x])
    compiled = _compile(model)
    assert compiled(np.array(-2.0, np.float32))[0] == 0
    assert compiled(irforge.Tensor(np.array(3.0, np.float32)))[0] == 3
    assert compiled(5.0)[0] == 5  # a Python value takes the input's type (full path)
    assert "element type i64 instead of f32" in _message(lambda: compiled(np.array(1, np.int64)))
    assert "rank 1 instead of 0" in _message(lambda: compiled(np.zeros(1, np.float32)))


def test_non_contiguous_and_read_only_inputs_of_a_cached_signature() -> None:
    compiled = _compile(_relu((4, 8)))
    feeds = _feeds((4, 8))
    compiled(feeds)
    wide = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    strided = {"x": wide[:, ::2], "b": feeds["b"]}  # same dtype and shape, not contiguous
    np.testing.assert_allclose(compiled(strided)[0], _want(strided), rtol=1e-6)
    reversed_rows = {"x": feeds["x"][::-1], "b": feeds["b"]}  # negative strides
    np.testing.assert_allclose(compiled(reversed_rows)[0], _want(reversed_rows), rtol=1e-6)
    frozen = {k: v.copy() for k, v in feeds.items()}
    for v in frozen.values():
        v.flags.writeable = False
    np.testing.assert_allclose(compiled(frozen)[0], _want(feeds), rtol=1e-6)


def test_one_row_reversed_is_contiguous_with_a_negative_stride() -> None:
    """numpy calls a [1, N] array reversed along its length-1 axis C-contiguous; its stride is negative, which
    torch refuses to share: the input is copied, not rejected."""
    compiled = _compile(_relu((1, 8)))
    feeds = _feeds((1, 8))
    compiled(feeds)
    x = feeds["x"][::-1]
    assert x.flags.c_contiguous and min(x.strides) < 0
    np.testing.assert_allclose(compiled({"x": x, "b": feeds["b"]})[0], _want(feeds), rtol=1e-6)


def test_names_resolve_as_the_full_path_resolves_them() -> None:
    model = _relu()
    compiled = _compile(model)
    feeds = _feeds()
    node_names = {p.node.name: v for p, v in zip(model.inputs, feeds.values())}  # Parameter names work too
    checker = InputChecker(compiled.inputs)
    for given in (feeds, node_names, {"b": feeds["b"], "x": feeds["x"]}, list(feeds.values()),
                  tuple(feeds.values()), {0: feeds["x"], 1: feeds["b"]},
                  {compiled.input(1): feeds["b"], compiled.input(0): feeds["x"]}):
        for _ in range(2):
            got = checker.prepare(given)
            want = prepare_inputs(compiled.inputs, given)
            assert all(g is w for g, w in zip(got, want))
    duplicate = {"x": feeds["x"], model.inputs[0].node.name: feeds["x"]}  # one input twice, the other missing
    if model.inputs[0].node.name != "x":
        assert _message(lambda: checker.prepare(duplicate)) == _message(
            lambda: prepare_inputs(compiled.inputs, duplicate))
    assert _message(lambda: checker.prepare({"x": feeds["x"], "b": None})).startswith("missing input(s): b")


# ---------------------------------------------------------------- dynamic shapes
@pytest.mark.parametrize("device", ["CPU", "REF"])
def test_dynamic_shapes_alternating_between_two_shapes(device: str) -> None:
    compiled = _compile(_relu(("1..4", 8)), device)
    request = compiled.create_infer_request()
    small, large = _feeds((1, 8), seed=1), _feeds((3, 8), seed=3)
    for _ in range(3):
        for feeds in (small, large):
            np.testing.assert_allclose(request.infer(feeds)[0], _want(feeds), rtol=1e-6)
            np.testing.assert_allclose(compiled(list(feeds.values()))[0], _want(feeds), rtol=1e-6)
    assert "dim 0 is 5 outside 1..4" in _message(lambda: request.infer(_feeds((5, 8))))
    assert "dim 1 is 7 instead of 8" in _message(lambda: request.infer(_feeds((3, 7))))
    if device == "CPU":
        assert {k[0] for k in compiled.executable.plans} >= {((1, 8), (1, 8)), ((3, 8), (3, 8))}


def test_alternating_shapes_from_many_threads() -> None:
    compiled = irforge.Core().compile_model(_relu(("1..8", 8)), "CPU", {**F32, "PERFORMANCE_HINT": "THROUGHPUT"})

    def work(seed: int) -> None:
        for i in range(40):
            feeds = _feeds((1 + (seed + i) % 4, 8), seed=seed * 100 + i)
            np.testing.assert_allclose(compiled(feeds)[0], _want(feeds), rtol=1e-6)

    in_threads(work, 4)


# ---------------------------------------------------------------- outputs belong to the caller
def _identity_and_relu() -> Model:
    """Outputs that could alias: the input itself (through a Reshape, a view), a fresh Relu, and that Relu again."""
    x = parameter(Type.f32, [2, 8], "x")
    same = make("Reshape", [x.output(0), constant(np.array([2, 8], np.int64))], special_zero=False)
    relu = make("Relu", [x.output(0)])
    same.output(0).names.add("same")
    relu.output(0).names.add("relu")
    return Model([result(same.output(0)), result(relu.output(0)), result(relu.output(0))], [x])


@pytest.mark.parametrize("how", ["infer", "call", "preset"])
def test_outputs_of_consecutive_inferences_are_distinct_arrays(how: str) -> None:
    compiled = _compile(_identity_and_relu())
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    if how == "preset":
        request.set_input_tensor(irforge.Tensor(x))
    runs = {"infer": lambda: request.infer({"x": x}), "call": lambda: compiled([x]), "preset": lambda: request.infer()}
    first, second = runs[how](), runs[how]()
    arrays = [*first.to_tuple(), *second.to_tuple()]
    for i, a in enumerate(arrays):
        assert a.flags.writeable and a.flags.c_contiguous
        assert not np.shares_memory(a, x)
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
    for r in (first, second):
        np.testing.assert_array_equal(r[0], x)
        np.testing.assert_array_equal(r[1], np.maximum(x, 0))
        np.testing.assert_array_equal(r[2], np.maximum(x, 0))
    first[1][:] = 7  # the caller's to change: the next inference is unaffected
    np.testing.assert_array_equal(runs[how]()[1], np.maximum(x, 0))
    np.testing.assert_array_equal(second[1], np.maximum(x, 0))


def test_results_look_up_by_index_name_and_port() -> None:
    compiled = _compile(_identity_and_relu())
    x = np.ones((2, 8), np.float32)
    r = compiled({"x": x})
    assert r[0] is r["same"] and r[1] is r["relu"] is r[compiled.output(1)]  # a name: its first output
    assert r[2] is r[np.int64(2)] and r[2] is not r[1]  # (output 2 is the port of output 1: r[port] is r[1])
    for missing in (3, -1, "nope", 1.0):
        with pytest.raises(KeyError):
            r[missing]  # noqa: B018
    assert 2 in r and "relu" in r and 3 not in r and "nope" not in r
    assert list(r.keys()) == compiled.outputs and len(r) == 3
    assert r.by_name() == dict(zip(compiled.output_names, r.to_tuple()))


# ---------------------------------------------------------------- torch state of the calling thread
def test_the_calling_threads_inference_mode_is_left_as_it_was() -> None:
    compiled = _compile(_relu())
    feeds = _feeds()
    assert not torch.is_inference_mode_enabled()
    compiled(feeds)
    assert not torch.is_inference_mode_enabled()
    with torch.inference_mode():  # a caller already in inference mode (the runner does not enter it again)
        np.testing.assert_allclose(compiled(feeds)[0], _want(feeds), rtol=1e-6)
        assert torch.is_inference_mode_enabled()
    assert not torch.is_inference_mode_enabled()
    t = torch.ones(3, requires_grad=True)  # autograd still works in this thread afterwards
    (t * 2).sum().backward()
    assert t.grad is not None


def test_errors_leave_the_request_usable() -> None:
    compiled = _compile(_relu())
    request = compiled.create_infer_request()
    good = _feeds()
    request.infer(good)
    with pytest.raises(InferenceError):
        request.infer({"x": good["x"]})
    with pytest.raises(InferenceError, match="share_inputs: expected True or False"):
        request.infer(good, share_inputs=1)  # type: ignore[arg-type]
    np.testing.assert_allclose(request.infer(good)[0], _want(good), rtol=1e-6)
    np.testing.assert_allclose(request.infer()[0], _want(good), rtol=1e-6)  # the inputs of the last good call
