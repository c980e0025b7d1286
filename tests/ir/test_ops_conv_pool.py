"""Convolution, pooling and matrix-product IR ops: the REF kernels against torch.nn.functional and against
OpenVINO (through irforge's own IR) on what the ONNX node cases do not reach: grouped and transposed
convolutions, output_shape inputs, MaxPool-8 indices with every `axis`, ceil/ceil_torch pooling, MatMul
transposes of 1-D operands, Einsum ellipses and diagonals, and ResNet-50-sized convolutions."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.shape import PartialShape
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(7)


def _randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _model(op: str, x: np.ndarray, *consts: np.ndarray, version: str | None = None, **attrs: Any) -> Model:
    p = parameter(Type.from_dtype(x.dtype), x.shape, "x")
    node = make(op, [p.output(0)] + [constant(c) for c in consts], version=version, **attrs)
    model = Model([result(o) for o in node.outputs], [p])
    model.validate()
    return model_from_xml(*model_to_xml(model))  # every check also covers the IR round trip


def _ref(model: Model, x: np.ndarray) -> list[np.ndarray]:
    outs = run_ref(model, [x])
    for o, r in zip(model.outputs, outs):
        assert o.shape.compatible(r.shape), f"inferred {o.shape}, computed {r.shape}"
        assert r.dtype == o.element_type.dtype
    return outs


def _conv_attrs(nsp: int, stride: int, dilation: int, pad: tuple[int, int], auto_pad: str = "explicit") -> dict:
    return dict(strides=[stride] * nsp, dilations=[dilation] * nsp, pads_begin=[pad[0]] * nsp,
                pads_end=[pad[1]] * nsp, auto_pad=auto_pad)


_TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TORCH_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# ---------------------------------------------------------------- forward convolutions
@pytest.mark.parametrize("nsp,groups,stride,dilation,pad", [
    (1, 1, 2, 1, (1, 1)), (2, 2, 2, 1, (1, 0)), (2, 6, 1, 2, (2, 2)), (3, 3, 1, 1, (1, 1)), (2, 1, 3, 2, (0, 2)),
])
def test_convolution_and_group_convolution_match_torch(nsp: int, groups: int, stride: int, dilation: int,
                                                       pad: tuple[int, int]) -> None:
    x = _randn(2, 6, *[7 + i for i in range(nsp)])
    w = _randn(9 if groups == 1 else 12, 6 // groups, *[3] * nsp)
    torch_x = F.pad(torch.tensor(x), [pad[0], pad[1]] * nsp)
    want = _TORCH_CONV[nsp](torch_x, torch.tensor(w), stride=stride, dilation=dilation, groups=groups).numpy()
    attrs = _conv_attrs(nsp, stride, dilation, pad)
    if groups == 1:
        model = _model("Convolution", x, w, **attrs)
    else:
        model = _model("GroupConvolution", x, w.reshape(groups, -1, *w.shape[1:]), **attrs)
    got = _ref(model, x)
    assert_close(got, [want], rtol=1e-4, atol=1e-4, what=model.ops()[-1].type)
    assert_close(run_openvino(model, [x]), got, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("auto_pad", ["same_upper", "same_lower", "valid"])
@pytest.mark.parametrize("op", ["Convolution", "GroupConvolution"])
def test_convolution_auto_pad_matches_openvino(op: str, auto_pad: str) -> None:
    x = _randn(1, 4, 9, 8)
    w = _randn(6, 4, 4, 3) if op == "Convolution" else _randn(2, 3, 2, 4, 3)
    model = _model(op, x, w, **_conv_attrs(2, 2, 1, (0, 0), auto_pad))
    got = _ref(model, x)
    if auto_pad != "valid":
        assert got[0].shape[2:] == (5, 4)  # ceil(size / stride)
    assert_close(run_openvino(model, [x]), got, rtol=1e-4, atol=1e-4)


def test_convolution_infers_dynamic_dims() -> None:
    p = parameter(Type.f32, PartialShape.parse("?,3,?,20"), "x")
    node = make("Convolution", [p.output(0), constant(_randn(8, 3, 3, 3))], **_conv_attrs(2, 2, 1, (1, 1)))
    assert node.output(0).shape == PartialShape.parse("?,8,?,10")
    p = parameter(Type.f32, PartialShape(None), "y")
    node = make("GroupConvolution", [p.output(0), constant(_randn(2, 4, 3, 3, 3))], **_conv_attrs(2, 1, 1, (0, 0)))
    assert node.output(0).shape == PartialShape.parse("?,8,?,?")


@pytest.mark.parametrize("kernel", [1, 3])
def test_resnet50_sized_convolution_is_fast_and_exact(kernel: int) -> None:
    """1x256x56x56 -> 64 channels, as in ResNet-50's stage 2 bottlenecks; REF must be fast enough to serve as
    the reference on real models (about 0.02 s for 1x1 and 0.15 s for 3x3 here)."""
    x = _randn(1, 256, 56, 56)
    w = (_randn(64, 256, kernel, kernel) / np.sqrt(256 * kernel * kernel)).astype(np.float32)
    model = _model("Convolution", x, w, **_conv_attrs(2, 1, 1, (kernel // 2, kernel // 2)))
    start = time.perf_counter()
    got = run_ref(model, [x])[0]
    elapsed = time.perf_counter() - start
    want = F.conv2d(torch.tensor(x), torch.tensor(w), padding=kernel // 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    print(f"REF {kernel}x{kernel} conv 1x256x56x56->64: {elapsed:.3f} s")


# ---------------------------------------------------------------- transposed convolutions
@pytest.mark.parametrize("nsp,groups,stride,dilation,pads,out_pad", [
    (1, 1, 2, 1, (0, 0), 1), (2, 1, 2, 1, (1, 0), 1), (2, 2, 3, 2, (0, 2), 0), (2, 4, 2, 1, (1, 1), 0),
    (3, 2, 2, 1, (1, 1), 1),
])
def test_backprop_data_matches_torch(nsp: int, groups: int, stride: int, dilation: int, pads: tuple[int, int],
                                     out_pad: int) -> None:
    x = _randn(2, 4, *[4 + i for i in range(nsp)])
    w = _randn(4, 6 // groups if groups != 4 else 1, *[3] * nsp)
    full = _TORCH_DECONV[nsp](torch.tensor(x), torch.tensor(w), stride=stride, dilation=dilation,
                              groups=groups).numpy()
    sizes = [(x.shape[2 + i] - 1) * stride + 2 * dilation + 1 - sum(pads) + out_pad for i in range(nsp)]
    want = np.zeros(full.shape[:2] + tuple(sizes), np.float32)  # pads crop, output_padding adds computed rows
    region = tuple(slice(0, min(s, full.shape[2 + i] - pads[0])) for i, s in enumerate(sizes))
    want[(slice(None), slice(None)) + region] = full[(slice(None), slice(None)) +
                                                     tuple(slice(pads[0], pads[0] + r.stop) for r in region)]
    attrs = dict(_conv_attrs(nsp, stride, dilation, pads), output_padding=[out_pad] * nsp)
    if groups == 1:
        model = _model("ConvolutionBackpropData", x, w, **attrs)
    else:
        model = _model("GroupConvolutionBackpropData", x, w.reshape(groups, -1, *w.shape[1:]), **attrs)
    got = _ref(model, x)
    assert_close(got, [want], rtol=1e-4, atol=1e-4, what=model.ops()[-1].type)
    assert_close(run_openvino(model, [x]), got, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("auto_pad", ["explicit", "valid", "same_upper", "same_lower"])
@pytest.mark.parametrize("out_size", [[8, 9], [9, 9], [11, 12]])
@pytest.mark.parametrize("op", ["ConvolutionBackpropData", "GroupConvolutionBackpropData"])
def test_backprop_data_output_shape_input_matches_openvino(op: str, out_size: list[int], auto_pad: str) -> None:
    """With output_shape, same_* split the needed padding (the odd pixel first for same_upper), explicit keeps
    pads_begin and valid uses none; positions past the computed result are zero."""
    x = _randn(1, 4, 4, 4)
    w = _randn(4, 3, 3, 3) if op == "ConvolutionBackpropData" else _randn(2, 2, 3, 3, 3)
    attrs = dict(strides=[2, 2], dilations=[1, 1], pads_begin=[1, 0], pads_end=[1, 2], auto_pad=auto_pad,
                 output_padding=[0, 0])
    model = _model(op, x, w, np.array(out_size, np.int64), **attrs)
    got = _ref(model, x)
    assert list(got[0].shape[2:]) == out_size
    assert_close(run_openvino(model, [x]), got, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- pooling
_TORCH_MAXPOOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


def test_maxpool8_of_bf16_pads_with_the_lowest_bf16() -> None:
    """bf16 (NumPy kind 'V', from ml_dtypes) windows start from bf16's lowest finite value, as for f32; values and
    indices match torch's.

    OpenVINO checks the values only, on a copy of the model without the indices Result: its CPU plugin runs
    MaxPool-8 in its oneDNN Pooling node only when the indices output is unused, otherwise in its reference
    evaluator, whose MaxPool-8 has no bf16 kernel (src/core/src/op/max_pool.cpp `has_evaluate`). On CPUs with
    AVX-512 (avx512_core) or AVX2-VNNI-2 the plugin keeps bf16 tensors (`hasHardwareSupport(bf16)`) and rejects that
    model ("Unsupported operation of type: MaxPool"); on AVX2-only CPUs it converts bf16 to f32 before choosing
    nodes, so the two-output model would run there and fail only on the others."""
    x = RNG.standard_normal((1, 2, 5, 5)).astype(Type.bf16.dtype) - 4  # all windows negative, padding included
    model = _model("MaxPool", x, version="opset8", strides=[2, 2], dilations=[1, 1], pads_begin=[1, 1],
                   pads_end=[1, 1], kernel=[3, 3], rounding_type="floor", axis=2, index_element_type="i32")
    got = _ref(model, x)
    values, index = _TORCH_MAXPOOL[2](torch.tensor(x.astype(np.float32)), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(got[0].astype(np.float32), values.numpy())
    np.testing.assert_array_equal(got[1], index.numpy().astype(np.int32))
    values_only = Model(model.results[:1], model.parameters)
    values_only.validate()
    assert_close(run_openvino(values_only, [x]), got[:1], what="MaxPool bf16 OpenVINO vs REF")


@pytest.mark.parametrize("nsp,kernel,stride,dilation,pad,ceil", [
    (1, 3, 2, 1, 1, False), (2, 3, 2, 1, 1, False), (2, 2, 2, 2, 0, True), (2, 3, 3, 1, 1, True),
    (3, 2, 2, 1, 1, False), (3, 3, 2, 2, 1, True),
])
def test_maxpool8_values_and_indices_match_torch(nsp: int, kernel: int, stride: int, dilation: int, pad: int,
                                                  ceil: bool) -> None:
    """torch's indices count within each (n, c) plane: OpenVINO's axis=2; axis=0/1 add the plane offsets."""
    x = _randn(2, 3, *[9 + i for i in range(nsp)])
    values, index = _TORCH_MAXPOOL[nsp](torch.tensor(x), kernel, stride, pad, dilation, ceil_mode=ceil,
                                        return_indices=True)
    plane = int(np.prod(x.shape[2:]))
    offsets = {0: np.arange(6).reshape(2, 3), 1: np.tile(np.arange(3), (2, 1)), 2: np.zeros((2, 3), np.int64)}
    for axis in (0, 1, 2):
        model = _model("MaxPool", x, version="opset14" if ceil else "opset8", strides=[stride] * nsp,
                       dilations=[dilation] * nsp, pads_begin=[pad] * nsp, pads_end=[pad] * nsp, kernel=[kernel] * nsp,
                       rounding_type="ceil_torch" if ceil else "floor", axis=axis, index_element_type="i32")
        got = _ref(model, x)
        want_index = index.numpy() + (offsets[axis] * plane).reshape(2, 3, *[1] * nsp)
        assert_close(got, [values.numpy(), want_index.astype(np.int32)], what=f"MaxPool axis={axis}")
        assert_close(run_openvino(model, [x]), got)


_POOL_CASES = [  # (op, version, nsp, kernel, stride, dilation, pads, auto_pad, rounding, exclude_pad)
    ("MaxPool", "opset1", 2, 3, 2, 1, (1, 0), "explicit", "ceil", None),
    ("MaxPool", "opset8", 1, 2, 3, 1, (0, 0), "same_lower", "ceil", None),
    ("MaxPool", "opset8", 3, 2, 2, 2, (1, 1), "valid", "ceil", None),
    ("MaxPool", "opset14", 2, 3, 2, 1, (1, 1), "same_upper", "ceil_torch", None),
    ("AvgPool", "opset1", 2, 3, 2, 1, (1, 1), "explicit", "floor", True),
    ("AvgPool", "opset1", 2, 3, 2, 1, (1, 1), "explicit", "ceil", False),
    ("AvgPool", "opset1", 3, 2, 2, 1, (0, 0), "same_upper", "ceil", False),
    ("AvgPool", "opset14", 2, 3, 2, 1, (1, 1), "explicit", "ceil_torch", False),
    ("AvgPool", "opset14", 1, 3, 2, 1, (0, 0), "same_lower", "ceil_torch", True),
    ("AvgPool", "opset16", 2, 3, 2, 2, (1, 2), "explicit", "ceil", False),
    ("AvgPool", "opset16", 3, 2, 1, 2, (1, 0), "explicit", "floor", True),
]


@pytest.mark.parametrize("case", _POOL_CASES, ids=[f"{c[0]}-{c[1]}-{c[7]}-{c[8]}-{c[9]}" for c in _POOL_CASES])
def test_pooling_variants_match_openvino(case: tuple) -> None:
    op, version, nsp, kernel, stride, dilation, pads, auto_pad, rounding, exclude_pad = case
    x = _randn(2, 3, *[8 + i for i in range(nsp)])
    attrs: dict[str, Any] = dict(strides=[stride] * nsp, pads_begin=[pads[0]] * nsp, pads_end=[pads[1]] * nsp,
                                 kernel=[kernel] * nsp, rounding_type=rounding, auto_pad=auto_pad)
    if version in ("opset8", "opset14") and op == "MaxPool" or version == "opset16":
        attrs["dilations"] = [dilation] * nsp
    if op == "AvgPool":
        attrs["exclude-pad"] = exclude_pad
    model = _model(op, x, version=version, **attrs)
    assert_close(run_openvino(model, [x]), _ref(model, x), what=f"{op}-{version}")


def test_avgpool_counts_like_openvino_reference() -> None:
    """exclude-pad=false divides by the whole kernel when padding is present, by the real elements otherwise
    (also for a ceil-mode window reaching past the input)."""
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 1, 7)
    common = {"kernel": [3], "strides": [3], "exclude-pad": False}
    padded = _model("AvgPool", x, pads_begin=[1], pads_end=[1], rounding_type="floor", **common)
    np.testing.assert_allclose(_ref(padded, x)[0].ravel(), [1.0, 4.0, 13.0 / 3], rtol=1e-6)
    unpadded = _model("AvgPool", x, pads_begin=[0], pads_end=[0], rounding_type="ceil", **common)
    np.testing.assert_allclose(_ref(unpadded, x)[0].ravel(), [2.0, 5.0, 7.0])
    for model in (padded, unpadded):
        assert_close(run_openvino(model, [x]), _ref(model, x))


# ---------------------------------------------------------------- matrix products
def _binary(op: str, a: np.ndarray, b: np.ndarray, **attrs: Any) -> tuple[Output, list[np.ndarray]]:
    pa, pb = parameter(Type.f32, a.shape, "a"), parameter(Type.f32, b.shape, "b")
    out = make(op, [pa.output(0), pb.output(0)], **attrs).output(0)
    model = Model([result(out)], [pa, pb])
    got = run_ref(model, [a, b])
    assert out.shape.compatible(got[0].shape)
    assert_close(run_openvino(model, [a, b]), got, rtol=1e-5, atol=1e-5)
    return out, got


@pytest.mark.parametrize("sa,sb,ta,tb", [
    ((5,), (5,), True, True), ((4,), (2, 4, 3), True, False), ((2, 3, 4), (4,), False, True),
    ((3, 1, 5, 4), (2, 6, 5), True, True), ((5, 4), (1, 5, 3), True, False),
])
def test_matmul_transposes_and_vectors(sa: tuple, sb: tuple, ta: bool, tb: bool) -> None:
    """Transposes touch only operands of rank >= 2; 1-D operands become a row / a column and vanish again."""
    a, b = _randn(*sa), _randn(*sb)
    _, got = _binary("MatMul", a, b, transpose_a=ta, transpose_b=tb)
    na = np.swapaxes(a, -1, -2) if a.ndim > 1 and ta else a
    nb = np.swapaxes(b, -1, -2) if b.ndim > 1 and tb else b
    np.testing.assert_allclose(got[0], np.matmul(na, nb), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("equation,sa,sb", [
    ("a...b,b...->a...", (4, 1, 3, 2), (2, 5, 1)),  # ellipses broadcast against each other
    ("bii,bj->bij", (2, 3, 3), (2, 4)),  # a diagonal
    ("bij,bjk", (2, 3, 4), (2, 4, 5)),  # implicit mode: labels used once, sorted ("ik")
    ("ij,jk->ik", (3, 4), (4, 2)),
    ("...ij,...jk", (2, 3, 4), (4, 5)),
    ("Ab,bC->CA", (2, 3), (3, 4)),
])
def test_einsum_matches_numpy(equation: str, sa: tuple, sb: tuple) -> None:
    a, b = _randn(*sa), _randn(*sb)
    _, got = _binary("Einsum", a, b, equation=equation)
    np.testing.assert_allclose(got[0], np.einsum(equation, a, b), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- ONNX translations the node cases miss
def _onnx_case(op: str, inputs: dict[str, np.ndarray], consts: dict[str, np.ndarray], opset: int = 22,
               n_out: int = 1, oracle: str = "reference", **attrs: Any) -> None:
    """One ONNX node: irforge on REF and on OpenVINO against the ONNX reference evaluator (or ONNX Runtime)."""
    import onnx.reference
    from onnx import TensorProto, helper, numpy_helper

    import irforge

    names = list(inputs) + list(consts)
    outs = [f"y{i}" for i in range(n_out)]
    graph = helper.make_graph(
        [helper.make_node(op, names, outs, **attrs)], "g",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["N", *v.shape[1:]]) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT if i == 0 else TensorProto.INT64, None)
         for i, o in enumerate(outs)],
        [numpy_helper.from_array(v, k) for k, v in consts.items()])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    if oracle == "ort":
        want = run_ort(proto, inputs)
    else:
        want = onnx.reference.ReferenceEvaluator(proto).run(None, inputs)
    model = irforge.convert_model(proto)
    model.validate()
    feeds = list(inputs.values())
    got = run_ref(model, feeds)
    assert_close(got, want, rtol=1e-5, atol=1e-5, what=op)
    assert_close(run_openvino(model, feeds), want, rtol=1e-5, atol=1e-5, what=op)


@pytest.mark.parametrize("opset", [7, 22])
def test_onnx_grouped_conv_with_bias_and_dynamic_batch(opset: int) -> None:
    _onnx_case("Conv", {"x": _randn(2, 4, 9, 8)}, {"W": _randn(6, 2, 3, 3), "B": _randn(6)}, opset,
               group=2, strides=[2, 1], pads=[1, 0, 1, 2])


@pytest.mark.parametrize("attrs", [
    dict(strides=[2], auto_pad="SAME_UPPER"),  # ONNX wants a negative begin pad here: a zero Pad row
    dict(strides=[3, 2], output_shape=[12, 10], oracle="ort"),  # the reference evaluator rejects this one
    dict(strides=[2, 2], output_padding=[1, 0], pads=[1, 0, 0, 1], group=2, oracle="ort"),
], ids=["same_upper_negative_begin", "output_shape", "group_output_padding"])
def test_onnx_conv_transpose_padding_placement(attrs: dict) -> None:
    nsp = len(attrs["strides"])
    _onnx_case("ConvTranspose", {"x": _randn(2, 4, *[4 + i for i in range(nsp)])},
               {"W": _randn(4, 3, *[1 if nsp == 1 else 3] * nsp), "B": _randn(3 * attrs.get("group", 1))}, **attrs)


def test_onnx_avgpool_count_include_pad_clips_ceil_windows() -> None:
    """The last ceil-mode window reaches past the padding: ONNX divides by its taps inside the padded input."""
    _onnx_case("AveragePool", {"x": _randn(2, 3, 8, 7)}, {}, kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 0], ceil_mode=1, count_include_pad=1)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_onnx_maxpool_indices_storage_order(storage_order: int) -> None:
    _onnx_case("MaxPool", {"x": _randn(2, 3, 7, 6)}, {}, n_out=2, kernel_shape=[3, 2], strides=[2, 1],
               pads=[1, 0, 1, 1], storage_order=storage_order)


def test_onnx_gemm_with_c_input() -> None:
    _onnx_case("Gemm", {"a": _randn(5, 3), "b": _randn(4, 5), "c": _randn(1, 4)}, {}, transA=1, transB=1,
               alpha=0.5, beta=2.0)
