"""`irforge infer MODEL.xml --input NAME=file.npy ... [-d CPU|REF] [-o OUTDIR] [--infer-precision f32|bf16]`: outputs
to OUTDIR/<name>.npy.

Precision: f32 unless --infer-precision bf16 asks for less. The CPU device's own default is bf16 on CPUs with native
bf16 (AVX512-BF16, AMX), as OpenVINO's is; the outputs this command writes are the model's answer, to be compared
and consumed, so they do not change with the CPU they were computed on."""
from __future__ import annotations

import argparse
import io
import math
import re
from pathlib import Path

import numpy as np

from irforge.cli.terminal import printable
from irforge.errors import OptionError
from irforge.files import check_output_dir, write_files
from irforge.runtime.core import Core

PRECISIONS = ("f32", "bf16")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("infer", help="run a model on .npy inputs and write its outputs as .npy files")
    p.add_argument("model", help="path to an IR .xml (or an .onnx)")
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="an input (repeat for several); NAME may be omitted for a one-input model")
    p.add_argument("-d", "--device", default=None, help="device: CPU or REF (default: CPU when available, else REF)")
    p.add_argument("-o", "--output-dir", default=".", help="folder for the output .npy files (default: .)")
    p.add_argument("--infer-precision", default="f32", metavar="f32|bf16",
                   help="INFERENCE_PRECISION_HINT (default f32, on every CPU; bf16 where the CPU has bf16 kernels)")


def _load_npy(path: str, option: str) -> np.ndarray:
    """An input array. The header is read first and checked against the file's size, so an `.npz`, an empty or
    truncated file, or a header that claims terabytes fails with one line before anything is allocated."""
    p = Path(path)
    if not p.is_file():
        raise OptionError(f"{option}: no such file '{path}'")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
            if head.startswith(b"PK"):
                raise OptionError(f"{option}: '{path}' is an .npz archive; give one .npy file per input")
            if len(head) == 0:
                raise OptionError(f"{option}: '{path}' is empty, not a .npy file")
            f.seek(0)
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            offset = f.tell()
        if dtype.hasobject:
            raise OptionError(f"{option}: '{path}' holds Python objects ({dtype}), which irforge does not load")
        need = math.prod(shape) * dtype.itemsize
        have = p.stat().st_size - offset
        if need > have:
            raise OptionError(f"{option}: '{path}' is truncated: its header says {dtype}{list(shape)} ({need} bytes) "
                              f"but the file holds {have} bytes of data")
        return np.load(p, allow_pickle=False)
    except OptionError:
        raise
    except Exception as e:  # numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError, EOFError...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OptionError(f"{option}: '{path}' is not a .npy file ({reason})") from None


def output_files(names: list[str], out_dir: Path) -> list[Path]:
    """One `.npy` path per output name: characters other than letters, digits, `_`, `.` and `-` become `_` (at
    most 200 of them are kept), and a name that would then repeat an earlier one (`a/b` and `a:b` -> `a_b`,
    compared case-insensitively) gets `_2`, `_3`, ... appended."""
    used: set[str] = set()
    paths = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:200] or "_"
        stem, k = base, 1
        while stem.lower() in used:
            k += 1
            stem = f"{base}_{k}"
        used.add(stem.lower())
        paths.append(out_dir / f"{stem}.npy")
    return paths


def _npy_bytes(value: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, value)
    return buf.getvalue()


def run(args: argparse.Namespace) -> int:
    core = Core()
    device = args.device or ("CPU" if "CPU" in core.available_devices else "REF")
    precision = str(args.infer_precision).strip().lower()
    if precision not in PRECISIONS:
        raise OptionError(f"--infer-precision: expected one of {', '.join(PRECISIONS)}, got '{args.infer_precision}'")
    out_dir = check_output_dir(args.output_dir, "-o/--output-dir")
    compiled = core.compile_model(core.read_model(args.model), device, {"INFERENCE_PRECISION_HINT": precision})
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
    outputs = results.by_name()
    paths = output_files(list(outputs), out_dir)
    write_files([(path, [_npy_bytes(value)]) for path, value in zip(paths, outputs.values())], "-o/--output-dir")
    for (name, value), path in zip(outputs.items(), paths):
        print(f"{printable(name)}: {value.dtype}{list(value.shape)} -> {printable(path)}")
    return 0
