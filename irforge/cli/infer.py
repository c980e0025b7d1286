"""`irforge infer MODEL.xml --input NAME=file.npy ... [-d CPU|REF] [-o OUTDIR]`: outputs to OUTDIR/<name>.npy."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from irforge.errors import OptionError
from irforge.runtime.core import Core


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("infer", help="run a model on .npy inputs and write its outputs as .npy files")
    p.add_argument("model", help="path to an IR .xml (or an .onnx)")
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input (repeat for several); NAME may be omitted for a one-input model")
    p.add_argument("-d", "--device", default=None, help="device: CPU or REF (default: CPU when available, else REF)")
    p.add_argument("-o", "--output-dir", default=".", help="folder for the output .npy files (default: .)")


def _load_npy(path: str, option: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise OptionError(f"{option}: no such file '{path}'") from None
    except (ValueError, OSError) as e:
        raise OptionError(f"{option}: '{path}' is not a .npy file ({e})") from None


def run(args: argparse.Namespace) -> int:
    core = Core()
    device = args.device or ("CPU" if "CPU" in core.available_devices else "REF")
    compiled = core.compile_model(core.read_model(args.model), device)
    feeds: dict[object, np.ndarray] = {}
    for spec in args.input:
        if "=" in spec:
            name, path = spec.split("=", 1)
        elif len(compiled.inputs) == 1:
            name, path = compiled.inputs[0].name, spec
        else:
            raise OptionError(f"--input '{spec}': expected NAME=FILE.npy (the model has several inputs)")
        feeds[name] = _load_npy(path, f"--input {name}")
    results = compiled(feeds)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, value in results.to_dict().items():
        path = out_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".npy")
        np.save(path, value)
        print(f"{name}: {value.dtype}{list(value.shape)} -> {path}")
    return 0
