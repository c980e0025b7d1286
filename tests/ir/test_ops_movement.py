"""Shape inference of the movement/indexing/shape ops with dynamic dims, and their REF kernels against NumPy
and OpenVINO on cases no ONNX node case reaches (StridedSlice masks, explicit Broadcast, batched gathers,
scatter reductions, Squeeze-15, Range-1...)."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.errors import GraphError
from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.shape import INF, Dimension, PartialShape
from irforge.ir.types import Type
from tests.util import assert_close, run_openvino, run_ref

INT64_MAX = np.iinfo(np.int64).max


def _param(shape: str, et=Type.f32, name: str = "x") -> Output:  # type: ignore[no-untyped-def]
    return parameter(et, PartialShape.parse(shape), name).output(0)


def _op(type_name: str, *inputs: Output, **attrs) -> Output:  # type: ignore[no-untyped-def]
    return make(type_name, list(inputs), **attrs).output(0)


def _c(value, dtype=np.int64) -> Output:  # type: ignore[no-untyped-def]
    return constant(np.asarray(value, dtype))


def _dim_of(x: Output, axis: int) -> Output:
    """x.size(axis) as a 1-element vector, the way exporters write it: ShapeOf -> Gather."""
    return _op("Gather", _op("ShapeOf", x), _c([axis]), _c(0))


def _model(outputs: list[Output], params: list[Output]) -> Model:
    return Model([result(o, name=f"out{i}") for i, o in enumerate(outputs)], [p.node for p in params])


def _ref_vs_openvino(outputs: list[Output], params: list[Output], inputs: list[np.ndarray]) -> list[np.ndarray]:
    model = _model(outputs, params)
    model.validate()
    got = run_ref(model, inputs)
    assert_close(run_openvino(model, inputs), got, what="OpenVINO vs REF")
    for out, value in zip(outputs, got):
        assert out.shape.compatible(value.shape), f"inferred [{out.shape}] but computed {value.shape}"
    return got


# ---------------------------------------------------------------------------------------------- shape inference
def test_reshape_special_zero_and_minus_one_keep_the_dynamic_batch() -> None:
    x = _param("?,12,64")
    assert _op("Reshape", x, _c([0, -1]), special_zero=True).shape == PartialShape.parse("?,768")
    assert _op("Reshape", x, _c([-1, 64]), special_zero=True).shape == PartialShape.parse("?,64")
    assert _op("Reshape", x, _c([0, 0, 8, 8]), special_zero=True).shape == PartialShape.parse("?,12,8,8")


def test_reshape_target_from_shapeof_cancels_the_same_dynamic_dim() -> None:
    x = _param("?,12,64")
    target = _op("Concat", _dim_of(x, 0), _c([-1]), axis=0)  # x.view(x.size(0), -1)
    assert _op("Reshape", x, target, special_zero=False).shape == PartialShape.parse("?,768")


def test_reshape_split_and_merge_attention_heads() -> None:
    y = _param("?,?,768")
    batch_time = _op("Slice", _op("ShapeOf", y), _c([0]), _c([2]), _c([1]))
    heads = _op("Divide", _c([768]), _c([64]))  # arithmetic on known values folds
    split = _op("Reshape", y, _op("Concat", batch_time, heads, _c([64]), axis=0), special_zero=False)
    assert split.shape == PartialShape.parse("?,?,12,64")
    swapped = _op("Transpose", split, _c([0, 2, 1, 3]))
    assert swapped.shape == PartialShape.parse("?,12,?,64")
    merged = _op("Reshape", swapped, _op("Concat", _dim_of(swapped, 0), _c([-1, 768]), axis=0), special_zero=False)
    assert merged.shape == PartialShape.parse("?,?,768")


def test_reshape_minus_one_gets_bounds_from_a_bounded_input() -> None:
    x = parameter(Type.f32, PartialShape([Dimension(2, 8), 12, 64]), "x").output(0)
    assert _op("Reshape", x, _c([-1, 64]), special_zero=True).shape == PartialShape([Dimension(24, 96), 64])


def test_reshape_rejects_a_size_mismatch() -> None:
    with pytest.raises(GraphError, match="Reshape"):
        _op("Reshape", _param("2,3"), _c([4, 2]), special_zero=False)


def test_reshape_with_unknown_target_keeps_its_length() -> None:
    assert _op("Reshape", _param("2,3"), _param("3", Type.i64, "t"), special_zero=True).shape == PartialShape.dynamic(3)


def test_concat_adds_the_axis_and_merges_the_other_dims() -> None:
    a, b = _param("?,3,4", name="a"), _param("2,?,4", name="b")
    assert _op("Concat", a, b, axis=0).shape == PartialShape([Dimension(2, INF), 3, 4])
    c = _param("2,5,?", name="c")
    assert _op("Concat", b, c, axis=-2).shape == PartialShape([2, Dimension(5, INF), 4])
    assert _op("Concat", _param("2,3", name="d"), _param("2,4", name="e"), axis=1).shape == PartialShape([2, 7])


def test_broadcast_to_a_target_built_from_shapeof_of_a_dynamic_input() -> None:
    x = _param("?,?,16")
    target = _op("Concat", _dim_of(x, 0), _c([5, 16]), axis=0)
    assert _op("Broadcast", _c(1.0, np.float32), target, mode="numpy").shape == PartialShape.parse("?,5,16")
    # numpy mode: a data dim that is not 1 fixes the unknown target dim
    assert _op("Broadcast", _param("7,1,16", name="d"), target).shape == PartialShape.parse("7,5,16")
    expanded = _op("Broadcast", _param("3,1", name="e"), _op("ShapeOf", x), mode="bidirectional")
    assert expanded.shape == PartialShape.parse("?,3,16")


def test_broadcast_bidirectional_with_an_unknown_target_keeps_what_the_data_fixes() -> None:
    shape = _param("3", Type.i64, "t")
    assert _op("Broadcast", _param("4,1", name="d"), shape, mode="bidirectional").shape == PartialShape.parse("?,4,?")
    assert _op("Broadcast", _param("2,1,3,4", name="e"), shape, mode="bidirectional").shape == \
        PartialShape.parse("2,?,3,4")


def test_squeeze_a_dynamic_dim() -> None:
    x = _param("?,1,3")
    assert _op("Squeeze", x, _c([0])).shape == PartialShape.parse("1,3")  # listed: may be 1, squeezed
    assert _op("Squeeze", x, _c([1])).shape == PartialShape.parse("?,3")
    assert _op("Squeeze", x, _c([2])).shape == PartialShape.parse("?,1,3")  # 3 is not 1: kept (Squeeze-1)
    assert not make("Squeeze", [x]).output(0).shape.rank_is_static  # unlisted dims that may be 1
    skip = make("Squeeze", [x, _c([0])], version="opset15", allow_axis_skip=True).output(0)
    assert not skip.shape.rank_is_static


def test_tile_and_split_with_dynamic_dims() -> None:
    x = _param("?,4,6")
    assert _op("Tile", x, _op("Concat", _c([2]), _dim_of(x, 0), axis=0)).shape == PartialShape.parse("?,8,?")
    parts = make("Split", [x, _c(2)], num_splits=3).outputs
    assert [p.shape for p in parts] == [PartialShape.parse("?,4,2")] * 3
    var = make("VariadicSplit", [x, _c(-1), _c([1, -1, 2])]).outputs
    assert [p.shape[2] for p in var] == [Dimension.of(1), Dimension.of(3), Dimension.of(2)]


def test_gathers_with_dynamic_dims() -> None:
    data, idx = _param("?,5,7"), _param("?,3", Type.i64, "i")
    assert _op("Gather", data, idx, _c(2)).shape == PartialShape.parse("?,5,?,3")
    assert _op("Gather", data, idx, _c(1), batch_dims=1).shape == PartialShape.parse("?,3,7")
    nd = _op("GatherND", data, _param("?,4,2", Type.i64, "j"), batch_dims=1)
    assert nd.shape == PartialShape.parse("?,4")
    assert _op("NonZero", _param("2,3")).shape == PartialShape([2, Dimension(0, 6)])


def _masks(m: int, **given: list[int]) -> dict[str, list[int]]:
    """All five StridedSlice masks, each padded to the m slicing entries (OpenVINO wants equal sizes)."""
    names = ("begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask", "ellipsis_mask")
    return {k: (given.get(k, []) + [0] * m)[:m] for k in names}


_N = np.newaxis


@pytest.mark.parametrize("index, begin, end, stride, masks", [
    (np.s_[1:, :, ::-1], [1, 1, 123], [0, 0, 2], [1, 1, -1], dict(begin_mask=[0, 1, 1], end_mask=[1, 1, 1])),
    (np.s_[_N, 0:2, _N, 0:4], [0, 0, 0, 0], [0, 2, 0, 4], [1, 1, 1, 1], dict(new_axis_mask=[1, 0, 1, 0])),
    (np.s_[..., 0], [0, 0], [0, 0], [1, 1], dict(ellipsis_mask=[1], shrink_axis_mask=[0, 1])),
    (np.s_[0, ..., 1:3], [0, 0, 1], [0, 0, 3], [1, 1, 1], dict(shrink_axis_mask=[1], ellipsis_mask=[0, 1])),
    (np.s_[:, _N, ..., -1], [0, 0, 0, -1], [0, 0, 0, 0], [1, 1, 1, 1],
     dict(begin_mask=[1], end_mask=[1], new_axis_mask=[0, 1], ellipsis_mask=[0, 0, 1], shrink_axis_mask=[0, 0, 0, 1])),
    (np.s_[-1::-2, 1], [-1, 1], [0, 0], [-2, 1], dict(end_mask=[1], shrink_axis_mask=[0, 1])),
    (np.s_[-100:100, 3:-5:-1, :-1], [-100, 3, 0], [100, -5, -1], [1, -1, 1], dict(begin_mask=[0, 0, 1])),
    (np.s_[1:3], [1], [3], [1], {}),
], ids=lambda v: str(v) if isinstance(v, tuple) else None)
def test_strided_slice_masks_match_numpy_indexing(index: tuple, begin: list[int], end: list[int], stride: list[int],
                                                  masks: dict[str, list[int]]) -> None:
    value = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    want = value[index]
    for shape in ("4,5,6", "?,5,?"):
        x = _param(shape)
        out = _op("StridedSlice", x, _c(begin), _c(end), _c(stride), **_masks(len(begin), **masks))
        assert out.shape.compatible(want.shape), f"{index} on [{shape}]: inferred [{out.shape}], numpy {want.shape}"
    assert out.shape.rank == want.ndim
    _ref_vs_openvino([out], [x], [value])
    np.testing.assert_array_equal(run_ref(_model([out], [x]), [value])[0], want, err_msg=str(index))


def test_strided_slice_rejects_masks_of_different_sizes() -> None:
    with pytest.raises(GraphError, match="same size"):
        _op("StridedSlice", _param("4,5"), _c([0, 0]), _c([1, 1]), begin_mask=[0], end_mask=[0, 0])


def test_slice_dims_of_a_dynamic_input() -> None:
    x = _param("?,10,?")
    out = _op("Slice", x, _c([1, -3]), _c([INT64_MAX, INT64_MAX]), _c([2, 1]), _c([1, 2]))
    assert out.shape == PartialShape([Dimension(), 5, Dimension(0, 3)])


def test_partial_values_through_convert_and_arithmetic() -> None:
    x = _param("?,8,?")
    dims = _op("Convert", _op("ShapeOf", x), destination_type=Type.i32)
    doubled = _op("Multiply", dims, constant(np.array([1, 2, 1], np.int32)))
    out = _op("Broadcast", _c(0.0, np.float32), doubled, mode="numpy")
    assert out.shape == PartialShape.parse("?,16,?")


def test_range_length_from_constants() -> None:
    def rng(start, stop, step, et=Type.f32):  # type: ignore[no-untyped-def]
        return _op("Range", _c(start, np.float32), _c(stop, np.float32), _c(step, np.float32), output_type=et)

    assert rng(1, 2.5, 0.5).shape == PartialShape([3])
    assert rng(0.5, 5.9, 1.5, Type.i32).shape == PartialShape([5])  # truncated to 0, 5, 1 first
    assert rng(5, 1, 1).shape == PartialShape([0])


def test_range_wants_scalars() -> None:
    """As in OpenVINO's shape inference, a one-element 1-D bound is not a scalar."""
    with pytest.raises(GraphError, match="'stop' must be a scalar"):
        _op("Range", _c(0), _c([4]), _c(1), output_type=Type.i64)


# ---------------------------------------------------------------------------------------------- REF vs OpenVINO
def test_strided_slice_backward_clamping_ref_matches_openvino() -> None:
    """A begin below -dim with a negative stride selects element 0 in OpenVINO (nothing in Python)."""
    x = _param("4,5,6")
    out = _op("StridedSlice", x, _c([-10, 7]), _c([-10, -10]), _c([-1, -1]), begin_mask=[], end_mask=[])
    got = _ref_vs_openvino([out], [x], [np.random.default_rng(0).random((4, 5, 6), np.float32)])
    assert got[0].shape == (1, 5, 6)


def test_slice_ref_matches_openvino() -> None:
    x = _param("6,7")
    outs = [_op("Slice", x, _c([5, -1]), _c([-INT64_MAX, 1]), _c([-2, -3]), _c([0, 1])),
            _op("Slice", x, _c([-100]), _c([100]), _c([3]))]
    _ref_vs_openvino(outs, [x], [np.random.default_rng(1).random((6, 7), np.float32)])


def test_broadcast_modes_ref_matches_openvino() -> None:
    x = _param("3")
    outs = [_op("Broadcast", x, _c([2, 3, 4]), _c([1]), mode="explicit"),
            _op("Broadcast", x, _c([2, 1]), mode="bidirectional"),
            _op("Broadcast", x, _c([2, 3]))]
    _ref_vs_openvino(outs, [x], [np.array([1, 2, 3], np.float32)])


def test_gathers_with_batch_dims_and_negative_indices_ref_matches_openvino() -> None:
    rng = np.random.default_rng(2)
    data, idx = _param("2,3,4"), _param("2,5", Type.i64, "i")
    nd_idx = _param("2,3,1", Type.i64, "j")
    outs = [_op("Gather", data, idx, _c(2), batch_dims=1),
            _op("Gather", data, idx, _c(-1), batch_dims=-1),
            _op("Gather", data, idx, _c(0)),
            _op("GatherND", data, nd_idx, batch_dims=1),
            _op("GatherElements", data, _c(rng.integers(-3, 3, (2, 2, 4))), axis=1),
            make("Gather", [data, _c([[2, 0], [1, 1]]), _c(1)], version="opset7", batch_dims=1).output(0),
            make("Gather", [data, _c([1, 0]), _c(1)], version="opset1").output(0),
            make("ScatterElementsUpdate", [data, _c([[[1, 0, 2, 1]]]), _c(np.ones((1, 1, 4)), np.float32), _c(1)],
                 version="opset3").output(0)]
    _ref_vs_openvino(outs, [data, idx, nd_idx], [rng.random((2, 3, 4), np.float32),
                                                 np.array([[0, -1, 3, -4, 2], [1, 1, -2, 0, 3]]),
                                                 rng.integers(-3, 3, (2, 3, 1))])


@pytest.mark.parametrize("reduction", ["none", "sum", "prod", "min", "max", "mean"])
@pytest.mark.parametrize("use_init_val", [True, False])
def test_scatter_elements_update_ref_matches_openvino(reduction: str, use_init_val: bool) -> None:
    data = _param("3,4")
    indices = _c([[1, -1, 0, 0], [1, 2, 0, 2]])
    updates = _c([[1.5, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    out = _op("ScatterElementsUpdate", data, indices, updates, _c(0), reduction=reduction, use_init_val=use_init_val)
    _ref_vs_openvino([out], [data], [np.arange(12, dtype=np.float32).reshape(3, 4) - 4])


@pytest.mark.parametrize("reduction", ["min", "max"])
def test_scatter_elements_min_max_of_bf16_start_from_the_type_bounds(reduction: str) -> None:
    """Without the initial values min/max start from bf16's own bounds (bf16 is NumPy kind 'V', not 'f')."""
    bf16 = Type.bf16.dtype
    data = _param("3,4", Type.bf16)
    updates = constant(np.array([[1.5, 2, 3, 4], [5, 6, 7, 8]], bf16))
    out = _op("ScatterElementsUpdate", data, _c([[1, -1, 0, 0], [1, 2, 0, 2]]), updates, _c(0), reduction=reduction,
              use_init_val=False)
    got = _ref_vs_openvino([out], [data], [(np.arange(12).reshape(3, 4) - 4).astype(bf16)])
    assert got[0].dtype == bf16 and got[0][0, 2] == (3 if reduction == "min" else 7)


@pytest.mark.parametrize("reduction", ["none", "sum", "sub", "prod", "min", "max"])
def test_scatter_nd_update_ref_matches_openvino(reduction: str) -> None:
    data = _param("4,3", Type.i32)
    indices, updates = _c([[0], [2], [-4]]), constant(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.int32))
    version = "opset4" if reduction == "none" else "opset15"
    attrs = {} if reduction == "none" else {"reduction": reduction}
    out = make("ScatterNDUpdate", [data, indices, updates], version=version, **attrs).output(0)
    _ref_vs_openvino([out], [data], [np.arange(12, dtype=np.int32).reshape(4, 3)])


def test_shape_and_generation_ops_ref_matches_openvino() -> None:
    x = _param("2,1,3")
    outs = [_op("NonZero", x, output_type=Type.i32),
            _op("ShapeOf", x, output_type=Type.i32),
            make("ShapeOf", [x], version="opset1").output(0),
            make("Range", [_c(7), _c(-2), _c(-3)], version="opset1").output(0),
            _op("Range", _c(0.5, np.float32), _c(3.0, np.float32), _c(0.75, np.float32), output_type=Type.f32),
            make("Squeeze", [x, _c([1])], version="opset15", allow_axis_skip=False).output(0),
            _op("Squeeze", x, _c([0, -2])),  # dim 0 is 2: left in place (Squeeze-1 since OpenVINO 2024.3)
            _op("Unsqueeze", x, _c([-1, 0])),
            _op("Tile", x, _c([2, 1, 1, 2])),
            _op("Transpose", x, _c([], np.int64))]
    outs += _op("VariadicSplit", x, _c(2), _c([-1, 2])).node.outputs
    value = np.array([[[0, 1.5, 0]], [[2, 0, -1]]], np.float32)
    got = _ref_vs_openvino(outs, [x], [value])
    np.testing.assert_array_equal(got[0], np.array(np.nonzero(value), np.int32))
    np.testing.assert_array_equal(got[3], [7, 4, 1])


# ---------------------------------------------------------------------------------------------- ONNX translators
def _onnx_case(op: str, opset: int, inputs: dict[str, np.ndarray], outputs: int, out_type: type, dynamic: bool,
               consts: dict[str, np.ndarray], **attrs):  # type: ignore[no-untyped-def]
    """A one-node ONNX model; `dynamic` declares every dim of the data input `x` unknown (shape-like inputs
    keep their static length, as in real models)."""
    from onnx import helper, numpy_helper

    def info(name: str, v: np.ndarray):  # type: ignore[no-untyped-def]
        dims = [None] * v.ndim if dynamic and name == "x" else list(v.shape)
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), dims)

    node = helper.make_node(op, list(inputs) + list(consts), [f"y{i}" for i in range(outputs)], **attrs)
    out_info = [helper.make_tensor_value_info(f"y{i}", helper.np_dtype_to_tensor_dtype(np.dtype(out_type)), None)
                for i in range(outputs)]
    graph = helper.make_graph([node], "g", [info(n, v) for n, v in inputs.items()], out_info,
                              [numpy_helper.from_array(v, n) for n, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


_X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
_ONNX_CASES = {
    "slice_v1_attrs": ("Slice", 9, {"x": _X}, {}, dict(starts=[1, -1], ends=[3, -100], axes=[1, 3])),
    "slice_neg_steps": ("Slice", 13, {"x": _X}, {"s": np.array([-1, 3]), "e": np.array([-100, 0]),
                                                "a": np.array([-1, 2]), "t": np.array([-2, -1])}, {}),
    "split_attr_v2": ("Split", 2, {"x": _X}, {}, dict(axis=3, split=[1, 4])),
    "split_uneven_v18": ("Split", 18, {"x": _X}, {}, dict(axis=2, num_outputs=3)),
    "squeeze_attr_v11": ("Squeeze", 11, {"x": _X[:, :1]}, {}, dict(axes=[-3])),
    "unsqueeze_attr_v11": ("Unsqueeze", 11, {"x": _X}, {}, dict(axes=[0, -1])),
    "unsqueeze_runtime_axes": ("Unsqueeze", 13, {"x": _X, "a": np.array([5, 0])}, {}, {}),
    "reshape_v1_attr": ("Reshape", 1, {"x": _X}, {}, dict(shape=[0, -1, 5])),
    "reshape_allowzero": ("Reshape", 14, {"x": _X}, {"s": np.array([6, 20])}, dict(allowzero=1)),
    "flatten_axis2": ("Flatten", 13, {"x": _X}, {}, dict(axis=2)),
    "flatten_neg_axis": ("Flatten", 13, {"x": _X}, {}, dict(axis=-1)),
    "tile_runtime_repeats": ("Tile", 13, {"x": _X, "r": np.array([2, 1, 3, 2])}, {}, {}),
    "shape_start_end": ("Shape", 15, {"x": _X}, {}, dict(start=-3, end=-1)),
    "size": ("Size", 13, {"x": _X}, {}, {}),
    "expand": ("Expand", 13, {"x": _X[:, :1, :, :1]}, {"s": np.array([3, 1, 5])}, {}),
    "constant_of_shape": ("ConstantOfShape", 20, {"s": np.array([2, 3])}, {},
                          dict(value=__import__("onnx").helper.make_tensor("v", 6, [1], [7]))),
    "transpose_default": ("Transpose", 13, {"x": _X}, {}, {}),
    "gather_negative": ("Gather", 13, {"x": _X, "i": np.array([[-1, 0], [2, -3]])}, {}, dict(axis=2)),
    # one-element 1-D bounds (as ONNX's AffineGrid function body passes them): squeezed to OpenVINO's scalars
    "range_one_element_inputs": ("Range", 11, {"s": np.array([2]), "l": np.array([9]), "d": np.array([3])}, {}, {}),
}


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("name", list(_ONNX_CASES))
def test_onnx_translators_match_onnxruntime_and_openvino(name: str, dynamic: bool) -> None:
    import irforge
    from tests.util import run_ort

    op, opset, inputs, consts, attrs = _ONNX_CASES[name]
    outputs = attrs.get("num_outputs", 2) if op == "Split" else 1
    out_type = {"Shape": np.int64, "Size": np.int64, "ConstantOfShape": np.int32, "Range": np.int64}.get(op, np.float32)
    proto = _onnx_case(op, opset, inputs, outputs, out_type, dynamic, consts, **attrs)
    want = run_ort(proto, inputs)
    model = irforge.convert_model(proto)
    model.validate()
    values = list(inputs.values())
    assert_close(run_ref(model, values), want, what=f"{name} REF vs ONNX Runtime")
    assert_close(run_openvino(model, values), want, what=f"{name} OpenVINO vs ONNX Runtime")


def test_reads_the_ir_openvino_writes_for_these_ops(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every op version here as OpenVINO's own Python API builds and saves it loads in irforge, and REF
    computes what OpenVINO computes from that file."""
    import openvino as ov
    from openvino import opset1, opset3, opset4, opset6, opset8, opset12, opset15

    from irforge.ir.xml_io import model_from_xml

    x, i = opset15.parameter([2, 3, 4], np.float32, name="x"), opset15.parameter([2], np.int64, name="i")

    def k(v, dtype=np.int64):  # type: ignore[no-untyped-def]
        return opset15.constant(np.asarray(v, dtype))

    zeros = k(np.zeros((2, 3, 4)))
    outs = [
        opset15.reshape(x, k([0, -1]), special_zero=True), opset15.transpose(x, k([2, 0, 1])),
        opset15.concat([x, x], axis=-1), *opset15.split(x, k(1), 3).outputs(),
        *opset15.variadic_split(x, k(2), k([1, -1])).outputs(),
        opset1.squeeze(opset15.unsqueeze(x, k([0, 3])), k([0, -1])), opset15.squeeze(x, k([0]), allow_axis_skip=False),
        opset15.tile(x, k([2, 1, 1])), opset3.broadcast(x, k([2, 2, 3, 4])),
        opset3.broadcast(k([1.0, 2.0, 3.0], np.float32), k([3, 2]), k([0]), "explicit"),
        opset1.broadcast(x, k([5, 2, 3, 4])),
        opset15.strided_slice(x, k([0, 2]), k([0, 0]), k([1, -1]), [1, 0], [1, 1], [0, 0], [0, 0], [0, 0]),
        opset8.slice(x, k([-1]), k([-100]), k([-2]), k([2])),
        opset8.gather(x, i, k(2), batch_dims=0), opset6.gather_elements(x, zeros, 1),
        opset8.gather_nd(x, k([[1], [0]])), opset4.scatter_nd_update(x, k([[1]]), k(np.ones((1, 3, 4)), np.float32)),
        opset15.scatter_nd_update(x, k([[0, 2]]), k(np.ones((1, 4)), np.float32), "sub"),
        opset12.scatter_elements_update(x, zeros, x, k(0), "mean", False),
        opset3.non_zero(x, "i32"), opset3.shape_of(x, "i32"), opset1.shape_of(x),
        opset4.range(k(1), k(9), k(3), "f32"),
        opset1.range(k(5.0, np.float32), k(1.0, np.float32), k(-1.5, np.float32)),
    ]
    path = tmp_path / "ov.xml"
    ov.save_model(ov.Model([o if isinstance(o, ov.Output) else o.output(0) for o in outs], [x, i]), str(path))
    model = model_from_xml(path.read_bytes(), path.with_suffix(".bin").read_bytes())
    model.validate()
    inputs = [np.random.default_rng(3).random((2, 3, 4), np.float32), np.array([3, -2])]
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    results = compiled(inputs)
    assert_close(run_ref(model, inputs), [np.asarray(results[o]) for o in compiled.outputs], what="REF vs OpenVINO")
