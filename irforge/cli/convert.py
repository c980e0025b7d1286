"""`irforge convert MODEL.onnx -o OUTDIR [-n NAME] [options]`: write OUTDIR/NAME.xml + .bin, print a summary."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from irforge.cli.summary import describe_ports, histogram_lines, human_bytes
from irforge.ir.xml_io import save_model
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


def run(args: argparse.Namespace) -> int:
    if args.list_passes:
        passes = pass_descriptions()
        width = max(len(name) for name, _ in passes)
        for name, description in passes:
            print(f"{name:<{width}}  {description}")
        return 0
    if not args.model:
        from irforge.errors import OptionError

        raise OptionError("the model path is required (irforge convert MODEL.onnx -o OUTDIR)")
    t0 = time.perf_counter()
    opts = ConvertOptions(
        input_shape=args.input_shape, batch=args.batch, input=args.input, output=args.output,
        mean_values=args.mean_values, scale_values=args.scale_values, scale=args.scale,
        reverse_input_channels=args.reverse_input_channels, layout=args.layout, source_layout=args.source_layout,
        target_layout=args.target_layout, compress_to_fp16=args.compress_to_fp16, static_shape=args.static_shape,
        optimize=not args.no_optimize, disable_passes=args.disable_pass)
    model, report = convert(args.model, opts)
    name = args.model_name or Path(args.model).stem
    xml = Path(args.output_dir) / f"{name}.xml"
    t_save = time.perf_counter()
    save_model(model, xml)
    report.stages["save"] = time.perf_counter() - t_save
    if args.report:
        report.write(args.report)
    print(f"Converted {args.model} -> {xml} (+ .bin) in {time.perf_counter() - t0:.2f} s")
    print("\n".join(describe_ports(model)))
    print("\n".join(histogram_lines(model)))
    print(f"  weights: {human_bytes(weight_bytes(model))}")
    print("\n".join(report.summary_lines()))
    return 0
