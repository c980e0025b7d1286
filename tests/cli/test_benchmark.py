"""`irforge benchmark` on the bundled example (at 64x64 so REF stays quick): the figures, the JSON, the per-op
report, the comparison with ONNX Runtime and OpenVINO (whose outputs must agree with irforge's), and one-line
errors with exit status 2. No speed is asserted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import irforge
from irforge.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mobilenet_v2_tiny.onnx"
SMALL = ["--shape", "[1,3,64,64]"]
FIELDS = ["First inference took", "Count:", "Duration:", "Latency:", "Median:", "Average:", "Min:", "Max:",
          "P90:", "P99:", "Throughput:"]


DEVICES = ["REF", "CPU"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["benchmark", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("device", DEVICES)
def test_figures_progress_and_json(device: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "out" / "bench.json"
    code, out, err = _run(capsys, str(EXAMPLE), "-d", device, *SMALL, "-n", "3", "--json", str(report))
    assert code == 0, err
    for field in FIELDS:
        assert field in out, field
    assert "Count:        3 iterations" in out and "FPS" in out
    assert f"irforge {device} [" in err and "100%" in err  # the progress bar
    data = json.loads(report.read_text())
    assert data["device"] == device and data["inputs"] == [{"name": "image", "type": "f32", "shape": [1, 3, 64, 64]}]
    fig = data["irforge"]
    assert fig["count"] == 3 and fig["batch"] == 1
    lat = fig["latency_ms"]
    assert lat["min"] <= lat["median"] <= lat["max"] and lat["min"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert fig["throughput_fps"] == pytest.approx(3 * 1000 / fig["duration_ms"])
    assert data["properties"]["PERFORMANCE_HINT"] == "LATENCY" and data["infer_requests"] == 1


def test_dynamic_batch_defaults_to_one_and_b_sets_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(EXAMPLE), "-d", "REF", "--shape", "[?,3,64,64]", "-b", "2", "-n", "2",
                          "--json", str(tmp_path / "b.json"))
    assert code == 0, err
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["inputs"][0]["shape"] == [2, 3, 64, 64] and data["irforge"]["batch"] == 2
    assert data["irforge"]["throughput_fps"] == pytest.approx(2 * 2 * 1000 / data["irforge"]["duration_ms"])
    xml = tmp_path / "ir" / "m.xml"
    irforge.save_model(irforge.convert_model(str(EXAMPLE), input_shape="[?,3,64,64]"), xml, compress_to_fp16=False)
    code, out, err = _run(capsys, str(xml), "-d", "REF", "-n", "1")
    assert code == 0, err
    assert "dynamic batch of image set to 1" in out and "Input: image f32[1,3,64,64]" in out


def test_time_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(EXAMPLE), "-d", "REF", *SMALL, "-t", "0.3", "--json", str(tmp_path / "t.json"))
    assert code == 0, err
    fig = json.loads((tmp_path / "t.json").read_text())["irforge"]
    assert fig["count"] >= 1 and fig["duration_ms"] >= 300
    assert "irforge REF [" in err and "/0.3 s" in err


def test_throughput_hint_async(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(EXAMPLE), "-d", "REF", *SMALL, "--hint", "THROUGHPUT", "--nstreams", "2",
                          "--nthreads", "2", "--nireq", "3", "-n", "5", "--json", str(tmp_path / "t.json"))
    assert code == 0, err
    assert "hint THROUGHPUT, 2 stream(s), 2 thread(s), 3 infer request(s)" in out and "async" in out
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["irforge"]["count"] == 5 and data["properties"]["NUM_STREAMS"] == 2
    assert data["properties"]["STREAM_THREADS"] == [1, 1] and data["infer_requests"] == 3


def test_perf_counts_per_node_and_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(EXAMPLE), "-d", "REF", *SMALL, "-n", "2", "--perf-counts",
                          "--json", str(tmp_path / "p.json"))
    assert code == 0, err
    assert "Performance counters (average over 2 profiled inference(s))" in out and "Per op type:" in out
    data = json.loads((tmp_path / "p.json").read_text())["perf_counts"]
    model = irforge.convert_model(str(EXAMPLE), input_shape="[1,3,64,64]")
    hist = {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result", "Constant")}
    assert {t["type"]: t["nodes"] for t in data["types"]} == hist  # every executed op, counted per type
    assert sum(t["share"] for t in data["types"]) == pytest.approx(1.0)
    assert sum(n["ms"] for n in data["nodes"]) == pytest.approx(sum(t["ms"] for t in data["types"]))


@pytest.mark.parametrize("hint", ["latency", "throughput"])
def test_compare_onnxruntime_openvino(hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    code, out, err = _run(capsys, str(EXAMPLE), "-d", "REF", *SMALL, "-n", "3", "--compare", "onnxruntime,openvino",
                          "--hint", hint, "--nireq", "1" if hint == "latency" else "3", "--json", str(tmp_path / "c.json"))
    assert code == 0, err
    assert "Comparison (latency ratio = irforge median / other median" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ") and
            line.split()[0] in ("onnxruntime", "openvino", "irforge")}
    assert set(rows) == {"irforge", "onnxruntime", "openvino"}
    data = json.loads((tmp_path / "c.json").read_text())
    mine = data["irforge"]["latency_ms"]["median"]
    for name in ("onnxruntime", "openvino"):
        peer = data["compare"][name]
        assert peer["count"] == 3
        assert peer["latency_ratio"] == pytest.approx(mine / peer["latency_ms"]["median"])
        assert peer["max_abs_diff_vs_irforge"] < 1e-3  # the same model computes the same outputs
        assert float(rows[name][-2]) == pytest.approx(peer["latency_ratio"], rel=0.01, abs=0.01)
    assert "set to the benchmark shapes" in data["compare"]["onnxruntime"]["runs"]


def test_compare_on_ir_skips_onnxruntime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openvino")
    xml = tmp_path / "m.xml"
    irforge.save_model(irforge.convert_model(str(EXAMPLE), input_shape="[1,3,64,64]"), xml, compress_to_fp16=False)
    code, out, err = _run(capsys, str(xml), "-d", "REF", "-n", "2", "--compare", "ort,ov", "--hint", "throughput",
                          "--json", str(tmp_path / "x.json"))
    assert code == 0, err
    assert "onnxruntime: skipped, needs the .onnx model" in out
    data = json.loads((tmp_path / "x.json").read_text())["compare"]
    assert "skipped" in data["onnxruntime"] and data["openvino"]["max_abs_diff_vs_irforge"] < 1e-3


@pytest.mark.parametrize("argv, message", [
    (["missing.onnx", "-d", "REF"], "missing.onnx: no such file"),
    ([str(EXAMPLE), "-d", "REF", "--shape", "1,3,64,64"], "--shape: '1' has no shape; expected [1,3,224,224]"),
    ([str(EXAMPLE), "-d", "GPU"], "unknown device 'GPU' (available: "),
    ([str(EXAMPLE), "-d", "REF", "--shape", "img[1,3,64,64]"], "--shape: the model has no input 'img'"),
    ([str(EXAMPLE), "-d", "REF", "--compare", "tensorflow"], "--compare: unknown runtime 'tensorflow' (known: "
                                                             "onnxruntime, openvino)"),
    ([str(EXAMPLE), "-d", "REF", "-n", "2", "-t", "1"], "-t/--time and -n/--niter are exclusive"),
    ([str(EXAMPLE), "-d", "REF", "-n", "0"], "-n/--niter: expected a positive integer, got '0'"),
    ([str(EXAMPLE), "-d", "REF", "--hint", "fast"], "--hint: expected one of latency, throughput, got 'fast'"),
    ([str(EXAMPLE), "-d", "REF", "--infer-precision", "f8"], "--infer-precision: expected one of f32, bf16"),
    ([str(EXAMPLE), "-d", "REF", "--shape", "[?,3,64,64]"], "input(s) 'image' f32[?,3,64,64] have dynamic dimensions"),
    ([str(EXAMPLE), "-d", "REF", "--infer-precision", "bf16", "-n", "1"], "INFERENCE_PRECISION_HINT: the REF device"),
])
def test_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("irforge benchmark: error: "), err
    assert message in lines[0], lines[0]
