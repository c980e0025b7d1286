"""The `irforge` command on the bundled example and on bad input (one-line errors, exit 2, no partial files)."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from irforge.cli.main import main
from tests.util import run_ort

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mobilenet_v2_tiny.onnx"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _fails_with_one_line(capsys: pytest.CaptureFixture[str], message: str, *argv: str) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0], lines[0]


def test_convert_inspect_infer_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "convert", str(EXAMPLE), "-o", str(tmp_path / "out"))
    assert code == 0
    assert "input  image: f32[?,3,224,224]" in out and "Convolution" in out
    xml = tmp_path / "out" / "mobilenet_v2_tiny.xml"
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    code, out, _ = _run(capsys, "inspect", str(xml))
    assert code == 0 and "output logits: f32[?,100]" in out
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, _ = _run(capsys, "infer", str(xml), "--input", f"image={tmp_path / 'x.npy'}", "-o", str(tmp_path / "res"))
    assert code == 0
    got = np.load(tmp_path / "res" / "logits.npy")
    want = run_ort(str(EXAMPLE), {"image": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # f32 (infer's default) on every CPU


def test_infer_writes_f32_outputs_on_a_cpu_that_defaults_to_bf16(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  simulate_cpu: Callable[[str], None]) -> None:
    """On a CPU with native bf16 the CPU device defaults to bf16; `irforge infer` writes f32 results there too
    (its --infer-precision defaults to f32), and --infer-precision bf16 asks for bf16."""
    simulate_cpu("bf16")
    rng = np.random.default_rng(1)
    w = h.make_tensor("w", T.FLOAT, [8, 3, 3, 3], rng.standard_normal(8 * 27).astype(np.float32).tolist())
    g = h.make_graph([h.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 8, 8, 8])], [w])
    path = tmp_path / "conv.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(path))
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    want = run_ort(str(path), {"x": x})[0]
    for precision, tol in ((None, 1e-5), ("bf16", 3e-2)):
        extra = ["--infer-precision", precision] if precision else []
        code, _, _ = _run(capsys, "infer", str(path), "--input", str(tmp_path / "x.npy"), "-d", "CPU",
                          "-o", str(tmp_path / "res"), *extra)
        assert code == 0
        got = np.load(tmp_path / "res" / "y.npy")
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
        assert (precision is None) == np.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_console_script_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "irforge", "convert", str(tmp_path / "nope.onnx")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"irforge convert: error: {tmp_path / 'nope.onnx'}: no such file"


def _unsupported_model(path: Path) -> None:
    g = h.make_graph([h.make_node("LpPool", ["x"], ["a"], name="pool3", kernel_shape=[2, 2]),
                      h.make_node("Relu", ["a"], ["b"], name="ok"),
                      h.make_node("Hardmax", ["b"], ["y"], name="hm")],
                     "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 4, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(path))


def test_bad_onnx_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _fails_with_one_line(capsys, "no such file", "convert", str(tmp_path / "missing.onnx"), "-o", str(out))
    text = tmp_path / "text.onnx"
    text.write_text("this is not a model\n" * 10)
    _fails_with_one_line(capsys, "not a valid ONNX model", "convert", str(text), "-o", str(out))
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(EXAMPLE.read_bytes()[: EXAMPLE.stat().st_size // 2])
    _fails_with_one_line(capsys, "not a valid ONNX model", "convert", str(truncated), "-o", str(out))
    unsupported = tmp_path / "unsupported.onnx"
    _unsupported_model(unsupported)
    _fails_with_one_line(capsys, "Unsupported ONNX ops: LpPool (node 'pool3'), Hardmax (node 'hm')",
                         "convert", str(unsupported), "-o", str(out))
    assert not out.exists() or not any(out.iterdir()), "convert left files behind"


def test_bad_ir_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "convert", str(EXAMPLE), "-o", str(tmp_path))
    xml = tmp_path / "mobilenet_v2_tiny.xml"
    not_ir = tmp_path / "not_ir.xml"
    not_ir.write_text("<html><body>hello</body></html>")
    _fails_with_one_line(capsys, "not an IR file", "inspect", str(not_ir))
    short = tmp_path / "short.xml"
    short.write_bytes(xml.read_bytes())
    short.with_suffix(".bin").write_bytes(xml.with_suffix(".bin").read_bytes()[:1000])
    _fails_with_one_line(capsys, "lies beyond the end of the .bin", "inspect", str(short))
    unknown = tmp_path / "unknown.xml"
    unknown.write_bytes(xml.read_bytes().replace(b'type="ReLU"', b'type="Frobnicate"').replace(
        b'type="Clamp"', b'type="Frobnicate"'))
    unknown.with_suffix(".bin").write_bytes(xml.with_suffix(".bin").read_bytes())
    _fails_with_one_line(capsys, "unknown op type 'Frobnicate'", "inspect", str(unknown))


def test_infer_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "convert", str(EXAMPLE), "-o", str(tmp_path))
    xml = str(tmp_path / "mobilenet_v2_tiny.xml")
    np.save(tmp_path / "f64.npy", np.zeros((1, 3, 224, 224)))
    np.save(tmp_path / "small.npy", np.zeros((1, 3, 8, 8), np.float32))
    _fails_with_one_line(capsys, "unknown input 'img'", "infer", xml, "--input", f"img={tmp_path / 'f64.npy'}")
    _fails_with_one_line(capsys, "input 'image' expects f32[?,3,224,224], got f64[1,3,224,224]",
                         "infer", xml, "--input", f"image={tmp_path / 'f64.npy'}")
    _fails_with_one_line(capsys, "input 'image' expects f32[?,3,224,224], got f32[1,3,8,8]",
                         "infer", xml, "--input", f"image={tmp_path / 'small.npy'}")
    _fails_with_one_line(capsys, "missing input(s): image", "infer", xml)
    _fails_with_one_line(capsys, "no such file", "infer", xml, "--input", f"image={tmp_path / 'nope.npy'}")
    _fails_with_one_line(capsys, "--infer-precision: expected one of f32, bf16, got 'f16'",
                         "infer", xml, "--input", f"image={tmp_path / 'small.npy'}", "--infer-precision", "f16")
