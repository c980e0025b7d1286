"""CPU lowerings of data movement, indexing, pooling, reductions, normalizations and resizing against REF
(tolerance 1e-5; pure data movement must be exact)."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.ir.graph import Output
from tests.runtime.cpu.helpers import check, graph, op, randn

I64 = np.int64


def ints(*v: int) -> np.ndarray:
    return np.array(v, I64)


# ---------------------------------------------------------------- movement
@pytest.mark.parametrize("case", ["reshape", "reshape_zero", "squeeze", "squeeze_all", "unsqueeze", "transpose",
                                  "transpose_reverse", "concat", "concat_const", "concat_neg_axis", "split",
                                  "variadic_split", "broadcast_numpy", "broadcast_bidirectional", "broadcast_explicit",
                                  "tile", "tile_short"])
def test_movement(case: str) -> None:
    x = randn(2, 3, 1, 4)
    c = randn(2, 2, 1, 4)
    builds = {
        "reshape": lambda p: op("Reshape", p, ints(6, -1), special_zero=False),
        "reshape_zero": lambda p: op("Reshape", p, ints(0, 0, -1), special_zero=True),
        "squeeze": lambda p: op("Squeeze", p, ints(2)),
        "squeeze_all": lambda p: op("Squeeze", p),
        "unsqueeze": lambda p: op("Unsqueeze", p, ints(0, -1)),
        "transpose": lambda p: op("Transpose", p, ints(0, 3, 1, 2)),
        "transpose_reverse": lambda p: op("Transpose", p, np.array([], I64)),
        "concat": lambda p: op("Concat", p, op("Relu", p), axis=1),
        "concat_const": lambda p: op("Concat", c, p, c, axis=1),
        "concat_neg_axis": lambda p: op("Concat", p, p, axis=-1),
        "split": lambda p: list(op_node("Split", p, ints(3), num_splits=2).outputs),
        "variadic_split": lambda p: list(op_node("VariadicSplit", p, ints(1), ints(1, -1)).outputs),
        "broadcast_numpy": lambda p: op("Broadcast", p, ints(5, 2, 3, 2, 4), mode="numpy"),
        "broadcast_bidirectional": lambda p: op("Broadcast", p, ints(3, 1), mode="bidirectional"),
        "broadcast_explicit": lambda p: op("Broadcast", op("Reshape", p, ints(2, 3, 4), special_zero=False),
                                           ints(2, 5, 3, 4), ints(0, 2, 3), mode="explicit"),
        "tile": lambda p: op("Tile", p, ints(1, 2, 3, 1)),
        "tile_short": lambda p: op("Tile", p, ints(2, 3)),
    }
    check(graph(builds[case], x), [x], "torch_", rtol=0, atol=0)


def op_node(type_name: str, *inputs: Output | np.ndarray, **attrs: object):  # type: ignore[no-untyped-def]
    from irforge.ir.graph import constant, make

    return make(type_name, [constant(i) if isinstance(i, np.ndarray) else i for i in inputs], **attrs)


@pytest.mark.parametrize("mode,pads", [("constant", ((0, 1, 2, 0), (1, 0, 0, 3))), ("constant", ((0, 0, -1, 1),
                                        (0, 0, 1, -2))), ("edge", ((0, 0, 1, 2), (0, 0, 2, 1))),
                                       ("reflect", ((0, 0, 1, 2), (0, 0, 2, 1)))])
def test_pad(mode: str, pads: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    x = randn(2, 3, 4, 5)
    extra = [np.array(1.5, np.float32)] if mode == "constant" else []
    check(graph(lambda p: op("Pad", p, ints(*pads[0]), ints(*pads[1]), *extra, pad_mode=mode), x), [x], "torch_pad",
          rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["edge", "reflect"])
@pytest.mark.parametrize("shape,pads", [((1, 512), ((0, 3), (0, 2))),  # silero-VAD's reflect pad of the audio
                                        ((3, 4, 5), ((0, 1, 0), (0, 2, 1))),  # axis 1 of a 3-D tensor
                                        ((2, 3, 4, 5, 6), ((0, 0, 1, 0, 2), (0, 0, 0, 1, 1)))])
def test_edge_and_reflect_pads_on_any_trailing_axes(mode: str, shape: tuple[int, ...],
                                                    pads: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    x = randn(*shape)
    check(graph(lambda p: op("Pad", p, ints(*pads[0]), ints(*pads[1]), pad_mode=mode), x), [x], "torch_pad",
          rtol=0, atol=0)


def test_pad_symmetric_uses_reference() -> None:
    x = randn(1, 2, 3, 3)
    check(graph(lambda p: op("Pad", p, ints(0, 0, 1, 1), ints(0, 0, 1, 1), pad_mode="symmetric"), x), [x], None)


# ---------------------------------------------------------------- indexing
@pytest.mark.parametrize("start,stop,step,axes", [
    ((1,), (3,), (1,), (1,)), ((0, -3), (2, 100), (1, 2), (0, 3)), ((-100,), (100,), (3,), (-1,)),
    ((2, 1), (1, 3), (1, 1), (1, 2)),
])
def test_slice(start: tuple[int, ...], stop: tuple[int, ...], step: tuple[int, ...], axes: tuple[int, ...]) -> None:
    x = randn(3, 4, 5, 6)
    check(graph(lambda p: op("Slice", p, ints(*start), ints(*stop), ints(*step), ints(*axes)), x), [x], "torch_slice",
          rtol=0, atol=0)


def test_slice_negative_step_uses_reference() -> None:
    x = randn(3, 4)
    check(graph(lambda p: op("Slice", p, ints(-1), ints(-100), ints(-1), ints(1)), x), [x], None)


def test_strided_slice_with_masks() -> None:
    x = randn(3, 4, 5, 6)
    model = graph(lambda p: op("StridedSlice", p, ints(1, 0, 0, 2), ints(3, 0, 0, 5), ints(1, 1, 1, 2),
                                 begin_mask=[0, 1, 0, 0], end_mask=[0, 1, 0, 0], new_axis_mask=[0, 0, 1, 0],
                                 shrink_axis_mask=[0, 0, 0, 0], ellipsis_mask=[0, 0, 0, 0]), x)
    check(model, [x], "torch_slice", rtol=0, atol=0)
    model = graph(lambda p: op("StridedSlice", p, ints(0, 1), ints(0, 3), ints(1, 1), begin_mask=[0, 0],
                                 end_mask=[0, 0], new_axis_mask=[0, 0], shrink_axis_mask=[1, 0],
                                 ellipsis_mask=[0, 0]), x)
    check(model, [x], "torch_slice", rtol=0, atol=0)
    model = graph(lambda p: op("StridedSlice", p, ints(0, 1), ints(0, 3), ints(1, 1), begin_mask=[0, 0],
                                 end_mask=[0, 0], new_axis_mask=[0, 0], shrink_axis_mask=[0, 0],
                                 ellipsis_mask=[1, 0]), x)
    check(model, [x], "torch_slice", rtol=0, atol=0)


@pytest.mark.parametrize("indices,axis", [(np.array(2, I64), 1), (np.array(-1, I64), 0),
                                          (np.array([[0, 3], [-2, 1]], I64), 2), (np.array([1, 1, 0], np.int32), -1)])
def test_gather_constant_indices(indices: np.ndarray, axis: int) -> None:
    x = randn(3, 4, 5, 6)
    check(graph(lambda p: op("Gather", p, indices, ints(axis), batch_dims=0), x), [x], "torch_", rtol=0, atol=0)


def test_gather_runtime_indices_and_out_of_range() -> None:
    table = randn(10, 4)
    good = np.array([[1, 2, 9], [0, 0, 3]], I64)
    check(graph(lambda i: op("Gather", table, i, ints(0), batch_dims=0), good), [good], "torch_gather", rtol=0, atol=0)
    bad = np.array([[1, -2, 12]], I64)  # negative: from the back; past the end: zeros (reference semantics)
    check(graph(lambda i: op("Gather", table, i, ints(0), batch_dims=0), bad), [bad], "torch_gather", rtol=0, atol=0)
    x = randn(3, 5)
    check(graph(lambda p, i: op("Gather", p, i, ints(1), batch_dims=0), x, good), [x, good], "torch_gather", rtol=0,
          atol=0)


def test_gather_batch_dims_uses_reference() -> None:
    x, idx = randn(2, 5, 3), np.array([[0, 4], [1, 1]], I64)
    check(graph(lambda p: op("Gather", p, idx, ints(1), batch_dims=1), x), [x], None)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("kernel,strides,pads,rounding,auto_pad", [
    ((3, 3), (2, 2), ((1, 1), (1, 1)), "floor", "explicit"), ((2, 2), (2, 2), ((0, 0), (0, 0)), "ceil", "explicit"),
    ((3, 3), (2, 2), ((0, 1), (1, 0)), "floor", "explicit"), ((3, 2), (1, 2), ((0, 0), (0, 0)), "ceil", "explicit"),
    ((3, 3), (2, 2), ((0, 0), (0, 0)), "floor", "same_upper"), ((5, 5), (1, 1), ((2, 2), (2, 2)), "floor", "explicit"),
])
def test_max_pool(kernel: tuple[int, int], strides: tuple[int, int], pads: tuple[tuple[int, int], ...], rounding: str,
                  auto_pad: str) -> None:
    x = randn(2, 3, 9, 8)
    model = graph(lambda p: op("MaxPool", p, strides=list(strides), dilations=[1, 1], pads_begin=list(pads[0]),
                               pads_end=list(pads[1]), kernel=list(kernel), rounding_type=rounding, auto_pad=auto_pad),
                  x)
    check(model, [x], "torch_maxpool", rtol=0, atol=0)


@pytest.mark.parametrize("kernel,pads,rounding,channels_last", [
    ((5, 5), (2, 2), "floor", True), ((5, 5), (2, 2), "floor", False), ((4, 6), (1, 2), "ceil", True),
    ((7, 3), (3, 1), "floor", True),
])
def test_max_pool_stride_one_large_window_is_separable(kernel: tuple[int, int], pads: tuple[int, int], rounding: str,
                                                        channels_last: bool) -> None:
    """Rows then columns: the same maxima bit for bit (SPPF's 5x5 windows), on planar and channels-last data."""
    x = randn(2, 3, 9, 8)

    def build(p: Output) -> Output:
        src = op("Relu", op("Convolution", p, randn(3, 3, 1, 1), strides=[1, 1], dilations=[1, 1], pads_begin=[0, 0],
                            pads_end=[0, 0], auto_pad="explicit")) if channels_last else p
        return op("MaxPool", src, strides=[1, 1], dilations=[1, 1], pads_begin=list(pads), pads_end=list(pads),
                  kernel=list(kernel), rounding_type=rounding, auto_pad="explicit")
    check(graph(build, x), [x], "torch_maxpool_separable", rtol=0 if not channels_last else 1e-6,
          atol=0 if not channels_last else 1e-6)


def test_max_pool_1d_3d_dilation_and_used_indices() -> None:
    x1, x3 = randn(2, 3, 11), randn(1, 2, 5, 6, 7)
    check(graph(lambda p: op("MaxPool", p, strides=[2], dilations=[2], pads_begin=[1], pads_end=[1], kernel=[3],
                             rounding_type="floor", auto_pad="explicit"), x1), [x1], "torch_maxpool", rtol=0, atol=0)
    check(graph(lambda p: op("MaxPool", p, strides=[2, 2, 2], pads_begin=[0, 0, 0], pads_end=[0, 0, 0],
                             kernel=[2, 2, 2], rounding_type="ceil", auto_pad="explicit"), x3), [x3], "torch_maxpool",
          rtol=0, atol=0)
    model = graph(lambda p: list(op_node("MaxPool", p, strides=[2, 2], dilations=[1, 1], pads_begin=[0, 0],
                                         pads_end=[0, 0], kernel=[2, 2], rounding_type="floor",
                                         auto_pad="explicit").outputs), randn(1, 2, 4, 4))
    check(model, [randn(1, 2, 4, 4)], None)


@pytest.mark.parametrize("exclude_pad", [True, False])
@pytest.mark.parametrize("kernel,strides,pads,rounding", [
    ((3, 3), (2, 2), ((1, 1), (1, 1)), "floor"), ((2, 2), (2, 2), ((0, 0), (0, 0)), "ceil"),
    ((3, 3), (2, 2), ((1, 1), (1, 1)), "ceil"), ((3, 3), (1, 1), ((0, 2), (1, 0)), "floor"),
])
def test_avg_pool(exclude_pad: bool, kernel: tuple[int, int], strides: tuple[int, int],
                  pads: tuple[tuple[int, int], ...], rounding: str) -> None:
    x = randn(2, 3, 9, 8)
    model = graph(lambda p: op("AvgPool", p, strides=list(strides), pads_begin=list(pads[0]), pads_end=list(pads[1]),
                               kernel=list(kernel), rounding_type=rounding, auto_pad="explicit",
                               **{"exclude-pad": exclude_pad}), x)
    check(model, [x], "torch_avgpool", rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- reductions and normalizations
@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                     "ReduceL2"])
@pytest.mark.parametrize("axes,keep", [((1,), False), ((-1, 0), True), ((), False), ((2, 3), True)])
def test_reductions(op_type: str, axes: tuple[int, ...], keep: bool) -> None:
    x = randn(2, 3, 4, 5)
    expect = "torch_copy" if not axes else f"torch_{op_type.lower()}"
    check(graph(lambda p: op(op_type, p, np.array(axes, I64), keep_dims=keep), x), [x], expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op_type", ["ReduceLogicalAnd", "ReduceLogicalOr"])
def test_logical_reductions(op_type: str) -> None:
    x = RNG.random((3, 4, 5)) > 0.3
    check(graph(lambda p: op(op_type, p, ints(1, 2), keep_dims=False), x), [x], f"torch_{op_type.lower()}")


@pytest.mark.parametrize("op_type,axis", [("Softmax", 1), ("Softmax", -1), ("LogSoftmax", 0)])
def test_softmax(op_type: str, axis: int) -> None:
    x = randn(2, 3, 4, scale=4.0)
    check(graph(lambda p: op(op_type, p, axis=axis), x), [x], "torch_", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axes,variance,eps_mode", [((2,), True, "INSIDE_SQRT"), ((1, 2), True, "INSIDE_SQRT"),
                                                    ((1,), True, "OUTSIDE_SQRT"), ((2,), False, "INSIDE_SQRT"),
                                                    ((0, 2), True, "INSIDE_SQRT")])
def test_mvn(axes: tuple[int, ...], variance: bool, eps_mode: str) -> None:
    x = randn(2, 3, 8, scale=2.0)
    check(graph(lambda p: op("MVN", p, np.array(axes, I64), eps=1e-5, normalize_variance=variance,
                             eps_mode=eps_mode), x), [x], "torch_", rtol=1e-4, atol=1e-5)


def test_layer_norm_absorbs_scale_and_shift() -> None:
    x = randn(2, 5, 8, scale=2.0)
    gamma, beta = randn(8), randn(1, 1, 8)
    model = graph(lambda p: op("Add", op("Multiply", op("MVN", p, ints(-1), eps=1e-12, normalize_variance=True,
                                                        eps_mode="INSIDE_SQRT"), gamma), beta), x)
    counts = check(model, [x], "torch_layernorm+scale+shift", rtol=1e-4, atol=1e-5)
    assert len(counts) == 1


def test_batch_norm_and_normalize_l2() -> None:
    x = randn(2, 3, 4, 5)
    g, b, m, v = randn(3), randn(3), randn(3), np.abs(randn(3)) + 0.5
    check(graph(lambda p: op("BatchNormInference", p, g, b, m, v, epsilon=1e-3), x), [x], "torch_batchnorm",
          rtol=1e-5, atol=1e-5)
    for mode in ("add", "max"):
        check(graph(lambda p: op("NormalizeL2", p, ints(1, 2), eps=1e-3, eps_mode=mode), x), [x],
              "torch_normalizel2", rtol=1e-5, atol=1e-6)


def test_lrn_and_shuffle_channels() -> None:
    x = randn(2, 8, 5, 5)
    check(graph(lambda p: op("LRN", p, ints(1), alpha=1e-3, beta=0.75, bias=1.5, size=5), x), [x], "torch_lrn",
          rtol=1e-5, atol=1e-6)
    check(graph(lambda p: op("LRN", p, ints(2, 3), alpha=1e-3, beta=0.75, bias=1.0, size=3), x), [x], None,
          rtol=1e-5, atol=1e-6)
    check(graph(lambda p: op("ShuffleChannels", p, axis=1, group=4), x), [x], "torch_shuffle_channels", rtol=0, atol=0)


# ---------------------------------------------------------------- resize
@pytest.mark.parametrize("coord,nearest,size", [
    ("asymmetric", "floor", (12, 16)), ("half_pixel", "round_prefer_floor", (12, 16)),
    ("half_pixel", "round_prefer_ceil", (9, 11)), ("align_corners", "round_prefer_floor", (7, 5)),
    ("pytorch_half_pixel", "ceil", (10, 3)),
])
def test_interpolate_nearest(coord: str, nearest: str, size: tuple[int, int]) -> None:
    x = randn(1, 3, 6, 8)
    model = graph(lambda p: op("Interpolate", p, ints(*size), ints(2, 3),
                               mode="nearest", shape_calculation_mode="sizes", coordinate_transformation_mode=coord,
                               nearest_mode=nearest), x)
    check(model, [x], "torch_resize", rtol=0, atol=0)


def test_interpolate_linear_uses_reference() -> None:
    x = randn(1, 2, 4, 4)
    model = graph(lambda p: op("Interpolate", p, ints(8, 8), ints(2, 3),
                               mode="linear", shape_calculation_mode="sizes"), x)
    check(model, [x], None, rtol=1e-5, atol=1e-6)


RNG = np.random.default_rng(9)
