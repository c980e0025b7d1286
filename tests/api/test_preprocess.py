"""OpenVINO's `preprocess` API, same script twice: every test runs one function once with `ov = openvino` and once
with `ov = irforge` on real ONNX graphs (read with `ov.Core().read_model`), applies the same PrePostProcessor steps,
compiles on CPU in f32 and compares the outputs, the resulting model's inputs/outputs (names, element types,
partial shapes, layouts) and `str(ppp)`. IR irforge saves after preprocessing runs in OpenVINO, and IR OpenVINO
saves after preprocessing runs in irforge, with the same numbers."""
from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto
from onnx import helper as h

import irforge
import irforge.layout_helpers
import irforge.preprocess
from irforge.errors import IRForgeError
from irforge.ir.graph import make
from irforge.ir.layout import Layout
from irforge.ir.types import Type
from irforge.ir.xml_io import save_model as irforge_save_model

openvino = pytest.importorskip("openvino")

# `import irforge as ov` (a stand-in with the same names until the package exports them all)
IRF: Any = irforge if {"Core", "preprocess", "Layout", "Type", "layout_helpers"} <= set(vars(irforge)) else \
    types.SimpleNamespace(Core=irforge.Core, preprocess=irforge.preprocess, Layout=Layout, Type=Type,
                          layout_helpers=irforge.layout_helpers)
APIS = [openvino, IRF]
F32 = {"INFERENCE_PRECISION_HINT": "f32"}
RTOL, ATOL = 1e-5, 1e-5


# ---------------------------------------------------------------- models
def _conv(name: str, x: str, y: str, cin: int, cout: int, rng: np.random.Generator, stride: int = 1) -> list[Any]:
    w = h.make_tensor(f"{name}_w", TensorProto.FLOAT, [cout, cin, 3, 3], rng.normal(0, 0.3, (cout, cin, 3, 3)).ravel())
    b = h.make_tensor(f"{name}_b", TensorProto.FLOAT, [cout], rng.normal(0, 0.1, cout))
    node = h.make_node("Conv", [x, w.name, b.name], [y], name=name, pads=[1, 1, 1, 1], strides=[stride, stride])
    return [node, w, b]


def _cnn(channels: int, hw: int) -> onnx.ModelProto:
    """image[1,C,hw,hw] -> Conv 3x3 -> Relu -> Conv 3x3 stride 2 -> features[1,4,hw/2,hw/2]."""
    rng = np.random.default_rng(channels)
    n1, w1, b1 = _conv("conv1", "image", "c1", channels, 8, rng)
    n2, w2, b2 = _conv("conv2", "r1", "features", 8, 4, rng, stride=2)
    graph = h.make_graph([n1, h.make_node("Relu", ["c1"], ["r1"]), n2], "cnn",
                         [h.make_tensor_value_info("image", TensorProto.FLOAT, [1, channels, hw, hw])],
                         [h.make_tensor_value_info("features", TensorProto.FLOAT, None)], [w1, b1, w2, b2])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


def _two_inputs() -> onnx.ModelProto:
    """a, b [1,3,8,8] -> sum = Relu(a + b), prod = a * b."""
    graph = h.make_graph([h.make_node("Add", ["a", "b"], ["s"]), h.make_node("Relu", ["s"], ["sum"]),
                          h.make_node("Mul", ["a", "b"], ["prod"])], "two",
                         [h.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 8, 8]) for n in "ab"],
                         [h.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("sum", "prod")])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


def _mlp() -> onnx.ModelProto:
    """x[2,8] -> MatMul+Add -> Relu -> MatMul -> y[2,4]."""
    rng = np.random.default_rng(7)
    inits = [h.make_tensor("w1", TensorProto.FLOAT, [8, 16], rng.normal(0, 0.3, 128)),
             h.make_tensor("b1", TensorProto.FLOAT, [16], rng.normal(0, 0.1, 16)),
             h.make_tensor("w2", TensorProto.FLOAT, [16, 4], rng.normal(0, 0.3, 64))]
    nodes = [h.make_node("MatMul", ["x", "w1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Relu", ["a1"], ["r1"]), h.make_node("MatMul", ["r1", "w2"], ["y"])]
    graph = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("ppp_models")
    paths = {}
    for name, proto in {"cnn": _cnn(3, 16), "gray": _cnn(1, 16), "two": _two_inputs(), "mlp": _mlp()}.items():
        paths[name] = str(folder / f"{name}.onnx")
        onnx.save(proto, paths[name])
    return paths


# ---------------------------------------------------------------- same script, both runtimes
def _port_type(port: Any) -> str:
    et = port.get_element_type() if hasattr(port, "get_element_type") else port.element_type
    return et.get_type_name() if hasattr(et, "get_type_name") else et.name


def _port_shape(port: Any) -> str:
    shape = port.get_partial_shape() if hasattr(port, "get_partial_shape") else port.shape
    return "[" + str(shape).strip("[]") + "]"


def _port_names(port: Any) -> list[str]:
    return sorted(port.get_names() if hasattr(port, "get_names") else port.names)


def describe(ov: Any, model: Any) -> list[tuple[str, ...]]:
    """Every input and output: names, element type, partial shape, layout."""
    return [(kind, ",".join(_port_names(p)), _port_type(p), _port_shape(p),
             ov.layout_helpers.get_layout(p).to_string())
            for kind, ports in (("in", model.inputs), ("out", model.outputs)) for p in ports]


def infer(ov: Any, model: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    compiled = ov.Core().compile_model(model, "CPU", F32)
    result = compiled(list(inputs))
    return [np.asarray(result[i]) for i in range(len(model.outputs))]


def same(script: Callable[[Any], dict[str, Any]], rtol: float = RTOL, atol: float = ATOL) -> dict[str, Any]:
    """Run `script(ov)` with OpenVINO and with irforge; every value must agree (arrays: same dtype and shape, close:
    `atol` is relative to the largest magnitude, as float32 sums of large terms round at that scale)."""
    want, got = script(openvino), script(IRF)
    assert want.keys() == got.keys()
    for key in want:
        w, g = want[key], got[key]
        if isinstance(w, list) and w and isinstance(w[0], np.ndarray):
            assert len(w) == len(g), key
            for a, b in zip(w, g):
                assert a.dtype == b.dtype and a.shape == b.shape, (key, a.dtype, b.dtype, a.shape, b.shape)
                scale = max(1.0, float(np.abs(a.astype(np.float64)).max(initial=0)))
                np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), rtol=rtol, atol=atol * scale,
                                           err_msg=key)
        else:
            assert g == w, f"{key}:\nirforge:  {g}\nopenvino: {w}"
    return got


def _image(shape: tuple[int, ...], dtype: Any = np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype(dtype) if np.dtype(dtype).kind in "ui" else \
        rng.uniform(0, 255, shape).astype(dtype)


def built(ov: Any, path: str, configure: Callable[[Any, Any], None], *inputs: np.ndarray) -> dict[str, Any]:
    """Read `path`, let `configure(ov, ppp)` declare steps, build, run on `inputs`: what a script can observe."""
    model = ov.Core().read_model(path)
    ppp = ov.preprocess.PrePostProcessor(model)
    configure(ov, ppp)
    text = str(ppp)
    model = ppp.build()
    return {"str": text, "ports": describe(ov, model), "outputs": infer(ov, model, *inputs)}


MEAN, SCALE = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


# ---------------------------------------------------------------- typical chains
def test_tutorial_u8_nhwc_image_to_f32_nchw(models: dict[str, str]) -> None:
    x = _image((1, 24, 20, 3))

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
            .set_spatial_static_shape(24, 20)
        ppp.input().preprocess().convert_element_type(ov.Type.f32).reverse_channels() \
            .resize(ov.preprocess.ResizeAlgorithm.RESIZE_LINEAR).mean(MEAN).scale(SCALE)
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    got = same(lambda ov: built(ov, models["cnn"], configure, x))
    assert got["ports"][0] == ("in", "image", "u8", "[1,24,20,3]", "[N,H,W,C]")


def test_tutorial_dynamic_spatial_size_with_bgr_color(models: dict[str, str]) -> None:
    def script(ov: Any) -> dict[str, Any]:
        P = ov.preprocess
        model = ov.Core().read_model(models["cnn"])
        ppp = P.PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_color_format(P.ColorFormat.BGR) \
            .set_spatial_dynamic_shape()
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(P.ColorFormat.RGB) \
            .resize(P.ResizeAlgorithm.RESIZE_LINEAR).mean(MEAN).scale(SCALE)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.output().tensor().set_element_type(ov.Type.f32)
        text = str(ppp)
        model = ppp.build()
        outs = infer(ov, model, _image((1, 31, 17, 3))) + infer(ov, model, _image((1, 12, 40, 3), seed=1))
        return {"str": text, "ports": describe(ov, model), "outputs": outs}

    got = same(script)
    assert got["ports"][0][3] == "[1,?,?,3]"


@pytest.mark.parametrize("alg", ["RESIZE_LINEAR", "RESIZE_CUBIC", "RESIZE_NEAREST", "RESIZE_BILINEAR_PILLOW",
                                 "RESIZE_BICUBIC_PILLOW"])
@pytest.mark.parametrize("size", [(23, 9), (5, 7)])
def test_resize_every_algorithm(models: dict[str, str], alg: str, size: tuple[int, int]) -> None:
    """Up- and down-scaling to the model's size; then an explicit size and a crop back to it."""
    x = np.ascontiguousarray(_image((1, 3, *size), np.float32))

    def to_model(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_shape([1, 3, *size]).set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().resize(getattr(ov.preprocess.ResizeAlgorithm, alg))

    def explicit(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_shape([1, 3, *size]).set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().resize(getattr(ov.preprocess.ResizeAlgorithm, alg), 18, 20) \
            .crop([0, 0, 1, 2], [1, 3, 17, 18])

    same(lambda ov: built(ov, models["cnn"], to_model, x), atol=1e-4)
    same(lambda ov: built(ov, models["cnn"], explicit, x), atol=1e-4)


@pytest.mark.parametrize("mean, scale", [(100.0, 50.0), (MEAN, SCALE), ([1.0, 2.0, 3.0], 255.0),
                                         (7.0, [0.5, 2.0, 4.0])])
def test_mean_and_scale(models: dict[str, str], mean: Any, scale: Any) -> None:
    x = _image((1, 3, 16, 16), np.float32)

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().mean(mean).scale(scale)

    same(lambda ov: built(ov, models["cnn"], configure, x))


def test_element_types_implicit_and_default_target(models: dict[str, str]) -> None:
    """A tensor type without a convert step gets an implicit Convert; convert_element_type() converts to the
    model's type."""
    x = _image((1, 3, 16, 16))

    def implicit(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_element_type(ov.Type.u8)

    def default_target(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_element_type(ov.Type.u8)
        ppp.input().preprocess().convert_element_type().scale(255.0)

    def via_f16(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_element_type(ov.Type.u8)
        ppp.input().preprocess().convert_element_type(ov.Type.f16).mean(2.0).convert_element_type(ov.Type.f32)

    for configure in (implicit, default_target, via_f16):
        same(lambda ov: built(ov, models["cnn"], configure, x), atol=1e-4)


def test_set_from_array_tensor_and_set_shape(models: dict[str, str]) -> None:
    image = _image((1, 16, 16, 3))

    def from_array(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_from(image).set_layout(ov.Layout("NHWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    def from_tensor(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_from(ov.Tensor(image)).set_layout("NHWC")  # a layout text works too
        ppp.input().model().set_layout("NCHW")

    def dynamic_batch(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_shape([-1, 3, 16, 16])

    same(lambda ov: built(ov, models["cnn"], from_array, image))
    same(lambda ov: built(ov, models["cnn"], from_tensor, image))
    got = same(lambda ov: built(ov, models["cnn"], dynamic_batch, _image((3, 3, 16, 16), np.float32)))
    assert got["ports"][0][3] == "[?,3,16,16]" and got["ports"][1][3] == "[?,4,8,8]"


# ---------------------------------------------------------------- layouts
def test_convert_layout_by_name_by_indices_and_with_unsqueeze(models: dict[str, str]) -> None:
    nhwc = _image((1, 16, 16, 3), np.float32)

    def by_name(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("NHWC"))
        ppp.input().preprocess().convert_layout(ov.Layout("NCHW"))

    def by_indices(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("NHWC"))
        ppp.input().preprocess().convert_layout([0, 3, 1, 2])

    def indices_without_layout(ov: Any, ppp: Any) -> None:
        ppp.input().preprocess().convert_layout([0, 3, 1, 2])

    def implicit(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("NHWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    def hwc_to_nchw(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("HWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    for configure in (by_name, by_indices, indices_without_layout, implicit):
        got = same(lambda ov: built(ov, models["cnn"], configure, nhwc))
        assert got["ports"][0][3] == "[1,16,16,3]"
    got = same(lambda ov: built(ov, models["cnn"], hwc_to_nchw, nhwc[0]))
    assert got["ports"][0][2:] == ("f32", "[16,16,3]", "[H,W,C]")


def test_model_layout_alone_becomes_the_input_layout(models: dict[str, str]) -> None:
    x = _image((1, 3, 16, 16), np.float32)

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.output().model().set_layout(ov.Layout("NCHW"))

    got = same(lambda ov: built(ov, models["cnn"], configure, x))
    assert got["ports"] == [("in", "image", "f32", "[1,3,16,16]", "[N,C,H,W]"),
                            ("out", "features", "f32", "[1,4,8,8]", "[N,C,H,W]")]


# ---------------------------------------------------------------- channels and colors
def test_reverse_channels_and_rgb_bgr(models: dict[str, str]) -> None:
    nchw = _image((1, 3, 16, 16), np.float32)
    nhwc = _image((1, 16, 16, 3), np.float32)

    def reverse(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().reverse_channels()

    def rgb_to_bgr(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_color_format(ov.preprocess.ColorFormat.RGB)
        ppp.input().preprocess().convert_color(ov.preprocess.ColorFormat.BGR)
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    def dynamic_channels(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_shape([1, -1, 16, 16]).set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().reverse_channels()

    same(lambda ov: built(ov, models["cnn"], reverse, nchw))
    same(lambda ov: built(ov, models["cnn"], rgb_to_bgr, nhwc))
    same(lambda ov: built(ov, models["cnn"], dynamic_channels, nchw))


@pytest.mark.parametrize("src, dst", [("RGBX", "RGB"), ("RGBX", "BGR"), ("BGRX", "RGB"), ("BGRX", "BGR")])
def test_rgbx_bgrx_drop_the_fourth_channel(models: dict[str, str], src: str, dst: str) -> None:
    x = _image((1, 16, 16, 4), np.float32)

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_color_format(getattr(ov.preprocess.ColorFormat, src))
        ppp.input().preprocess().convert_color(getattr(ov.preprocess.ColorFormat, dst))
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    got = same(lambda ov: built(ov, models["cnn"], configure, x))
    assert got["ports"][0][3] == "[1,16,16,4]"


@pytest.mark.parametrize("dtype, src", [("u8", "RGB"), ("u8", "BGR"), ("f32", "RGB")])
def test_rgb_to_gray(models: dict[str, str], dtype: str, src: str) -> None:
    x = _image((1, 16, 16, 3), np.uint8 if dtype == "u8" else np.float32)

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_element_type(getattr(ov.Type, dtype)).set_color_format(
            getattr(ov.preprocess.ColorFormat, src))
        ppp.input().preprocess().convert_color(ov.preprocess.ColorFormat.GRAY)
        ppp.input().model().set_layout(ov.Layout("NCHW"))

    same(lambda ov: built(ov, models["gray"], configure, x), atol=1e-4)


# ---------------------------------------------------------------- crop, pad, custom
def test_crop_and_pad(models: dict[str, str]) -> None:
    big = _image((1, 3, 20, 21), np.float32)
    small = _image((1, 3, 14, 16), np.float32)

    def crop(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_shape([1, 3, 20, 21])
        ppp.input().preprocess().crop([0, 0, 2, 3], [1, 3, -2, 19])

    def pad(mode: str) -> Callable[[Any, Any], None]:
        def configure(ov: Any, ppp: Any) -> None:
            ppp.input().tensor().set_shape([1, 3, 14, 16])
            ppp.input().preprocess().pad([0, 0, 1, 0], [0, 0, 1, 0], 3.5, getattr(ov.preprocess.PaddingMode, mode))
        return configure

    same(lambda ov: built(ov, models["cnn"], crop, big))
    for mode in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        same(lambda ov: built(ov, models["cnn"], pad(mode), small))


def _abs_op(ov: Any) -> Callable[[Any], Any]:
    """The Abs op in each API's own op-building terms (OpenVINO: opset factories; irforge: `make`)."""
    if ov is openvino:
        return lambda port: openvino.opset13.abs(port).output(0)
    return lambda port: make("Abs", [port]).output(0)


def test_custom_pre_and_post_steps(models: dict[str, str]) -> None:
    x = _image((1, 3, 16, 16), np.float32) - 128

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().preprocess().custom(_abs_op(ov)).scale(64.0)
        ppp.output().postprocess().custom(_abs_op(ov))

    same(lambda ov: built(ov, models["cnn"], configure, x))


# ---------------------------------------------------------------- outputs, several inputs
def test_postprocessing(models: dict[str, str]) -> None:
    x = _image((1, 3, 16, 16), np.float32)

    def to_nhwc_f16(ov: Any, ppp: Any) -> None:
        ppp.output().model().set_layout(ov.Layout("NCHW"))
        ppp.output().tensor().set_layout(ov.Layout("NHWC")).set_element_type(ov.Type.f16)

    def explicit_steps(ov: Any, ppp: Any) -> None:
        ppp.output().postprocess().convert_element_type(ov.Type.f16).convert_layout([0, 2, 3, 1]) \
            .convert_element_type(ov.Type.f32)

    def layout_step(ov: Any, ppp: Any) -> None:
        ppp.output().model().set_layout(ov.Layout("NCHW"))
        ppp.output().postprocess().convert_layout(ov.Layout("NHWC"))

    got = same(lambda ov: built(ov, models["cnn"], to_nhwc_f16, x), atol=2e-3, rtol=2e-3)
    assert got["ports"][1] == ("out", "features", "f16", "[1,8,8,4]", "[N,H,W,C]")
    same(lambda ov: built(ov, models["cnn"], explicit_steps, x), atol=2e-3, rtol=2e-3)
    same(lambda ov: built(ov, models["cnn"], layout_step, x))


def test_inputs_and_outputs_by_name_and_index(models: dict[str, str]) -> None:
    a, b = _image((1, 3, 8, 8), np.float32), _image((1, 8, 8, 3), np.float32, seed=1)

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input("a").preprocess().mean(10.0)
        ppp.input(1).tensor().set_layout(ov.Layout("NHWC"))
        ppp.input(1).model().set_layout(ov.Layout("NCHW"))
        ppp.output("prod").tensor().set_element_type(ov.Type.f16)
        ppp.output(0).postprocess().convert_layout([0, 2, 3, 1])

    got = same(lambda ov: built(ov, models["two"], configure, a, b), rtol=2e-3)
    assert [p[:2] for p in got["ports"]] == [("in", "a"), ("in", "b"), ("out", "sum"), ("out", "prod")]


def test_mlp_output_layout_and_type(models: dict[str, str]) -> None:
    x = _image((2, 8), np.float32) / 100

    def configure(ov: Any, ppp: Any) -> None:
        ppp.input().tensor().set_layout(ov.Layout("NC")).set_element_type(ov.Type.f16)
        ppp.output().model().set_layout(ov.Layout("NC"))
        ppp.output().tensor().set_layout(ov.Layout("CN"))

    got = same(lambda ov: built(ov, models["mlp"], configure, x.astype(np.float16)))
    assert got["ports"][1][3:] == ("[4,2]", "[C,N]")


# ---------------------------------------------------------------- IR written by one, read by the other
def _tutorial(ov: Any, ppp: Any) -> None:
    P = ov.preprocess
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
        .set_spatial_static_shape(20, 24)
    ppp.input().preprocess().convert_element_type(ov.Type.f32).reverse_channels() \
        .resize(P.ResizeAlgorithm.RESIZE_CUBIC).mean(MEAN).scale(SCALE)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    ppp.output().model().set_layout(ov.Layout("NCHW"))
    ppp.output().tensor().set_layout(ov.Layout("NHWC"))


def test_irforge_ir_after_preprocessing_runs_in_openvino(models: dict[str, str], tmp_path: Path) -> None:
    x = _image((1, 20, 24, 3))
    model = IRF.Core().read_model(models["cnn"])
    ppp = IRF.preprocess.PrePostProcessor(model)
    _tutorial(IRF, ppp)
    assert ppp.build() is model  # built in place, as OpenVINO's
    irforge_save_model(model, tmp_path / "m.xml")
    ov_model = openvino.Core().read_model(str(tmp_path / "m.xml"))
    assert describe(openvino, ov_model) == describe(IRF, model)
    mine, theirs = infer(IRF, model, x), infer(openvino, ov_model, x)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=RTOL, atol=ATOL)
    reread = irforge.read_model(tmp_path / "m.xml")
    assert describe(IRF, reread) == describe(IRF, model)


def test_openvino_ir_after_preprocessing_runs_in_irforge(models: dict[str, str], tmp_path: Path) -> None:
    x = _image((1, 20, 24, 3))
    ov_model = openvino.Core().read_model(models["cnn"])
    ppp = openvino.preprocess.PrePostProcessor(ov_model)
    _tutorial(openvino, ppp)
    ov_model = ppp.build()
    openvino.save_model(ov_model, str(tmp_path / "m.xml"), compress_to_fp16=False)
    model = irforge.read_model(tmp_path / "m.xml")
    assert describe(IRF, model) == describe(openvino, ov_model)
    np.testing.assert_allclose(infer(IRF, model, x)[0], infer(openvino, ov_model, x)[0], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- wrong arguments: both raise RuntimeError
def _ppp(ov: Any, path: str) -> Any:
    return ov.preprocess.PrePostProcessor(ov.Core().read_model(path))


_KEEP: list[Any] = []  # OpenVINO's InputInfo objects dangle (and crash) once their PrePostProcessor is collected


def _case(model: str, configure: Callable[[Any, Any], Any]) -> Callable[[Any, dict[str, str]], Any]:
    """A failing script: read `model`, `configure(ov, ppp)`, build."""
    def script(ov: Any, paths: dict[str, str]) -> Any:
        ppp = _ppp(ov, paths[model])
        _KEEP.append(ppp)
        configure(ov, ppp)
        return ppp.build()
    return script


def _nchw(ppp: Any, ov: Any) -> Any:
    return ppp.input().tensor().set_layout(ov.Layout("NCHW"))


ERRORS: dict[str, tuple[str, Callable[[Any, dict[str, str]], Any]]] = {
    "unknown input name": ("nope", _case("cnn", lambda ov, p: p.input("nope"))),
    "input index out of range": ("3", _case("cnn", lambda ov, p: p.input(3))),
    "unknown output name": ("nope", _case("cnn", lambda ov, p: p.output("nope"))),
    "input() with two inputs": ("2", _case("two", lambda ov, p: p.input())),
    "tensor layout rank": ("[N,C]", _case("cnn", lambda ov, p: p.input().tensor().set_layout(ov.Layout("NC")))),
    "model layout rank": ("[N,C]", _case("cnn", lambda ov, p: p.input().model().set_layout(ov.Layout("NC")))),
    "mean length": ("2 values", _case("cnn", lambda ov, p: (
        p.input().model().set_layout(ov.Layout("NCHW")), p.input().preprocess().mean([1.0, 2.0])))),
    "mean list without layout": ("channels", _case("cnn", lambda ov, p: p.input().preprocess().mean([1.0, 2.0, 3.0]))),
    "mean on u8": ("u8", _case("cnn", lambda ov, p: (
        p.input().tensor().set_element_type(ov.Type.u8), p.input().preprocess().mean(1.0)))),
    "resize without layout": ("resize", _case("cnn", lambda ov, p: p.input().preprocess().resize(
        ov.preprocess.ResizeAlgorithm.RESIZE_LINEAR))),
    "reverse without layout": ("channels", _case("cnn", lambda ov, p: p.input().preprocess().reverse_channels())),
    "crop sizes": ("crop", _case("cnn", lambda ov, p: p.input().preprocess().crop([0, 0, 0], [1, 3, 4, 4]))),
    "color from unknown format": ("BGR", _case("cnn", lambda ov, p: p.input().preprocess().convert_color(
        ov.preprocess.ColorFormat.BGR))),
    "shape after preprocessing": ("[1,3,10,10]", _case("cnn", lambda ov, p: p.input().tensor().set_shape(
        [1, 3, 10, 10]))),
    "convert_layout index out of bounds": ("3", _case("cnn", lambda ov, p: (
        _nchw(p, ov), p.input().preprocess().convert_layout([0, 2, 3])))),
    "output model layout rank": ("[N,C]", _case("cnn", lambda ov, p: p.output().model().set_layout(ov.Layout("NC")))),
    "pad on u8": ("u8", _case("cnn", lambda ov, p: (
        p.input().tensor().set_element_type(ov.Type.u8),
        p.input().preprocess().pad([0, 0, 1, 1], [0, 0, 1, 1], 0.0, ov.preprocess.PaddingMode.CONSTANT)))),
    "pad with several values": ("2 values", _case("cnn", lambda ov, p: (
        _nchw(p, ov),
        p.input().preprocess().pad([0, 0, 1, 1], [0, 0, 1, 1], [1.0, 2.0], ov.preprocess.PaddingMode.CONSTANT)))),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_wrong_arguments_raise_as_in_openvino(models: dict[str, str], case: str) -> None:
    needle, script = ERRORS[case]
    with pytest.raises(RuntimeError):
        script(openvino, models)
    with pytest.raises(RuntimeError) as info:
        script(IRF, models)
    message = str(info.value)
    assert isinstance(info.value, IRForgeError) and "\n" not in message and needle in message, message


def test_failed_build_leaves_the_model_unchanged(models: dict[str, str]) -> None:
    """A step that fails after others were added (the second input's) leaves the model as it was."""
    a, b = _image((1, 3, 8, 8), np.float32), _image((1, 3, 8, 8), np.float32, seed=1)

    def script(ov: Any) -> dict[str, Any]:
        model = ov.Core().read_model(models["two"])
        ppp = ov.preprocess.PrePostProcessor(model)
        ppp.input(0).tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        ppp.input(0).model().set_layout(ov.Layout("NCHW"))
        ppp.input(1).preprocess().mean([1.0, 2.0])
        ppp.output(0).tensor().set_element_type(ov.Type.f16)
        text = str(ppp)  # describes up to the failing step, then the error
        with pytest.raises(RuntimeError):
            ppp.build()
        return {"ports": describe(ov, model), "outputs": infer(ov, model, a, b), "text": text.count("Error occurred: ")}

    got = same(script)
    assert got["ports"][0] == ("in", "a", "f32", "[1,3,8,8]", "[...]")


# ---------------------------------------------------------------- irforge's own rules
def test_irforge_rejects_what_openvino_silently_misbuilds(models: dict[str, str]) -> None:
    """A scale of 0 (OpenVINO divides by it: inf) and a convert_layout from an unknown layout (OpenVINO adds no
    Transpose) fail with one line naming the step."""
    ppp = _ppp(IRF, models["cnn"])
    with pytest.raises(IRForgeError, match=r"scale: a scale of 0"):
        ppp.input().preprocess().scale([1.0, 0.0, 2.0])
    ppp.input().preprocess().convert_layout(Layout("NHWC"))
    with pytest.raises(IRForgeError, match=r"convert_layout\(\[N,H,W,C\]\): the current layout is not known"):
        ppp.build()


def test_unsupported_features_raise_not_implemented(models: dict[str, str]) -> None:
    ppp = _ppp(IRF, models["cnn"])
    for fmt in ("NV12_SINGLE_PLANE", "NV12_TWO_PLANES", "I420_SINGLE_PLANE", "I420_THREE_PLANES"):
        with pytest.raises(NotImplementedError, match=fmt):
            ppp.input().tensor().set_color_format(getattr(IRF.preprocess.ColorFormat, fmt))
        with pytest.raises(NotImplementedError, match=fmt):
            ppp.input().preprocess().convert_color(getattr(IRF.preprocess.ColorFormat, fmt))
    with pytest.raises(NotImplementedError, match="set_memory_type"):
        ppp.input().tensor().set_memory_type("GPU_SURFACE")


def test_custom_must_return_an_irforge_port(models: dict[str, str]) -> None:
    ppp = _ppp(IRF, models["cnn"])
    ppp.input().preprocess().custom(lambda port: 3)
    with pytest.raises(IRForgeError, match="custom: the function must return an irforge Output"):
        ppp.build()


def test_enums_have_openvino_names_and_values() -> None:
    for name in ("ResizeAlgorithm", "ColorFormat", "PaddingMode"):
        theirs, mine = getattr(openvino.preprocess, name), getattr(IRF.preprocess, name)
        assert {k: int(v) for k, v in theirs.__members__.items()} == {k: int(v) for k, v in mine.__members__.items()}
    for name in ("PrePostProcessor", "InputInfo", "OutputInfo", "InputTensorInfo", "InputModelInfo",
                 "PreProcessSteps", "OutputTensorInfo", "OutputModelInfo", "PostProcessSteps"):
        theirs = {n for n in dir(getattr(openvino.preprocess, name)) if not n.startswith("_")}
        mine = {n for n in dir(getattr(IRF.preprocess, name)) if not n.startswith("_")}
        assert theirs <= mine, (name, theirs - mine)
