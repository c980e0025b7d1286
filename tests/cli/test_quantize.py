"""`irforge quantize`: the default and the accuracy-aware forms on the digits CNN (arrays, images, class folders,
labels), and bad input: one-line errors, exit status 2, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import irforge
from irforge.cli.main import main
from tests.quantization import digits
from tests.quantization.test_data import write_digit_pngs


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The digits IR (and one taking 0..255 pixels: --scale 15 folded in), calibration and validation arrays."""
    root = tmp_path_factory.mktemp("quantize_cli")
    data = digits.load()
    assert main(["convert", str(data.onnx_path), "-o", str(root), "-n", "digits"]) == 0
    assert main(["convert", str(data.onnx_path), "-o", str(root), "-n", "digits_pixels", "--scale", "15"]) == 0
    np.save(root / "train.npy", data.x["train"][:300])
    np.save(root / "val.npy", data.x["val"])
    (root / "val_labels.txt").write_text("\n".join(str(v) for v in data.y["val"]) + "\n")
    return {"root": root, "xml": root / "digits.xml", "pixels": root / "digits_pixels.xml"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _top1(xml: Path, x: np.ndarray, y: np.ndarray) -> float:
    compiled = irforge.Core().compile_model(irforge.read_model(xml), "REF")
    return digits.accuracy(compiled(x)[0], y)


def test_default_quantization(work: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "quantize", str(work["xml"]), "--data", str(work["root"] / "train.npy"),
                          "-o", str(tmp_path), "-d", "REF", "--subset-size", "200")
    assert code == 0, err
    assert "with 200 calibration samples" in out and "layers in INT8: 3" in out and "FakeQuantize: 3" in out
    assert "Statistics collection" in err and "200/200" in err  # the progress bar
    model = irforge.read_model(tmp_path / "digits.xml")
    assert model.histogram()["FakeQuantize"] == 3
    data = digits.load()
    assert _top1(tmp_path / "digits.xml", data.x["test"], data.y["test"]) >= \
        _top1(work["xml"], data.x["test"], data.y["test"]) - 0.01


def test_ignored_types_and_names(work: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "quantize", str(work["xml"]), "--data", str(work["root"] / "train.npy"),
                          "-o", str(tmp_path), "-d", "REF", "-q", "--ignored-types", "MatMul",
                          "--ignored-names", "conv1")
    assert code == 0, err
    assert "layers in INT8: 1" in out and "ignored" in out
    model = irforge.read_model(tmp_path / "digits.xml")
    assert model.histogram()["FakeQuantize"] == 1


def test_accuracy_aware_with_labels_file(work: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    code, out, err = _run(capsys, "quantize", str(work["xml"]), "--data", str(work["root"] / "train.npy"),
                          "--validation-data", str(work["root"] / "val.npy"),
                          "--labels", str(work["root"] / "val_labels.txt"), "--metric", "top1",
                          "--max-drop", "0.002", "--range-estimator", "mean_minmax", "-o", str(tmp_path / "out"),
                          "-d", "REF", "--report", str(report))
    assert code == 0, err
    assert "Validation FP32" in err and "Validation INT8" in err
    figures = json.loads(report.read_text())
    assert figures["drop"] <= 0.002 and figures["metric"] == "top1"
    data = digits.load()
    final = _top1(tmp_path / "out" / "digits.xml", data.x["val"], data.y["val"])
    assert _top1(work["xml"], data.x["val"], data.y["val"]) - final <= 0.002
    assert abs(final - figures["final_metric"]) < 1e-12
    if figures["fp_metric"] - figures["int8_metric"] > 0.002:
        reverted = [name for step in figures["reverts"] if step["kept"] for name in step["layers"]]
        assert reverted and all(name in out for name in reverted)
        assert "reverted layers (in order)" in out and "recovered" in out


def test_accuracy_aware_with_image_class_folders(work: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = digits.load()
    write_digit_pngs(tmp_path / "calib", data.x["train"][:100])
    for cls in range(10):
        write_digit_pngs(tmp_path / "val" / str(cls), data.x["val"][data.y["val"] == cls][:10])
    code, out, err = _run(capsys, "quantize", str(work["pixels"]), "--data", str(tmp_path / "calib"),
                          "--validation-data", str(tmp_path / "val"), "--labels-from-folders",
                          "--max-drop", "0.01", "-o", str(tmp_path / "out"), "-d", "REF", "-q")
    assert code == 0, err
    assert "top1: FP32" in out and (tmp_path / "out" / "digits_pixels.xml").is_file()


def test_nmse_metric_without_labels(work: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "quantize", str(work["xml"]), "--data", str(work["root"] / "train.npy"),
                          "--validation-data", str(work["root"] / "val.npy"), "--metric", "nmse",
                          "--max-drop", "1e-6", "--fallback-precision", "none", "-o", str(tmp_path), "-d", "REF",
                          "-q")
    assert code == 0, err
    assert "nmse: FP32 0.0000   INT8 -" in out and "reverted layers (in order)" in out  # 1e-6 forces reverts


def _fails(capsys: pytest.CaptureFixture[str], out_dir: Path, message: str, *argv: str) -> None:
    code, _, err = _run(capsys, *argv, "-o", str(out_dir), "-d", "REF", "-q")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not out_dir.exists() or not any(out_dir.iterdir()), "nothing may be written"


def test_bad_input(work: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml, train = str(work["xml"]), str(work["root"] / "train.npy")
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    _fails(capsys, out, "is empty", "quantize", xml, "--data", str(tmp_path / "empty"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"\x89PNG broken")
    _fails(capsys, out, "cannot decode image", "quantize", xml, "--data", str(tmp_path / "broken"))
    np.save(tmp_path / "wide.npy", np.zeros((4, 1, 9, 9), np.float32))
    _fails(capsys, out, "expects f32[?,1,8,8], got float32[4, 1, 9, 9]", "quantize", xml, "--data",
           str(tmp_path / "wide.npy"))
    (tmp_path / "short.txt").write_text("1\n2\n")
    _fails(capsys, out, "2 labels for 400 validation samples", "quantize", xml, "--data", train,
           "--validation-data", str(work["root"] / "val.npy"), "--labels", str(tmp_path / "short.txt"))
    _fails(capsys, out, "metric 'top1' needs labels", "quantize", xml, "--data", train,
           "--validation-data", str(work["root"] / "val.npy"), "--metric", "top1")
    _fails(capsys, out, "need --validation-data", "quantize", xml, "--data", train, "--metric", "top5")
    _fails(capsys, out, "does not exist", "quantize", str(tmp_path / "none.xml"), "--data", train)
    _fails(capsys, out, "ignored_names: 'nothing_like_this' matches no node", "quantize", xml, "--data", train,
           "--ignored-names", "nothing_like_this")
    _fails(capsys, out, "ignored_types: unknown op type 'Bogus'", "quantize", xml, "--data", train,
           "--ignored-types", "Bogus")
