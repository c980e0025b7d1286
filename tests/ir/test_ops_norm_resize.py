"""Normalization, Interpolate, Pad and depth/space IR ops: the REF kernels against OpenVINO (through irforge's
own IR) and, where it has the same op, torch, on what the ONNX node cases do not reach: NormalizeL2, MVN with
OUTSIDE_SQRT or without variance, every Interpolate mode and coordinate/nearest rule, the pillow modes, pads,
Interpolate-4 (written by OpenVINO and read by irforge), Pad-12 negative pads in every mode, Pad-1, and
DepthToSpace/SpaceToDepth with three spatial axes."""
from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from irforge.errors import GraphError
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml, read_model
from tests.util import assert_close, run_openvino, run_ref

RNG = np.random.default_rng(11)


def _randn(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 3).astype(np.float32)


def _model(op: str, x: np.ndarray, *consts: np.ndarray, version: str | None = None, **attrs: Any) -> Model:
    p = parameter(Type.from_dtype(x.dtype), x.shape, "x")
    node = make(op, [p.output(0)] + [constant(c) for c in consts], version=version, **attrs)
    model = Model([result(node.output(0))], [p])
    model.validate()
    return model_from_xml(*model_to_xml(model))  # every check also covers the IR round trip


def _check(model: Model, x: np.ndarray, atol: float = 1e-4, rtol: float = 1e-4) -> np.ndarray:
    """REF output (its shape as inferred, its dtype as declared), compared with OpenVINO's."""
    got = run_ref(model, [x])[0]
    out = model.outputs[0]
    assert out.shape.compatible(got.shape), f"inferred {out.shape}, computed {got.shape}"
    assert got.dtype == out.element_type.dtype
    assert_close([got], run_openvino(model, [x]), rtol=rtol, atol=atol, what=model.ops()[-1].type)
    return got


# ---------------------------------------------------------------- normalization
@pytest.mark.parametrize("axes,eps_mode", [([1], "add"), ([1], "max"), ([1, 2, 3], "add"), ([-1], "max"),
                                           ([0, 3], "add")])
def test_normalize_l2(axes: list[int], eps_mode: str) -> None:
    x = _randn(2, 3, 4, 5)
    x[0, :, 0, 0] = 0  # an all-zero slice: eps decides the denominator
    got = _check(_model("NormalizeL2", x, np.array(axes, np.int64), eps=1e-3, eps_mode=eps_mode), x)
    if axes == [1] and eps_mode == "max":
        want = F.normalize(torch.from_numpy(x), dim=1, eps=np.sqrt(1e-3)).numpy()
        assert_close([got], [want])


@pytest.mark.parametrize("eps_mode", ["INSIDE_SQRT", "OUTSIDE_SQRT"])
@pytest.mark.parametrize("axes,normalize_variance", [([2, 3], True), ([1, 2, 3], True), ([-1], True),
                                                     ([1], False), ([0, 2], True)])
def test_mvn(axes: list[int], normalize_variance: bool, eps_mode: str) -> None:
    x = _randn(2, 3, 4, 5) + 2
    _check(_model("MVN", x, np.array(axes, np.int64), eps=0.5, normalize_variance=normalize_variance,
                  eps_mode=eps_mode), x)


def test_mvn_matches_torch_group_and_layer_norm() -> None:
    x = _randn(2, 6, 4, 5)
    mvn = _model("MVN", x, np.array([1, 2, 3], np.int64), eps=1e-5, normalize_variance=True, eps_mode="INSIDE_SQRT")
    want = F.layer_norm(torch.from_numpy(x), [6, 4, 5], eps=1e-5).numpy()
    assert_close(run_ref(mvn, [x]), [want], atol=1e-5)


def test_batch_norm_inference_f16_and_5d() -> None:
    x = _randn(2, 3, 2, 4, 5).astype(np.float16)
    gamma, beta, mean = (_randn(3).astype(np.float16) for _ in range(3))
    var = np.abs(_randn(3)).astype(np.float16) + np.float16(0.5)
    got = _check(_model("BatchNormInference", x, gamma, beta, mean, var, epsilon=1e-3), x, atol=2e-2, rtol=2e-3)
    want = F.batch_norm(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(mean.astype(np.float32)),
                        torch.from_numpy(var.astype(np.float32)), torch.from_numpy(gamma.astype(np.float32)),
                        torch.from_numpy(beta.astype(np.float32)), eps=1e-3).numpy()
    assert_close([got], [want], atol=2e-2, rtol=1e-2)


# ---------------------------------------------------------------- Interpolate
_RESIZES = [  # (input shape, axes, scales or sizes, shape_calculation_mode)
    ((1, 2, 5, 7), [2, 3], [2.0, 0.5], "scales"),
    ((1, 2, 5, 7), [2, 3], [9, 3], "sizes"),
    ((2, 3, 4, 6), None, [1.0, 1.0, 1.7, 0.6], "scales"),
    ((1, 1, 6, 9), [3, 2], [0.8, 0.34], "scales"),
    ((1, 1, 6, 9), [2, 3], [4, 11], "sizes"),
]


def _interpolate(x: np.ndarray, axes: list[int] | None, values: list[float], by: str, **attrs: Any) -> Model:
    consts = [np.array(values, np.int64 if by == "sizes" else np.float32)]
    if axes is not None:
        consts.append(np.array(axes, np.int64))
    return _model("Interpolate", x, *consts, shape_calculation_mode=by, **attrs)


@pytest.mark.parametrize("shape,axes,values,by", _RESIZES)
@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn",
                                   "align_corners"])
@pytest.mark.parametrize("mode", ["linear", "linear_onnx", "cubic"])
def test_interpolate_linear_and_cubic(mode: str, coord: str, shape: tuple[int, ...], axes: list[int] | None,
                                      values: list[float], by: str) -> None:
    x = _randn(*shape)
    _check(_interpolate(x, axes, values, by, mode=mode, coordinate_transformation_mode=coord, cube_coeff=-0.6), x)


@pytest.mark.parametrize("shape,axes,values,by", _RESIZES)
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"])
@pytest.mark.parametrize("coord", ["half_pixel", "asymmetric", "align_corners", "tf_half_pixel_for_nn"])
def test_interpolate_nearest(coord: str, nearest_mode: str, shape: tuple[int, ...], axes: list[int] | None,
                             values: list[float], by: str) -> None:
    x = RNG.integers(-100, 100, shape).astype(np.int32)
    _check(_interpolate(x, axes, values, by, mode="nearest", coordinate_transformation_mode=coord,
                        nearest_mode=nearest_mode), x)


@pytest.mark.parametrize("mode", ["nearest", "linear", "linear_onnx", "cubic"])
def test_interpolate_pads(mode: str) -> None:
    x = _randn(1, 2, 5, 7)
    _check(_interpolate(x, [2, 3], [2.0, 0.5], "scales", mode=mode, pads_begin=[0, 0, 1, 2], pads_end=[0, 0, 2, 1]),
           x)


@pytest.mark.parametrize("scales", [[1.0, 2.0, 0.5], [0.5, 0.6, 0.34], [0.5, 1.6, 0.34]])
def test_interpolate_linear_antialias_5d(scales: list[float]) -> None:
    """OpenVINO's CPU runs mode=linear as linear_onnx below rank 5, so antialias is compared on 5-D input
    (and only with some axis shrinking: the CPU also antialiases pure upsampling, which the spec does not)."""
    x = _randn(1, 2, 6, 5, 9)
    _check(_interpolate(x, [2, 3, 4], scales, "scales", mode="linear", antialias=True), x)


@pytest.mark.parametrize("mode,cube", [("bilinear_pillow", -0.75), ("bicubic_pillow", -0.5)])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("shape,axes,values,by", [((1, 2, 5, 7), [2, 3], [2.0, 0.5], "scales"),
                                                  ((2, 6, 9, 3), [1, 2], [4, 11], "sizes"),
                                                  ((1, 1, 8, 8), [2, 3], [8, 3], "sizes")])
def test_interpolate_pillow(mode: str, cube: float, dtype: type, shape: tuple[int, ...], axes: list[int],
                            values: list[float], by: str) -> None:
    """uint8 results may differ: each pass rounds halves away from zero (OpenVINO's reference, Pillow), OpenVINO's
    CPU kernel rounds some of them to even. A one-off intermediate of the first pass is weighted again by the second:
    bilinear weights sum to at most 1 (one step), bicubic's negative lobes let it reach two. The input is drawn from
    its own seed, so the case does not depend on which tests ran before it in the worker."""
    model = _interpolate(np.zeros(shape, dtype), axes, values, by, mode=mode, cube_coeff=cube)
    if dtype == np.float32:
        _check(model, _randn(*shape))
        return
    x = np.random.default_rng(5).integers(0, 256, shape).astype(dtype)
    got, want = run_ref(model, [x])[0], run_openvino(model, [x])[0]
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= (1 if mode == "bilinear_pillow" else 2)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True),
                                        ("bicubic", False)])
def test_interpolate_matches_torch(mode: str, align: bool | None) -> None:
    x = _randn(2, 3, 6, 7)
    attrs: dict[str, Any] = {
        "nearest": dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        "bilinear": dict(mode="linear_onnx"),
        "bicubic": dict(mode="cubic", cube_coeff=-0.75),
    }[mode]
    if mode != "nearest":
        attrs["coordinate_transformation_mode"] = "align_corners" if align else "pytorch_half_pixel"
    got = run_ref(_interpolate(x, [2, 3], [11, 4], "sizes", **attrs), [x])[0]
    want = F.interpolate(torch.from_numpy(x), size=(11, 4), mode=mode, align_corners=align).numpy()
    assert_close([got], [want], atol=1e-4)


def test_interpolate_dynamic_shapes_infer() -> None:
    p = parameter(Type.f32, [1, 3, None, 8], "x")
    scales = parameter(Type.f32, [2], "s")
    n = make("Interpolate", [p.output(0), constant(np.array([2.0, 0.5], np.float32)),
                             constant(np.array([2, 3], np.int64))], mode="nearest", shape_calculation_mode="scales")
    assert str(n.output(0).shape) == "1,3,?,4"
    n = make("Interpolate", [p.output(0), scales.output(0), constant(np.array([2, 3], np.int64))],
             mode="nearest", shape_calculation_mode="scales")
    assert str(n.output(0).shape) == "1,3,?,?"
    with pytest.raises(GraphError):
        make("Interpolate", [p.output(0), scales.output(0)], mode="nearest", shape_calculation_mode="sizes")


def test_interpolate4_written_by_openvino_is_read() -> None:
    """An Interpolate-4 IR (separate sizes and scales inputs) that OpenVINO itself serialized."""
    import openvino as ov
    from openvino import opset13
    from openvino.utils.node_factory import NodeFactory

    x = _randn(1, 2, 5, 6)
    p = opset13.parameter(list(x.shape), np.float32, name="x")
    results = []
    for by, mode in [("sizes", "nearest"), ("scales", "linear_onnx"), ("sizes", "cubic")]:
        inputs = [p.output(0), opset13.constant(np.array([9, 4], np.int64)).output(0),
                  opset13.constant(np.array([1.5, 0.5], np.float32)).output(0),
                  opset13.constant(np.array([2, 3], np.int64)).output(0)]
        attrs = {"mode": mode, "shape_calculation_mode": by}
        results.append(NodeFactory("opset4").create("Interpolate", inputs, attrs))
    ov_model = ov.Model(results, [p])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.xml")
        ov.save_model(ov_model, path, compress_to_fp16=False)
        model = read_model(path)
    assert [(n.type, n.version) for n in model.ops() if n.type == "Interpolate"] == [("Interpolate", "opset4")] * 3
    compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled([x])
    assert_close(run_ref(model, [x]), [res[o] for o in compiled.outputs])
    assert_close(run_ref(model, [x]), run_openvino(model, [x]))  # and irforge writes it back as opset4


# ---------------------------------------------------------------- Pad
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("begin,end", [([0, -1, 2, -2], [1, 2, -1, 3]), ([-1, 0, -2, -1], [0, -1, -1, -2]),
                                       ([1, 2, 3, 2], [0, 1, 3, 4]), ([0, 0, -5, 0], [0, 0, 0, 0])])
def test_pad12_negative_and_mixed_pads(mode: str, begin: list[int], end: list[int]) -> None:
    x = _randn(2, 3, 5, 6)
    consts = [np.array(begin, np.int64), np.array(end, np.int64)]
    if mode == "constant":
        consts.append(np.array(1.5, np.float32))
    got = _check(_model("Pad", x, *consts, pad_mode=mode), x)
    if min(begin + end) >= 0:
        np_mode = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[mode]
        kw = {"constant_values": 1.5} if mode == "constant" else {}
        assert_close([got], [np.pad(x, list(zip(begin, end)), mode=np_mode, **kw)])


def test_pad12_spec_examples() -> None:
    """The mixed-pads examples of OpenVINO's Pad-12 page: reflect/symmetric mirror the uncropped data."""
    x = np.arange(1, 13, dtype=np.int32).reshape(3, 4)
    begin, end = np.array([2, -1], np.int64), np.array([-1, 3], np.int64)
    want = {"reflect": [[10, 11, 12, 11, 10, 9], [6, 7, 8, 7, 6, 5], [2, 3, 4, 3, 2, 1], [6, 7, 8, 7, 6, 5]],
            "symmetric": [[6, 7, 8, 8, 7, 6], [2, 3, 4, 4, 3, 2], [2, 3, 4, 4, 3, 2], [6, 7, 8, 8, 7, 6]],
            "edge": [[2, 3, 4, 4, 4, 4], [2, 3, 4, 4, 4, 4], [2, 3, 4, 4, 4, 4], [6, 7, 8, 8, 8, 8]]}
    for mode, rows in want.items():
        got = _check(_model("Pad", x, begin, end, pad_mode=mode), x)
        np.testing.assert_array_equal(got, np.array(rows, np.int32), err_msg=mode)


def test_pad1_reads_and_rejects_negative_pads() -> None:
    x = _randn(1, 2, 3, 4)
    _check(_model("Pad", x, np.array([0, 1, 2, 0]), np.array([0, 0, 1, 3]), version="opset1", pad_mode="reflect"), x)
    with pytest.raises(GraphError):
        _model("Pad", x, np.array([0, -1, 0, 0]), np.array([0, 0, 0, 0]), version="opset1", pad_mode="constant")


# ---------------------------------------------------------------- DepthToSpace / SpaceToDepth
@pytest.mark.parametrize("mode", ["blocks_first", "depth_first"])
@pytest.mark.parametrize("shape,block", [((2, 16, 2, 3, 1), 2), ((1, 18, 2, 3), 3), ((2, 4, 5), 2)])
def test_depth_to_space_and_back(mode: str, shape: tuple[int, ...], block: int) -> None:
    x = _randn(*shape)
    y = _check(_model("DepthToSpace", x, block_size=block, mode=mode), x)
    back = _check(_model("SpaceToDepth", y, block_size=block, mode=mode), y)
    np.testing.assert_array_equal(back, x)
    if mode == "depth_first" and len(shape) == 4:
        np.testing.assert_array_equal(y, F.pixel_shuffle(torch.from_numpy(x), block).numpy())


# ---------------------------------------------------------------- ONNX translations the node cases miss
def _onnx_model(op: str, inputs: list[tuple[str, np.ndarray, bool]], opset: int, dynamic: bool = False,
                **attrs: Any) -> Any:
    """A one-node ONNX model; inputs are (name, value, is_initializer), name "" for an omitted optional one.
    `dynamic` leaves the first input's dims unknown."""
    from onnx import helper, numpy_helper

    graph_inputs, inits, names = [], [], []
    for name, value, is_init in inputs:
        names.append(name)
        if not name:
            continue
        if is_init:
            inits.append(numpy_helper.from_array(value, name))
            continue
        shape = [None] * value.ndim if dynamic and not graph_inputs else list(value.shape)
        elem = helper.np_dtype_to_tensor_dtype(value.dtype)
        graph_inputs.append(helper.make_tensor_value_info(name, elem, shape))
    node = helper.make_node(op, names, ["y"], **attrs)
    out = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(inputs[0][1].dtype), None)
    graph = helper.make_graph([node], "g", graph_inputs, [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _check_onnx(model: Any, feeds: dict[str, np.ndarray], want: np.ndarray | None = None, atol: float = 1e-5) -> None:
    """REF and OpenVINO (through irforge's IR) against ONNX Runtime, or against `want` when given."""
    import irforge
    from tests.util import run_ort

    ir = irforge.convert_model(model)
    values = list(feeds.values())
    if want is None:
        want = run_ort(model, feeds)[0]
    assert_close(run_ref(ir, values), [want], atol=atol, what="REF")
    assert_close(run_openvino(ir, values), [want], atol=atol, what="OpenVINO")


@pytest.mark.parametrize("const_pads,dynamic", [(True, False), (False, False), (False, True), (True, True)])
def test_pad_wrap(const_pads: bool, dynamic: bool) -> None:
    x = _randn(2, 3, 4)
    pads = np.array([1, 0, -1, 2, 3, 4], np.int64)
    model = _onnx_model("Pad", [("x", x, False), ("pads", pads, const_pads)], 21, dynamic=dynamic, mode="wrap")
    want = x
    for axis in range(3):
        want = np.take(want, np.arange(-pads[axis], x.shape[axis] + pads[axis + 3]) % x.shape[axis], axis=axis)
    _check_onnx(model, {"x": x} if const_pads else {"x": x, "pads": pads}, want)


def test_pad_v2_attributes_and_constant_axes() -> None:
    x = _randn(2, 3, 4)
    _check_onnx(_onnx_model("Pad", [("x", x, False)], 2, pads=[0, 1, 2, 1, 0, 3], value=-2.0), {"x": x})
    model = _onnx_model("Pad", [("x", x, False), ("pads", np.array([1, 2, 0, 3], np.int64), True),
                                ("v", np.array([4.0], np.float32), True), ("axes", np.array([-1, 0], np.int64), True)],
                        18, mode="constant")
    _check_onnx(model, {"x": x})


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_resize_keep_aspect_ratio_constant_sizes(policy: str) -> None:
    x = _randn(1, 2, 4, 6)
    none = np.zeros(0, np.float32)
    model = _onnx_model("Resize", [("x", x, False), ("", none, True), ("", none, True),
                                   ("sizes", np.array([8, 5], np.int64), True)],
                        18, mode="linear", axes=[2, 3], keep_aspect_ratio_policy=policy)
    _check_onnx(model, {"x": x})


@pytest.mark.parametrize("op,opset,mode", [("Resize", 10, "nearest"), ("Resize", 10, "linear"),
                                           ("Upsample", 7, "nearest"), ("Upsample", 9, "linear")])
def test_resize10_and_upsample(op: str, opset: int, mode: str) -> None:
    x = _randn(1, 2, 3, 4)
    scales = np.array([1, 1, 2, 3], np.float32)
    if op == "Upsample" and opset == 7:
        model = _onnx_model(op, [("x", x, False)], opset, mode=mode, scales=scales.tolist())
    else:
        model = _onnx_model(op, [("x", x, False), ("scales", scales, True)], opset, mode=mode)
    _check_onnx(model, {"x": x})


def test_instance_and_layer_norm_with_constant_weights() -> None:
    x = _randn(2, 3, 5, 4)
    scale, bias = _randn(3), _randn(3)
    model = _onnx_model("InstanceNormalization", [("x", x, False), ("s", scale, True), ("b", bias, True)], 6,
                        epsilon=1e-3)
    _check_onnx(model, {"x": x}, atol=1e-4)
    model = _onnx_model("LayerNormalization", [("x", x, False), ("w", _randn(5, 4), True)], 17, axis=2)
    _check_onnx(model, {"x": x}, atol=1e-4)


def test_depth_to_space_opset1() -> None:
    x = _randn(1, 8, 2, 3)
    _check_onnx(_onnx_model("DepthToSpace", [("x", x, False)], 1, blocksize=2), {"x": x})


@pytest.mark.skipif(onnx.defs.onnx_opset_version() < 28, reason="SpaceToDepth's mode attribute is opset 28 "
                    "(onnx >= 1.23); the installed onnx knows an older opset")
def test_space_to_depth_crd() -> None:
    y = _randn(1, 2, 4, 6)
    want = y.reshape(1, 2, 2, 2, 3, 2).transpose(0, 1, 3, 5, 2, 4).reshape(1, 8, 2, 3)
    _check_onnx(_onnx_model("SpaceToDepth", [("x", y, False)], 28, blocksize=2, mode="CRD"), {"x": y}, want)
