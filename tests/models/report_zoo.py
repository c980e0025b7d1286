"""Print the model-test results as Markdown tables: max abs error against ONNX Runtime of REF and of OpenVINO
(running the IR irforge wrote), whether OpenVINO loads that IR, REF against OpenVINO on OpenVINO's own IR, and the
onnx "light" models. Errors are the maximum over all outputs and input sets; a failing step shows its error.

    python -m tests.models.report_zoo [--no-light] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import irforge
from tests.models import light, zoo
from tests.models.harness import convert_to_ir, max_err, run_openvino_xml, run_ort, run_ref


def _short(e: BaseException, width: int = 90) -> str:
    text = f"{type(e).__name__}: {e}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= width else text[: width - 3] + "..."


def _err(fn: Callable[[], float]) -> str:
    try:
        return f"{fn():.2g}"
    except Exception as e:  # noqa: BLE001 - the table shows the failure
        return _short(e)


def _worst(pairs: Sequence[tuple[list[np.ndarray], list[np.ndarray]]]) -> float:
    return max(max_err(g, w) for g, w in pairs)


def _abs_rel(got: list[np.ndarray], want: list[np.ndarray]) -> str:
    """Max abs error and that error relative to the largest |reference| value of the same output."""
    abs_err = max_err(got, want)
    rel = max(max_err([g], [w]) / max(float(np.max(np.abs(w))), 1e-30) for g, w in zip(got, want))
    return f"{abs_err:.2g} ({rel:.1g} rel)"


def _table(header: Sequence[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |", flush=True)
    print()


def zoo_rows(tmp: Path, names: Sequence[str]) -> list[list[str]]:
    rows = []
    for name in names:
        spec = zoo.MODELS[name]
        for opset in zoo.OPSETS:
            t0 = time.perf_counter()
            onnx_path = zoo.export(name, opset)
            xml = tmp / f"{name}-{opset}.xml"
            try:
                model = convert_to_ir(onnx_path, xml)
            except Exception as e:  # noqa: BLE001
                rows.append([name, str(opset), "convert: " + _short(e), "", "no", ""])
                continue
            sets = spec.input_sets()
            want = [run_ort(onnx_path, s) for s in sets]
            ref = _err(lambda: _worst([(run_ref(model, s), w) for s, w in zip(sets, want)]))
            try:
                import openvino as ov

                ov.Core().read_model(str(xml))
                loads = "yes"
            except Exception as e:  # noqa: BLE001
                loads = "no: " + _short(e, 60)
            ovr = _err(lambda: _worst([(run_openvino_xml(xml, s), w) for s, w in zip(sets, want)]))
            rows.append([name, str(opset), ref, ovr, loads, f"{time.perf_counter() - t0:.1f}"])
    return rows


def openvino_ir_rows(tmp: Path, names: Sequence[str]) -> list[list[str]]:
    import openvino as ov

    rows = []
    for name in names:
        spec = zoo.MODELS[name]
        for weights, compress in (("f32", False), ("f16", True)):
            xml = tmp / f"ov-{name}-{weights}.xml"
            ov.save_model(ov.convert_model(str(zoo.export(name, 17))), str(xml), compress_to_fp16=compress)
            try:
                model = irforge.read_model(xml)
                reads = "yes"
            except Exception as e:  # noqa: BLE001
                rows.append([name, weights, "no: " + _short(e), ""])
                continue
            sets = spec.input_sets()
            err = _err(lambda: _worst([(run_ref(model, s), run_openvino_xml(xml, s)) for s in sets]))
            rows.append([name, weights, reads, err])
    return rows


def light_rows(tmp: Path) -> list[list[str]]:
    rows = []
    for name in light.NAMES:
        case = light.load(name)
        xml = tmp / f"light-{name}.xml"
        try:
            model = convert_to_ir(case.proto, xml)
        except Exception as e:  # noqa: BLE001
            rows.append([name, "convert: " + _short(e), "", "", ""])
            continue
        want = run_ort(case.proto, case.inputs)
        try:
            got = run_ref(model, case.inputs)
            shipped, vs_ort = _abs_rel(got[:1], [case.expected]), _abs_rel(got, want)
        except Exception as e:  # noqa: BLE001
            shipped, vs_ort = _short(e), ""
        try:
            ovr = _abs_rel(run_openvino_xml(xml, case.inputs), want)
        except Exception as e:  # noqa: BLE001
            ovr = _short(e)
        rows.append([name, shipped, vs_ort, ovr, f"{np.max(np.abs(want[-1])):.3g}"])
        for p in (xml, xml.with_suffix(".bin")):
            p.unlink(missing_ok=True)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-light", action="store_true", help="skip the onnx light models")
    parser.add_argument("--only", nargs="+", choices=list(zoo.MODELS), help="zoo models to report")
    args = parser.parse_args(argv)
    names = args.only or list(zoo.MODELS)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("## Zoo models: irforge IR vs ONNX Runtime (max abs err)\n")
        _table(["model", "opset", "REF vs ORT", "OpenVINO (our IR) vs ORT", "OpenVINO loads", "s"],
               zoo_rows(tmp, names))
        print("## OpenVINO-written IR (opset-17 export) read by irforge: REF vs OpenVINO (max abs err)\n")
        _table(["model", "weights", "irforge reads", "REF vs OpenVINO"], openvino_ir_rows(tmp, names))
        if not args.no_light:
            print("## onnx light models (max abs err, and relative to the output's largest value; the last "
                  "output is the logits where the model ends in Softmax)\n")
            _table(["model", "REF vs shipped", "REF vs ORT", "OpenVINO (our IR) vs ORT", "max abs last output"],
                   light_rows(tmp))


if __name__ == "__main__":
    main()
