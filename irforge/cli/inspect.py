"""`irforge inspect MODEL.xml|MODEL.onnx`: inputs/outputs with shapes and types, and the op histogram."""
from __future__ import annotations

import argparse

from irforge.cli.summary import describe_ports, histogram_lines, human_bytes
from irforge.cli.terminal import printable
from irforge.mo.report import weight_bytes
from irforge.runtime.core import Core


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("inspect", help="show a model's inputs, outputs and op histogram")
    p.add_argument("model", help="path to an IR .xml (or an .onnx)")


def run(args: argparse.Namespace) -> int:
    model = Core().read_model(args.model)
    print(f"{printable(args.model)}: model '{printable(model.name)}'")
    print("\n".join(describe_ports(model)))
    print("\n".join(histogram_lines(model)))
    print(f"  weights: {human_bytes(weight_bytes(model))}")
    return 0
