"""Conversion side by side: irforge's converter against `openvino.convert_model` on the same ONNX files (the test
zoo at one opset and the onnx `light_*` models), in one run. Per model: layers (ops other than Parameter, Result and
Constant) after irforge's frontend alone, after irforge's optimizer, and in OpenVINO's converted model; conversion
time (median of --repeat runs) of each, and the ratio irforge / OpenVINO.

    python -m benchmarks.convert_zoo [--opset 13] [--repeat 3] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import onnx

import irforge
from irforge.mo.convert import convert
from tests.models import light, zoo

_IO = ("Parameter", "Result", "Constant")


def _layers(histogram: dict[str, int]) -> int:
    return sum(n for op, n in histogram.items() if op not in _IO)


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sources(opset: int, only: list[str]) -> list[tuple[str, Path]]:
    tmp = Path(tempfile.mkdtemp(prefix="convert_zoo_"))
    out = [(f"{name}-opset{opset}", zoo.export(name, opset)) for name in zoo.MODELS]
    for name in light.NAMES:
        path = tmp / f"light_{name}.onnx"
        onnx.save(light.load(name).proto, path)
        out.append((f"light_{name}", path))
    return [(n, p) for n, p in out if not only or any(o in n for o in only)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opset", type=int, default=13, choices=zoo.OPSETS)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=[])
    args = ap.parse_args()
    import openvino as ov

    print(f"{'model':24} {'frontend':>8} {'irforge':>8} {'openvino':>8}   {'irforge s':>9} {'openvino s':>10} {'ratio':>6}")
    ratios = []
    for name, path in _sources(args.opset, args.only):
        with tempfile.TemporaryDirectory() as d:
            def ours() -> object:
                model, _ = convert(str(path))
                irforge.save_model(model, Path(d) / "m.xml", compress_to_fp16=False)
                return model

            def theirs() -> object:
                model = ov.convert_model(str(path))
                ov.save_model(model, str(Path(d) / "ov.xml"), compress_to_fp16=False)
                return model

            _, report = convert(str(path))
            ov_model = ov.convert_model(str(path))
            ov_layers = sum(1 for op in ov_model.get_ops() if op.get_type_name() not in _IO)
            t_ours, t_theirs = _median_seconds(ours, args.repeat), _median_seconds(theirs, args.repeat)
        ratios.append(t_ours / t_theirs)
        print(f"{name:24} {_layers(report.layers_before):8d} {_layers(report.layers_after):8d} {ov_layers:8d}   "
              f"{t_ours:9.3f} {t_theirs:10.3f} {t_ours / t_theirs:6.2f}")
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"geometric mean of conversion-time ratios (irforge / openvino, convert + save): {geo:.2f}")


if __name__ == "__main__":
    main()
