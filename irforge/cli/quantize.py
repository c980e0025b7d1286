"""`irforge quantize MODEL.xml --data DATA -o OUTDIR [options]`: post-training INT8 quantization, default or
accuracy-aware (`--validation-data` with `--metric` and `--max-drop`). Writes OUTDIR/NAME.xml + .bin only when the
quantization succeeded, and prints the final table."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from irforge.cli.convert import check_model_name
from irforge.cli.terminal import printable
from irforge.errors import OptionError
from irforge.files import check_output_dir, check_output_file, write_files
from irforge.ir.graph import Model
from irforge.ir.xml_io import ir_files, ir_paths
from irforge.quantization.api import QuantizationResult, accuracy_aware_report, quantize_report
from irforge.quantization.data import check_label_count, open_dataset, read_labels
from irforge.quantization.errors import DataError
from irforge.quantization.metrics import METRICS, NEEDS_LABELS, check_metric
from irforge.quantization.options import (DROP_TYPES, FALLBACK_PRECISIONS, OVERFLOW_FIX, PRESETS, RANGE_ESTIMATORS,
                                          AccuracyOptions, QuantizationOptions)
from irforge.quantization.samples import Sample
from irforge.quantization.validation import MetricValidator, Validator


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("quantize", help="post-training INT8 quantization of an IR (default or accuracy-aware)")
    p.add_argument("model", help="the floating-point model: .xml (IR) or .onnx")
    p.add_argument("--data", required=True, help="calibration data: a folder of images, .npy/.npz files, or one file")
    p.add_argument("-o", "--output-dir", default=".", help="folder for the INT8 IR (default: .)")
    p.add_argument("-n", "--model-name", default=None, help="base name of the IR files (default: the model's)")
    g = p.add_argument_group("quantization")
    g.add_argument("--subset-size", type=int, default=300, help="calibration samples used (default 300)")
    g.add_argument("--preset", choices=PRESETS, default="performance",
                   help="performance: symmetric activations; mixed: asymmetric activations")
    g.add_argument("--range-estimator", choices=RANGE_ESTIMATORS, default="quantile",
                   help="activation ranges: 1e-4 quantiles (default), global min/max, or mean of per-sample "
                        "min/max (NNCF's default)")
    g.add_argument("--ignored-types", default=None, metavar="T,...", help="op types kept in floating point")
    g.add_argument("--ignored-names", default=None, metavar="REGEX,...",
                   help="node names (regular expressions, searched) kept in floating point")
    g.add_argument("--no-bias-correction", action="store_true", help="skip the fast bias correction")
    g.add_argument("--overflow-fix", choices=OVERFLOW_FIX, default="auto",
                   help="7-bit weights where 8-bit products may saturate: auto (default) = enable on CPUs without "
                        "VNNI/AMX, else first_layer")
    g.add_argument("-d", "--device", default="auto", help="device running statistics and validation: auto (CPU "
                                                          "when it runs the model, else REF), CPU, REF")
    g = p.add_argument_group("accuracy-aware quantization")
    g.add_argument("--validation-data", default=None, help="validation data (same forms as --data)")
    g.add_argument("--labels", default=None, metavar="FILE", help="integer labels: .npy or a text file, one per line")
    g.add_argument("--labels-from-folders", action="store_true",
                   help="the validation data holds one sub-folder per class (sorted names = class indices)")
    g.add_argument("--metric", choices=METRICS, default=None,
                   help="top1/top5 (with labels) or cosine/nmse against the FP32 outputs (default: top1 with "
                        "labels, else cosine)")
    g.add_argument("--max-drop", type=float, default=0.01, help="largest accepted metric drop (default 0.01)")
    g.add_argument("--drop-type", choices=DROP_TYPES, default="absolute",
                   help="absolute: fp32 - int8; relative: (fp32 - int8) / fp32")
    g.add_argument("--fallback-precision", choices=FALLBACK_PRECISIONS, default="bf16",
                   help="try reverted layers in this precision before FP32 (none: FP32 directly)")
    g.add_argument("--ranking-subset-size", type=int, default=100, help="worst validation samples ranked on")
    p.add_argument("--report", metavar="FILE.json", help="write the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    accuracy_aware = args.validation_data is not None
    if not accuracy_aware:
        given = [flag for flag, on in (("--labels", args.labels), ("--labels-from-folders", args.labels_from_folders),
                                       ("--metric", args.metric)) if on]
        if given:
            raise OptionError(f"{', '.join(given)} need --validation-data (the accuracy-aware form)")
    if args.labels and args.labels_from_folders:
        raise OptionError("give --labels FILE or --labels-from-folders, not both")
    options = dict(preset=args.preset, subset_size=args.subset_size, range_estimator=args.range_estimator,
                   ignored_types=args.ignored_types or (), ignored_names=args.ignored_names or (),
                   fast_bias_correction=not args.no_bias_correction, overflow_fix=args.overflow_fix,
                   device=args.device, progress=not args.quiet)
    QuantizationOptions(**options)  # option errors before any reading
    name = check_model_name(args.model_name) if args.model_name is not None else Path(args.model).stem
    check_output_dir(args.output_dir, "-o/--output-dir")
    xml = Path(args.output_dir) / f"{name}.xml"
    for target in ir_paths(xml):
        check_output_file(target, "-o/--output-dir")
    if args.report:
        check_output_file(args.report, "--report")
    model = _read(args.model)
    data = open_dataset(args.data, model)
    if accuracy_aware:
        result = _accuracy_aware(args, model, data, options)
    else:
        result = quantize_report(model, data, **options)
    files: list[tuple[Any, ...]] = list(ir_files(result.model, xml))
    if args.report:
        report = json.dumps(result.report.to_dict(), indent=2, default=str)
        files.append((Path(args.report), [report.encode("utf-8")], "--report"))
    write_files(files, "-o/--output-dir")  # the INT8 IR and the report: all or nothing
    print(result.report.table())
    print(f"INT8 model written to {printable(xml)} (+ .bin)")
    return 0


def _read(path: str) -> Model:
    from irforge.runtime.core import Core

    if not Path(path).is_file():
        raise OptionError(f"model file '{path}' does not exist")
    return Core().read_model(path)


def _accuracy_aware(args: argparse.Namespace, model: Model, data: Any, options: dict[str, Any]
                    ) -> QuantizationResult:
    has_labels = bool(args.labels or args.labels_from_folders)
    metric = check_metric(args.metric or ("top1" if has_labels else "cosine"), has_labels)
    accuracy = AccuracyOptions(args.max_drop, args.drop_type, args.ranking_subset_size, args.fallback_precision)
    vdata = open_dataset(args.validation_data, model, labels_from_folders=args.labels_from_folders)
    samples: list[Sample] = []
    folder_labels: list[int] = []
    for sample, label in vdata.with_labels():
        samples.append(sample)
        if label is not None:
            folder_labels += [label] * int(sample[0].shape[0] if sample[0].ndim else 1)
    rows = sum(int(s[0].shape[0]) if s[0].ndim else 1 for s in samples)
    labels: np.ndarray | None = None
    if args.labels:
        labels = read_labels(args.labels)
        check_label_count(labels, rows, f"--labels {args.labels}")
    elif args.labels_from_folders:
        labels = np.asarray(folder_labels, np.int64)
    if metric in NEEDS_LABELS and labels is None:
        raise DataError(f"metric '{metric}' needs labels")

    def factory(fp_model: Model, opts: QuantizationOptions, policy: Any) -> Validator:
        return MetricValidator(samples, metric, labels, policy, opts.batch_size, opts.progress)

    result = accuracy_aware_report(model, data, factory, accuracy, metric, **options)
    if vdata.classes:
        print(f"classes (from folders): {', '.join(vdata.classes)}", file=sys.stderr)
    return result
