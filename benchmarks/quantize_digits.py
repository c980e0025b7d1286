"""Post-training INT8 quantization, irforge vs NNCF, side by side on the same subset.

    python -m benchmarks.quantize_digits                 # digits CNN, 300 calibration samples, 3 rounds
    python -m benchmarks.quantize_digits --rounds 5 --zoo resnet mobilenetv3

1. Digits CNN (tests/quantization/digits.py: trained on scikit-learn's digits, cached): wall time of
   `irforge.quantize` (device auto = CPU when it runs the model, and REF) and of `nncf.quantize` on the same 300
   calibration samples (NNCF quantizes the openvino.Model read from the FP32 IR irforge wrote); then top-1 on the
   validation and test splits: FP32, irforge INT8 (run by irforge REF and by OpenVINO), NNCF INT8 (OpenVINO), and
   each drop. irforge's default (quantile ranges) and NNCF's default (mean_minmax) are shown with either tool, plus
   NNCF's MEAN_QUANTILE set.
2. The accuracy-aware forms with max_drop 0.002 on the validation split: irforge's
   `quantize_with_accuracy_control` and `nncf.quantize_with_accuracy_control`, wall time, final drop, reverts.
3. Optionally (--zoo) zoo models at their test sizes with random calibration data: wall time only.

Wall times are medians over interleaved rounds (noisy on a shared machine: repeat). Ratios below 1 mean irforge is
faster. The target is irforge/NNCF <= 0.5.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import irforge
from irforge.quantization import quantize_report, quantize_with_accuracy_control_report
from tests.quantization import digits


def _quiet_nncf() -> None:
    logging.getLogger("nncf").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def _median_time(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _ov_top1(ov_model: Any, x: np.ndarray, y: np.ndarray) -> float:
    import openvino as ov

    compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return digits.accuracy(np.concatenate([compiled(x[i:i + 1])[0] for i in range(len(x))]), y)


def _irforge_top1(model: irforge.Model, x: np.ndarray, y: np.ndarray) -> float:
    return digits.accuracy(irforge.Core().compile_model(model, "REF")(x)[0], y)


def _to_ov(model: irforge.Model, folder: str, name: str) -> Any:
    import openvino as ov

    path = os.path.join(folder, f"{name}.xml")
    irforge.save_model(model, path, compress_to_fp16=False)
    return ov.Core().read_model(path)


def digits_side_by_side(rounds: int) -> None:
    import nncf
    import openvino as ov

    data = digits.load()
    fp = irforge.convert_model(str(data.onnx_path))
    calib = data.samples("train", 300)
    tmp = tempfile.mkdtemp(prefix="irforge_qbench_")
    irforge.save_model(fp, os.path.join(tmp, "fp32.xml"), compress_to_fp16=False)
    fp_path = os.path.join(tmp, "fp32.xml")
    print(f"Digits CNN, {len(calib)} calibration samples, {rounds} rounds (median wall time)")

    runs: dict[str, tuple[float, Any]] = {}
    for est in ("quantile", "mean_minmax"):
        for device in ("auto", "REF"):
            runs[f"irforge {est} {device}"] = _median_time(
                lambda: quantize_report(fp, calib, range_estimator=est, device=device, progress=False), rounds)
    for est, params in (("mean_minmax", None), ("mean_quantile", "MEAN_QUANTILE")):
        def run_nncf() -> Any:
            model = ov.Core().read_model(fp_path)
            kwargs: dict[str, Any] = {}
            if params is not None:
                from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
                from nncf.quantization.range_estimator import RangeEstimatorParametersSet

                kwargs["advanced_parameters"] = AdvancedQuantizationParameters(
                    activations_range_estimator_params=getattr(RangeEstimatorParametersSet, params))
            return nncf.quantize(model, nncf.Dataset(calib), subset_size=len(calib), **kwargs)

        runs[f"nncf {est}"] = _median_time(run_nncf, rounds)

    x_val, y_val, x_test, y_test = data.x["val"], data.y["val"], data.x["test"], data.y["test"]
    fp_val, fp_test = _irforge_top1(fp, x_val, y_val), _irforge_top1(fp, x_test, y_test)
    ov_fp_val, ov_fp_test = _ov_top1(ov.Core().read_model(fp_path), x_val, y_val), \
        _ov_top1(ov.Core().read_model(fp_path), x_test, y_test)
    print(f"  FP32 top-1: val {fp_val:.4f}  test {fp_test:.4f}  (OpenVINO: val {ov_fp_val:.4f} test {ov_fp_test:.4f})")
    header = f"  {'run':<28} {'wall s':>7} {'vs NNCF':>8}  {'val':>6} {'drop':>7}  {'test':>6} {'drop':>7}  runs on"
    print(header)
    nncf_time = runs["nncf mean_minmax"][0]
    for key, (seconds, out) in runs.items():
        if key.startswith("irforge"):
            model = out.model
            rows = [("irforge REF", _irforge_top1(model, x_val, y_val), _irforge_top1(model, x_test, y_test)),
                    ("OpenVINO", _ov_top1(_to_ov(model, tmp, key.replace(" ", "_")), x_val, y_val),
                     _ov_top1(_to_ov(model, tmp, key.replace(" ", "_")), x_test, y_test))]
            ref_val, ref_test = fp_val, fp_test
        else:
            rows = [("OpenVINO", _ov_top1(out, x_val, y_val), _ov_top1(out, x_test, y_test))]
            ref_val, ref_test = ov_fp_val, ov_fp_test
        for k, (engine, val, test) in enumerate(rows):
            t = f"{seconds:7.3f} {seconds / nncf_time:8.3f}" if k == 0 else " " * 16
            print(f"  {key if k == 0 else '':<28} {t}  {val:6.4f} {ref_val - val:+7.4f}  {test:6.4f} "
                  f"{ref_test - test:+7.4f}  {engine}")
    print("  (vs NNCF: wall time / NNCF's with its default mean_minmax; drop = FP32 - INT8, positive is a loss)")

    # ---- accuracy-aware
    val_items = list(zip(data.samples("val"), y_val.tolist()))

    def top1_fn(compiled: Any, items: list[tuple[np.ndarray, int]]) -> float:
        return float(np.mean([int(np.argmax(compiled(x)[0])) == label for x, label in items]))

    def ours() -> Any:
        return quantize_with_accuracy_control_report(
            fp, calib, val_items, top1_fn, max_drop=0.002, transform_fn=lambda it: it[0] if isinstance(it, tuple)
            else it, device="REF", progress=False, range_estimator="mean_minmax")

    def theirs() -> Any:
        model = ov.Core().read_model(fp_path)
        return nncf.quantize_with_accuracy_control(
            model, nncf.Dataset(calib), nncf.Dataset(val_items, lambda it: it[0]),
            validation_fn=top1_fn, max_drop=0.002, subset_size=len(calib))

    t_ours, r_ours = _median_time(ours, rounds)
    t_theirs, r_theirs = _median_time(theirs, max(1, rounds // 2))
    nncf_val = _ov_top1(r_theirs, x_val, y_val)
    print(f"\nAccuracy-aware, max_drop 0.002 on the validation split (both from mean_minmax ranges, NNCF's default)")
    print(f"  irforge: {t_ours:7.3f} s  final val {r_ours.report.final_metric:.4f} "
          f"(drop {r_ours.report.drop:+.4f}), reverted: {', '.join(r_ours.report.reverted_layers) or 'none'}")
    n_fq = sum(op.get_type_name() == "FakeQuantize" for op in r_theirs.get_ops())
    print(f"  NNCF:    {t_theirs:7.3f} s  final val {nncf_val:.4f} (drop {ov_fp_val - nncf_val:+.4f}), "
          f"{n_fq} FakeQuantize left")
    print(f"  wall time ratio irforge/NNCF: {t_ours / t_theirs:.3f}")


def zoo_times(names: list[str], rounds: int) -> None:
    import nncf
    import openvino as ov

    from tests.models import zoo

    print("\nZoo models, random calibration data (8 samples): wall time only")
    for name in names:
        model = irforge.convert_model(str(zoo.export(name, 17)))
        rng = np.random.default_rng(0)
        first = zoo.MODELS[name].input_sets()[0]
        calib = [[rng.standard_normal(v.shape).astype(v.dtype) if v.dtype.kind == "f" else v
                  for v in first.values()] for _ in range(8)]
        with tempfile.TemporaryDirectory() as tmp:
            irforge.save_model(model, os.path.join(tmp, "m.xml"), compress_to_fp16=False)
            t_auto, _ = _median_time(lambda: quantize_report(model, calib, progress=False), rounds)
            t_ref, _ = _median_time(lambda: quantize_report(model, calib, device="REF", progress=False), rounds)
            t_nncf, _ = _median_time(lambda: nncf.quantize(ov.Core().read_model(os.path.join(tmp, "m.xml")),
                                                           nncf.Dataset(calib), subset_size=8), rounds)
        print(f"  {name:<12} irforge auto {t_auto:6.3f} s  REF {t_ref:6.3f} s  NNCF {t_nncf:6.3f} s  "
              f"ratios {t_auto / t_nncf:.3f} / {t_ref / t_nncf:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zoo", nargs="*", default=[], help="zoo models to time too (e.g. resnet mobilenetv3)")
    args = parser.parse_args()
    _quiet_nncf()
    digits_side_by_side(args.rounds)
    if args.zoo:
        zoo_times(args.zoo, args.rounds)


if __name__ == "__main__":
    main()
