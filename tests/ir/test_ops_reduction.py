"""Reduction, softmax, TopK, CumSum and OneHot IR ops: REF against OpenVINO (through irforge's own IR) for what
the ONNX node cases do not reach (ReduceLogicalAnd/Or, TopK sort modes and old versions, Softmax-1 vs -8,
OneHot-16, integer reductions), shape inference with unknown inputs, and the family's ONNX translators at the
opsets and input forms the node cases miss (checked against ONNX Runtime)."""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

from irforge.errors import GraphError
from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.shape import PartialShape
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.util import assert_close, run_openvino, run_ref

RNG = np.random.default_rng(7)


def _check(outs: list[Output], params: list, inputs: list[np.ndarray], openvino: bool = True) -> list[np.ndarray]:
    """REF (after an IR round trip) and, with `openvino`, OpenVINO agree; returns the REF outputs."""
    model = Model([result(o) for o in outs], params)
    model.validate()
    ref = run_ref(model_from_xml(*model_to_xml(model)), inputs)
    for o, r in zip(outs, ref):
        assert o.shape.compatible(r.shape), f"{o.node.type}: inferred {o.shape}, computed {r.shape}"
    if openvino:
        assert_close(run_openvino(model, inputs), ref, what=outs[0].node.type)
    return ref


def _reduce(op: str, x: np.ndarray, axes: list[int], keep: bool, **kw: Any) -> np.ndarray:
    p = parameter(Type.from_dtype(x.dtype), x.shape, "x")
    node = make(op, [p.output(0), constant(np.array(axes, np.int64))], keep_dims=keep, **kw)
    return _check([node.output(0)], [p], [x])[0]


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                "ReduceL2"])
@pytest.mark.parametrize("axes,keep", [([1], True), ([0, 2], False), ([-1], False), ([0, 1, 2], True)])
def test_numeric_reductions(op: str, axes: list[int], keep: bool) -> None:
    x = RNG.uniform(-2, 2, (2, 3, 4)).astype(np.float32)
    _reduce(op, x, axes, keep)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1"])
def test_integer_reductions(op: str) -> None:
    x = RNG.integers(-7, 8, (3, 5)).astype(np.int32)
    _reduce(op, x, [1], False)


def test_integer_mean_truncates() -> None:
    x = np.array([[1, 2], [-1, -2], [3, 3]], np.int32)
    np.testing.assert_array_equal(_reduce("ReduceMean", x, [1], False), [1, -1, 3])


@pytest.mark.parametrize("op,fn", [("ReduceLogicalAnd", np.all), ("ReduceLogicalOr", np.any)])
@pytest.mark.parametrize("axes,keep", [([0], True), ([1, -1], False)])
def test_logical_reductions(op: str, fn: Any, axes: list[int], keep: bool) -> None:
    x = RNG.random((4, 3, 2)) > 0.4
    got = _reduce(op, x, axes, keep)
    np.testing.assert_array_equal(got, fn(x, axis=tuple(axes), keepdims=keep))


def test_logical_reduction_needs_boolean() -> None:
    p = parameter(Type.f32, [2, 3], "x")
    with pytest.raises(GraphError, match="boolean"):
        make("ReduceLogicalOr", [p.output(0), constant(np.array([0], np.int64))])


def test_reduction_shapes_with_unknown_axes() -> None:
    x = parameter(Type.f32, [2, 1, 5], "x")
    axes = parameter(Type.i64, [2], "axes")
    keep = make("ReduceSum", [x.output(0), axes.output(0)], keep_dims=True).output(0)
    drop = make("ReduceSum", [x.output(0), axes.output(0)], keep_dims=False).output(0)
    assert str(keep.shape) == "?,1,?" and str(drop.shape) == "?"
    unranked = parameter(Type.f32, None, "y").output(0)
    assert not make("ReduceMax", [unranked, axes.output(0)]).output(0).shape.rank_is_static
    with pytest.raises(GraphError, match="out of range"):
        make("ReduceMax", [x.output(0), constant(np.array([3], np.int64))])


def test_empty_reductions_use_identity_values() -> None:
    x = np.zeros((2, 0, 3), np.float32)
    assert _reduce_ref("ReduceSum", x, [1]).tolist() == [[0.0] * 3] * 2
    assert _reduce_ref("ReduceProd", x, [1]).tolist() == [[1.0] * 3] * 2
    assert np.all(_reduce_ref("ReduceMax", x, [1]) == -np.inf) and np.all(_reduce_ref("ReduceMin", x, [1]) == np.inf)


@pytest.mark.parametrize("op,fn", [("ReduceMax", np.max), ("ReduceMin", np.min)])
def test_max_min_of_bf16(op: str, fn: Any) -> None:
    """bf16 (NumPy kind 'V', from ml_dtypes) has its own +-inf identity; the expanded ONNX Attention reduces it."""
    x = RNG.uniform(-2, 2, (3, 5)).astype(ml_dtypes.bfloat16)
    x[1, 2] = -np.inf if op == "ReduceMax" else np.inf
    got = _reduce(op, x, [1], False)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got.astype(np.float32), fn(x.astype(np.float32), axis=1))


@pytest.mark.parametrize("dtype,lowest", [(ml_dtypes.bfloat16, -np.inf), (ml_dtypes.float8_e5m2, -np.inf),
                                          (ml_dtypes.float8_e4m3fn, -448.0)])
def test_empty_max_of_narrow_floats(dtype: Any, lowest: float) -> None:
    """An empty ReduceMax gives the type's lowest value: -inf, or -448 for f8e4m3 (which has no infinity)."""
    got = _reduce_ref("ReduceMax", np.zeros((2, 0), dtype), [1])
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.astype(np.float32), [lowest, lowest])


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceLogicalOr"])
def test_empty_axes_is_identity(op: str) -> None:
    """REF only: OpenVINO's CPU plugin rejects a Reduce with an empty axes list (the ONNX frontend emits none)."""
    x = RNG.random((2, 3)) > 0.5 if op == "ReduceLogicalOr" else RNG.random((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(_reduce_ref(op, x, []), x)


def _reduce_ref(op: str, x: np.ndarray, axes: list[int]) -> np.ndarray:
    p = parameter(Type.from_dtype(x.dtype), x.shape, "x")
    node = make(op, [p.output(0), constant(np.array(axes, np.int64))])
    return run_ref(Model([result(node.output(0))], [p]), [x])[0]


@pytest.mark.parametrize("op,version,axis", [("Softmax", "opset1", 1), ("Softmax", "opset8", -1),
                                             ("Softmax", "opset8", 0), ("LogSoftmax", "opset5", -2)])
def test_softmax_family(op: str, version: str, axis: int) -> None:
    x = RNG.normal(0, 3, (3, 4, 5)).astype(np.float32)
    p = parameter(Type.f32, x.shape, "x")
    node = make(op, [p.output(0)], version=version, axis=axis)
    got = _check([node.output(0)], [p], [x])[0]
    import torch

    fn = torch.log_softmax if op == "LogSoftmax" else torch.softmax
    np.testing.assert_allclose(got, fn(torch.from_numpy(x), axis).numpy(), rtol=1e-5, atol=1e-6)


def test_softmax1_rejects_negative_axis() -> None:
    p = parameter(Type.f32, [2, 3], "x")
    with pytest.raises(GraphError, match="negative axis"):
        make("Softmax", [p.output(0)], version="opset1", axis=-1)
    assert make("Softmax", [p.output(0)], version="opset8", axis=-1).output(0).shape == PartialShape([2, 3])


def _topk(x: np.ndarray, k: int, version: str, openvino: bool = True, **attrs: Any) -> list[np.ndarray]:
    p = parameter(Type.from_dtype(x.dtype), x.shape, "x")
    node = make("TopK", [p.output(0), constant(np.int64(k))], version=version, **attrs)
    return _check(list(node.outputs), [p], [x], openvino)


@pytest.mark.parametrize("version", ["opset1", "opset3", "opset11"])
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("sort", ["value", "index", "none"])
def test_topk_modes_distinct_values(version: str, mode: str, sort: str) -> None:
    x = RNG.permutation(60).reshape(3, 20).astype(np.float32)
    values, indices = _topk(x, 5, version, axis=1, mode=mode, sort=sort, index_element_type=Type.i64)
    want = np.sort(x, axis=1)[:, ::-1][:, :5] if mode == "max" else np.sort(x, axis=1)[:, :5]
    if sort == "index":
        np.testing.assert_array_equal(np.diff(indices, axis=1) > 0, True)
        np.testing.assert_array_equal(np.sort(values, axis=1), np.sort(want, axis=1))
    else:
        np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(np.take_along_axis(x, indices, 1), values)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_topk11_stable_ties(mode: str) -> None:
    x = RNG.integers(0, 4, (4, 6, 30)).astype(np.float32)
    _topk(x, 7, "opset11", axis=-1, mode=mode, sort="value", index_element_type=Type.i32, stable=True)
    _topk(x, 2, "opset11", axis=0, mode=mode, sort="value", index_element_type=Type.i64, stable=True)
    _topk(x, 2, "opset11", axis=0, mode=mode, sort="index", index_element_type=Type.i64, stable=True)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_topk11_stable_ties_sorted_by_index(mode: str) -> None:
    """The spec's answer (lower indices win ties); OpenVINO's CPU plugin picks other tied elements along the
    innermost axis, so only the selected values are compared with it there."""
    x = RNG.integers(0, 4, (4, 30)).astype(np.float32)
    values, indices = _topk(x, 7, "opset11", openvino=False, axis=1, mode=mode, sort="index", stable=True)
    key = -x if mode == "max" else x
    want = np.sort(np.argsort(key, axis=1, kind="stable")[:, :7], axis=1)
    np.testing.assert_array_equal(indices, want)
    p = parameter(Type.f32, x.shape, "x")
    node = make("TopK", [p.output(0), constant(np.int64(7))], axis=1, mode=mode, sort="index", stable=True)
    ov_values = run_openvino(Model([result(node.output(0))], [p]), [x])[0]
    np.testing.assert_array_equal(np.sort(ov_values, axis=1), np.sort(values, axis=1))


def test_topk_example_from_spec() -> None:
    x = np.array([5, 3, 1, 2, 5, 5], np.int32)
    values, indices = _topk(x, 4, "opset11", axis=0, mode="min", sort="index", stable=True)
    assert values.tolist() == [5, 3, 1, 2] and indices.tolist() == [0, 1, 2, 3]
    assert indices.dtype == np.int32  # index_element_type defaults to i32


def test_topk_shapes() -> None:
    x = parameter(Type.f32, [2, 8], "x")
    k = parameter(Type.i64, [], "k")
    node = make("TopK", [x.output(0), k.output(0)], axis=1, mode="max", sort="value")
    assert str(node.output(0).shape) == "2,..8" and node.output(1).element_type == Type.i32
    with pytest.raises(GraphError, match="stable"):
        make("TopK", [x.output(0), k.output(0)], axis=1, mode="max", sort="none", stable=True)
    with pytest.raises(GraphError, match="scalar"):
        make("TopK", [x.output(0), constant(np.array([2], np.int64))], axis=1, mode="max", sort="value")


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [None, 1, -1])
def test_cumsum(exclusive: bool, reverse: bool, axis: int | None) -> None:
    x = RNG.integers(-5, 6, (3, 4, 2)).astype(np.float32)
    p = parameter(Type.f32, x.shape, "x")
    ins = [p.output(0)] + ([] if axis is None else [constant(np.int32(axis))])
    # OpenVINO cannot read a CumSum without its optional axis input (its IR reader indexes input 1)
    got = _check([make("CumSum", ins, exclusive=exclusive, reverse=reverse).output(0)], [p], [x], axis is not None)[0]
    a = 0 if axis is None else axis
    flip = (lambda t: np.flip(t, a)) if reverse else (lambda t: t)
    want = flip(np.cumsum(flip(x), axis=a))
    if exclusive:
        want = want - x
    np.testing.assert_allclose(got, want)


def test_cumsum_integer() -> None:
    x = RNG.integers(-100, 100, (5, 7)).astype(np.int64)
    p = parameter(Type.i64, x.shape, "x")
    _check([make("CumSum", [p.output(0), constant(np.int64(1))], exclusive=True).output(0)], [p], [x])


@pytest.mark.parametrize("version,mode", [("opset1", None), ("opset16", "ignore_negative"), ("opset16", "normalize")])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_onehot(version: str, mode: str | None, axis: int) -> None:
    idx = np.array([[0, 3, -1], [4, -4, 9]], np.int64)
    p = parameter(Type.i64, idx.shape, "i")
    attrs = {"negative_indices_mode": mode} if mode else {}
    node = make("OneHot", [p.output(0), constant(np.int64(5)), constant(np.float32(2.5)), constant(np.float32(-1))],
                version=version, axis=axis, **attrs)
    got = _check([node.output(0)], [p], [idx])[0]
    norm = np.where(idx < 0, idx + 5, idx) if mode == "normalize" else idx
    want = np.where(np.expand_dims(norm, -1) == np.arange(5), 2.5, -1).astype(np.float32)
    np.testing.assert_array_equal(got, np.moveaxis(want, -1, axis))


def test_onehot_shapes() -> None:
    idx = parameter(Type.i32, [4], "i")
    depth = parameter(Type.i32, [], "d")
    on, off = constant(np.int32(1)), constant(np.int32(0))
    assert str(make("OneHot", [idx.output(0), depth.output(0), on, off], axis=0).output(0).shape) == "?,4"
    with pytest.raises(GraphError, match="element types differ"):
        make("OneHot", [idx.output(0), depth.output(0), on, constant(np.float32(0))], axis=0)


# ------------------------------------------------------------------------------------------------------------
# ONNX translators at opsets and input forms the ONNX node cases do not reach (axes attributes, opset < 13
# softmax, TopK-1/10, unsorted TopK, dynamic dims): irforge on REF and OpenVINO against ONNX Runtime.
def _onnx_check(op: str, opset: int, inputs: dict[str, np.ndarray], n_out: int = 1,
                dims: dict[str, list[Any]] | None = None, inits: dict[str, np.ndarray] | None = None,
                **attrs: Any) -> None:
    import onnx
    from onnx import helper

    import irforge
    from tests.util import run_ort

    def info(name: str, arr: np.ndarray) -> Any:
        shape = (dims or {}).get(name, list(arr.shape))
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), shape)

    names = list(inputs) + list(inits or {})
    outs = [f"y{i}" for i in range(n_out)]
    graph = helper.make_graph([helper.make_node(op, names, outs, **attrs)], "g",
                              [info(k, v) for k, v in inputs.items()],
                              [helper.make_tensor_value_info(o, 0, None) for o in outs],
                              [onnx.numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    proto = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
    want = run_ort(proto, inputs)
    model = irforge.convert_model(proto)
    feed = list(inputs.values())
    assert_close(run_ref(model, feed), want, what=f"{op}-{opset} REF")
    assert_close(run_openvino(model, feed), want, what=f"{op}-{opset} OpenVINO")


X4 = RNG.normal(0, 2, (2, 3, 4, 5)).astype(np.float32)


_AXES_ATTRIBUTE_OPS = ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                       "ReduceLogSumExp", "ReduceSumSquare", "ReduceSum"]


# ReduceSum-13 takes its axes as an input, not an attribute: that pair is not generated
@pytest.mark.parametrize("op,opset", [(op, opset) for opset in (11, 13) for op in _AXES_ATTRIBUTE_OPS
                                      if (op, opset) != ("ReduceSum", 13)])
@pytest.mark.parametrize("axes,keep", [([1, -1], 0), (None, 1)])
def test_onnx_reduce_axes_attribute(op: str, opset: int, axes: list[int] | None, keep: int) -> None:
    x = np.abs(X4) + 0.5 if op == "ReduceLogSum" else X4
    attrs = {"keepdims": keep} | ({"axes": axes} if axes is not None else {})
    _onnx_check(op, opset, {"x": x}, dims={"x": ["n", 3, 4, 5]}, **attrs)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceL1", "ReduceSumSquare", "ReduceLogSumExp", "ReduceMean"])
def test_onnx_reduce_noop_with_empty_axes(op: str) -> None:
    _onnx_check(op, 18, {"x": X4}, noop_with_empty_axes=1)


def test_onnx_reduce_log_sum_exp_large_values() -> None:
    _onnx_check("ReduceLogSumExp", 18, {"x": X4 * 100}, inits={"axes": np.array([2], np.int64)}, keepdims=0)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis,dims", [(1, None), (2, ["n", 3, 4, 5]), (1, ["n", "c", 4, 5]), (0, None),
                                       (-1, None), (1, [2, 3, 1, 1])])
def test_onnx_softmax_before_13_flattens(op: str, axis: int, dims: list[Any] | None) -> None:
    x = RNG.normal(0, 2, (2, 3, 1, 1) if dims == [2, 3, 1, 1] else (2, 3, 4, 5)).astype(np.float32)
    _onnx_check(op, 11, {"x": x}, dims={"x": dims} if dims else None, axis=axis)


def test_onnx_softmax_13_default_axis() -> None:
    _onnx_check("Softmax", 13, {"x": X4}, dims={"x": ["n", 3, 4, 5]})


@pytest.mark.parametrize("opset", [1, 10, 11])
def test_onnx_topk_opsets(opset: int) -> None:
    x = RNG.permutation(120).reshape(2, 3, 20).astype(np.float32)
    if opset == 1:
        _onnx_check("TopK", 1, {"x": x}, n_out=2, k=4)
    else:
        extra = {"largest": 0} if opset == 11 else {}
        _onnx_check("TopK", opset, {"x": x}, n_out=2, inits={"k": np.array([5], np.int64)}, axis=-1, **extra)


def test_onnx_topk_k_input_and_dynamic_dims() -> None:
    x = RNG.integers(0, 5, (4, 12)).astype(np.int32)
    _onnx_check("TopK", 11, {"x": x, "k": np.array([6], np.int64)}, n_out=2, dims={"x": ["n", "m"]}, axis=1)


def test_onnx_topk_unsorted_selects_the_same_elements() -> None:
    import onnx
    from onnx import helper

    import irforge

    x = RNG.permutation(40).reshape(2, 20).astype(np.float32)
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, sorted=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [2, 20])],
                              [helper.make_tensor_value_info(n, 0, None) for n in "vi"],
                              [onnx.numpy_helper.from_array(np.array([5], np.int64), "k")])
    model = irforge.convert_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]))
    for values, _ in (run_ref(model, [x]), run_openvino(model, [x])):
        np.testing.assert_array_equal(np.sort(values, axis=1), np.sort(x, axis=1)[:, -5:])


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("opset", [7, 11, 12])
@pytest.mark.parametrize("keep", [0, 1])
def test_onnx_argmax_argmin(op: str, opset: int, keep: int) -> None:
    x = RNG.integers(0, 3, (3, 7, 4)).astype(np.float32)  # many ties
    attrs: dict[str, Any] = {"axis": 1 if opset < 11 else -2, "keepdims": keep}
    _onnx_check(op, opset, {"x": x}, dims={"x": ["a", "b", 4]}, **attrs)
    if opset >= 12:
        _onnx_check(op, opset, {"x": x}, dims={"x": ["a", "b", 4]}, select_last_index=1, **attrs)


@pytest.mark.parametrize("axis", [np.array(1, np.int32), np.array([-1], np.int64)])
def test_onnx_cumsum_axis_forms(axis: np.ndarray) -> None:
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    _onnx_check("CumSum", 11, {"x": x}, inits={"axis": axis}, reverse=1)
    _onnx_check("CumSum", 14, {"x": x, "axis": axis}, exclusive=1)


@pytest.mark.parametrize("opset", [9, 11])
def test_onnx_onehot_constant_depth_and_values(opset: int) -> None:
    idx = np.array([[0, 2], [4, 5]] if opset == 9 else [[0, -2], [4, -6]], np.int64)
    inits = {"depth": np.array([5], np.float32), "values": np.array([-1, 7], np.int32)}
    _onnx_check("OneHot", opset, {"i": idx}, inits=inits, axis=0)
