"""`irforge convert MODEL.onnx -o OUTDIR [-n NAME] [options]`: write OUTDIR/NAME.xml + .bin, print a summary."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from irforge.cli.summary import describe_ports, histogram_lines, human_bytes
from irforge.cli.terminal import printable
from irforge.errors import OptionError
from irforge.files import check_output_dir, check_output_file, write_files
from irforge.ir.xml_io import ir_files, ir_paths
from irforge.mo.convert import ConvertOptions, convert
from irforge.mo.report import weight_bytes
from irforge.transforms.pipeline import pass_descriptions


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("convert", help="convert an ONNX model to an optimized IR (.xml + .bin)")
    p.add_argument("model", nargs="?", help="path to the .onnx model")
    p.add_argument("-o", "--output-dir", default=".", help="folder for the IR files (default: .)")
    p.add_argument("-n", "--model-name", default=None, help="base name of the IR files (default: the model's)")
    g = p.add_argument_group("shapes and cutting")
    g.add_argument("--input-shape", help="new input shape(s): [4,3,100,100] or x[1,3,100,100],mask[1,128]; "
                                         "dims may be ? or -1 (dynamic) or ranges 1..8")
    g.add_argument("-b", "--batch", type=int, help="set the batch dimension of every input")
    g.add_argument("--input", help="inputs, possibly inner tensors to cut the graph at: NAME[shape]{type},...")
    g.add_argument("--output", help="outputs, possibly inner tensors to cut the graph after: NAME,...")
    g.add_argument("--static-shape", action="store_true", help="require static input shapes and fold all shape logic")
    g = p.add_argument_group("preprocessing embedded in the IR")
    g.add_argument("--mean-values", help="per-channel means subtracted first: [123.675,116.28,103.53] or x[...]")
    g.add_argument("--scale-values", help="per-channel scales divided after the mean: [58.4,57.1,57.4] or x[...]")
    g.add_argument("--scale", type=float, help="one scale dividing every input")
    g.add_argument("--reverse-input-channels", action="store_true", help="RGB<->BGR, applied before mean/scale")
    g.add_argument("--layout", help="input layout, or source->target to insert a transpose: nhwc->nchw, x(nchw)")
    g.add_argument("--source-layout", help="the layout the user will feed (with --target-layout)")
    g.add_argument("--target-layout", help="the layout the model computes in")
    g = p.add_argument_group("optimization and output")
    g.add_argument("--compress-to-fp16", action="store_true", help="store f32 weights as f16 (about half the .bin)")
    g.add_argument("--disable-pass", action="append", default=[], metavar="NAME", help="skip an optimization pass "
                                                                                      "(repeatable; see --list-passes)")
    g.add_argument("--no-optimize", action="store_true", help="translate only, run no optimization pass")
    g.add_argument("--list-passes", action="store_true", help="print the optimization passes and exit")
    g.add_argument("--report", metavar="FILE.json", help="write what each pass and stage did as JSON")


_TEXT_OPTIONS = ("input_shape", "input", "output", "mean_values", "scale_values", "layout", "source_layout",
                 "target_layout", "report")


def check_model_name(name: str, option: str = "-n/--model-name") -> str:
    """A base name for output files: no folder parts (`../x`, `a/b`), not empty, `.` or `..`."""
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise OptionError(f"{option}: '{name}' is not a plain file name (no folders, not empty)")
    return name


def _check_text_options(args: argparse.Namespace) -> None:
    """An option given an empty value is a mistake (`--output ''` would otherwise be silently ignored)."""
    for dest in _TEXT_OPTIONS:
        value = getattr(args, dest)
        if value is not None and not value.strip():
            raise OptionError(f"--{dest.replace('_', '-')}: the value is empty")


def run(args: argparse.Namespace) -> int:
    if args.list_passes:
        passes = pass_descriptions()
        width = max(len(name) for name, _ in passes)
        for name, description in passes:
            print(f"{name:<{width}}  {description}")
        return 0
    if not args.model:
        raise OptionError("the model path is required (irforge convert MODEL.onnx -o OUTDIR)")
    _check_text_options(args)
    name = check_model_name(args.model_name) if args.model_name is not None else Path(args.model).stem
    check_output_dir(args.output_dir, "-o/--output-dir")
    xml = Path(args.output_dir) / f"{name}.xml"
    targets = [*ir_paths(xml), *([Path(args.report)] if args.report else [])]
    for target in targets:  # everything that will be written is checked before the conversion starts
        check_output_file(target, "--report" if args.report and target == Path(args.report) else "-o/--output-dir")
    t0 = time.perf_counter()
    opts = ConvertOptions(
        input_shape=args.input_shape, batch=args.batch, input=args.input, output=args.output,
        mean_values=args.mean_values, scale_values=args.scale_values, scale=args.scale,
        reverse_input_channels=args.reverse_input_channels, layout=args.layout, source_layout=args.source_layout,
        target_layout=args.target_layout, compress_to_fp16=args.compress_to_fp16, static_shape=args.static_shape,
        optimize=not args.no_optimize, disable_passes=args.disable_pass)
    model, report = convert(args.model, opts)
    t_save = time.perf_counter()
    files: list[tuple[Any, ...]] = list(ir_files(model, xml))
    report.stages["save"] = time.perf_counter() - t_save
    if args.report:
        files.append((Path(args.report), [report.to_json().encode("utf-8")], "--report"))
    write_files(files, "-o/--output-dir")  # the IR and the report: all or nothing
    print(f"Converted {printable(args.model)} -> {printable(xml)} (+ .bin) in {time.perf_counter() - t0:.2f} s")
    print("\n".join(describe_ports(model)))
    print("\n".join(histogram_lines(model)))
    print(f"  weights: {human_bytes(weight_bytes(model))}")
    print("\n".join(report.summary_lines()))
    return 0
