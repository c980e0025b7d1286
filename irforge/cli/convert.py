"""`irforge convert MODEL.onnx -o OUTDIR [-n NAME]`: write OUTDIR/NAME.xml + .bin and print a summary."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from irforge.cli.summary import describe_ports, histogram_lines, human_bytes, weights_bytes
from irforge.frontends.onnx import convert_model
from irforge.ir.xml_io import save_model


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("convert", help="convert an ONNX model to IR (.xml + .bin)")
    p.add_argument("model", help="path to the .onnx model")
    p.add_argument("-o", "--output-dir", default=".", help="folder for the IR files (default: .)")
    p.add_argument("-n", "--model-name", default=None, help="base name of the IR files (default: the model's)")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    model = convert_model(args.model)
    name = args.model_name or Path(args.model).stem
    xml = Path(args.output_dir) / f"{name}.xml"
    save_model(model, xml)
    dt = time.perf_counter() - t0
    print(f"Converted {args.model} -> {xml} (+ .bin) in {dt:.2f} s")
    print("\n".join(describe_ports(model)))
    print("\n".join(histogram_lines(model)))
    print(f"  weights: {human_bytes(weights_bytes(model))}")
    return 0
