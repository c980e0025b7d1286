"""Every `irforge convert` option through the CLI on the bundled MobileNetV2-style model: the IR runs on REF and in
OpenVINO and equals ONNX Runtime on the source model fed the correspondingly transformed input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import irforge
from irforge.cli.main import main
from tests.util import run_openvino, run_ort, run_ref

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mobilenet_v2_tiny.onnx"
MEAN = np.array([123.675, 116.28, 103.53], np.float32).reshape(1, 3, 1, 1)
SCALE = np.array([58.395, 57.12, 57.375], np.float32).reshape(1, 3, 1, 1)
ATOL = 2e-4


@pytest.fixture(scope="module")
def dynamic_hw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with dynamic height/width, so ONNX Runtime accepts the reshaped inputs too."""
    m = onnx.load(str(EXAMPLE))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "h", "w"
    path = tmp_path_factory.mktemp("dyn") / "mobilenet_dyn.onnx"
    onnx.save(m, str(path))
    return path


def _convert(tmp_path: Path, capsys: pytest.CaptureFixture[str], *opts: str, model: Path = EXAMPLE) -> irforge.Model:
    code = main(["convert", str(model), "-o", str(tmp_path), "-n", "m", *opts])
    out, err = capsys.readouterr()
    assert code == 0, err
    return irforge.read_model(tmp_path / "m.xml")


def _check(ir: irforge.Model, feeds: list[np.ndarray], want: np.ndarray, atol: float = ATOL) -> None:
    np.testing.assert_allclose(run_ref(ir, feeds)[0], want, atol=atol, rtol=1e-3)
    np.testing.assert_allclose(run_openvino(ir, feeds)[0], want, atol=atol, rtol=1e-3)


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def test_input_shape_from_224_to_100(tmp_path: Path, capsys: pytest.CaptureFixture[str], dynamic_hw: Path) -> None:
    ir = _convert(tmp_path, capsys, "--input-shape", "[4,3,100,100]", model=dynamic_hw)
    assert str(ir.inputs[0].shape) == "4,3,100,100" and str(ir.outputs[0].shape) == "4,100"
    x = _image((4, 3, 100, 100)) / 255
    _check(ir, [x], run_ort(dynamic_hw, {"image": x})[0])


def test_dynamic_and_range_dims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ir = _convert(tmp_path, capsys, "--input-shape", "image[1..8,3,224,224]")
    assert str(ir.inputs[0].shape) == "1..8,3,224,224"
    assert "Parameter" in (tmp_path / "m.xml").read_text() and 'shape="1..8,3,224,224"' in (tmp_path / "m.xml").read_text()


def test_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ir = _convert(tmp_path, capsys, "-b", "3")
    assert str(ir.inputs[0].shape) == "3,3,224,224"
    x = _image((3, 3, 224, 224)) / 255
    _check(ir, [x], run_ort(EXAMPLE, {"image": x})[0])


def test_mean_scale_reverse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ir = _convert(tmp_path, capsys, "--mean-values", "[123.675,116.28,103.53]", "--scale-values",
                  "image[58.395,57.12,57.375]", "--reverse-input-channels")
    x = _image((2, 3, 224, 224))
    want = run_ort(EXAMPLE, {"image": np.ascontiguousarray((x[:, ::-1] - MEAN) / SCALE)})[0]
    _check(ir, [x], want)


def test_scale_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ir = _convert(tmp_path, capsys, "--scale", "255")
    x = _image((1, 3, 224, 224))
    _check(ir, [x], run_ort(EXAMPLE, {"image": x / 255})[0])


def test_layout_nhwc_to_nchw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ir = _convert(tmp_path, capsys, "--layout", "nhwc->nchw", "-b", "2")
    assert str(ir.inputs[0].shape) == "2,224,224,3"
    x = _image((2, 224, 224, 3)) / 255
    _check(ir, [x], run_ort(EXAMPLE, {"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0])
    ir2 = _convert(tmp_path, capsys, "--source-layout", "nhwc", "--target-layout", "nchw")
    assert str(ir2.inputs[0].shape) == "?,224,224,3"


def test_compress_to_fp16(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = tmp_path / "full"
    _convert(full, capsys)
    ir = _convert(tmp_path, capsys, "--compress-to-fp16")
    ratio = (tmp_path / "m.bin").stat().st_size / (full / "m.bin").stat().st_size
    assert 0.45 < ratio < 0.55
    xml = (tmp_path / "m.xml").read_text()
    assert 'element_type="f16"' in xml and '<attribute name="decompression" version="0" />' in xml
    x = _image((1, 3, 224, 224)) / 255
    _check(ir, [x], run_ort(EXAMPLE, {"image": x})[0], atol=5e-3)


def test_cut_output_and_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proto = onnx.load(str(EXAMPLE))
    inner = proto.graph.node[len(proto.graph.node) // 2].output[0]
    with_inner = onnx.load(str(EXAMPLE))
    with_inner.graph.output.append(h.make_tensor_value_info(inner, T.FLOAT, None))
    x = _image((1, 3, 224, 224)) / 255
    logits, mid = run_ort(with_inner, {"image": x})
    head = _convert(tmp_path / "head", capsys, "--output", inner)
    assert [o.name for o in head.outputs] == [inner]
    _check(head, [x], mid)
    tail = _convert(tmp_path / "tail", capsys, "--input", f"{inner}[1,{','.join(map(str, mid.shape[1:]))}]")
    assert [p.name for p in tail.inputs] == [inner]
    assert sum(tail.histogram().get(t, 0) for t in ("Convolution", "GroupConvolution")) < \
        sum(irforge.convert_model(EXAMPLE).histogram().get(t, 0) for t in ("Convolution", "GroupConvolution"))
    _check(tail, [mid], logits)


def test_report_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    _convert(tmp_path, capsys, "--report", str(report), "--static-shape", "-b", "1")
    data = json.loads(report.read_text())
    assert {"load", "reshape", "optimize", "save"} <= set(data["stages"])
    assert data["layers_before_total"] >= data["layers_after_total"] > 0
    assert data["weights_before"] > 0 and any(p["name"] == "constant_folding" for p in data["passes"])
    assert main(["convert", "--list-passes"]) == 0
    assert "constant_folding" in capsys.readouterr().out
    _convert(tmp_path, capsys, "--disable-pass", "constant_folding")


def _reshape_model(path: Path) -> None:
    g = h.make_graph([h.make_node("Reshape", ["x", "shape"], ["y"], name="flatten_fixed")], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                     [h.make_tensor("shape", T.INT64, [2], [1, 192])])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), str(path))


@pytest.mark.parametrize("opts,message", [
    (["--input-shape", "1,3,4,4"], "--input-shape: '1' has no shape; expected [1,3,224,224]"),
    (["--input-shape", "[1,3,4,4]"], "node 'flatten_fixed' (Reshape)"),
    (["--mean-values", "[1,2]"], "--mean-values: input 'x' has 3 channels but 2 values were given"),
    (["--output", "yy"], "--output: the model has no tensor 'yy' (did you mean 'y'?)"),
    (["--input", "x[1,3,8,8]{f33}"], "--input: unknown element type {f33}"),
    (["--layout", "nhwc->nch"], "--layout: 'nhwc->nch' does not permute the same dimension letters"),
    (["-b", "0"], "-b/--batch: the batch must be a positive integer"),
    (["--disable-pass", "nope"], "--disable-pass: unknown pass(es) nope"),
])
def test_bad_options_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str], opts: list[str],
                                  message: str) -> None:
    src = tmp_path / "r.onnx"
    _reshape_model(src)
    out = tmp_path / "out"
    code = main(["convert", str(src), "-o", str(out), *opts])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists() or not any(out.iterdir())
