"""Export of the corpus's architectures with both torch.onnx exporters, cached on disk.

* `legacy`: the TorchScript exporter, `dynamo=False, opset_version=17`;
* `dynamo`: torch.export + onnxscript, `dynamo=True` at its default opset with `optimize=True` (as users call it).

Shapes are static (batch 1, the entry's sequence / image / audio length). Files live under tests/.cache/corpus, keyed
by architecture, exporter, the torch / transformers / onnxscript versions and the source of architectures.py and
this file (so an edited config re-exports), and are written atomically: pytest-xdist workers may export the same
file at once, and each writes a temporary file then renames it over the final name. Beside the ONNX files,
`<arch>-<keys>.npz` holds the example inputs and the eager PyTorch outputs, and `<arch>-<exporter>-<keys>.failed`
the error of an exporter known to fail (so it is reproduced once per key, not on every run)."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tests.models.corpus.architectures import ARCHITECTURES, EXPORTERS, Inputs
from tests.util import write_atomic

CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "corpus"


class ExporterLimitation(Exception):
    """The exporter is known to fail on this architecture (the entry's `exporter_failures`)."""


def _env_key() -> str:
    """The exporting environment: torch, transformers and onnxscript versions."""
    import onnxscript
    import transformers

    versions = f"{torch.__version__}|{transformers.__version__}|{onnxscript.__version__}"
    return hashlib.sha256(versions.encode()).hexdigest()[:8]


def _source_key() -> str:
    """What the corpus defines: this file and architectures.py."""
    h = hashlib.sha256()
    for f in (Path(__file__), Path(__file__).with_name("architectures.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:8]


def _cache_path(stem: str, suffix: str) -> Path:
    """CACHE_DIR/<stem>-<env key>-<source key><suffix>. Two environments (CI's main and lowest-versions runs, or
    two virtual environments on one machine) keep their files side by side; a file of the same stem and environment
    but an older source is removed when its successor is written (`_atomic_write`)."""
    return CACHE_DIR / f"{stem}-{_env_key()}-{_source_key()}{suffix}"


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """`write(tmp)` into a temporary file beside `path`, then rename it to `path` (a concurrent reader sees the
    old state or the whole file); then remove the files it supersedes: same stem and environment, older source."""
    write_atomic(path, write)
    head = path.name.rsplit("-", 1)[0]  # <stem>-<env key>
    for stale in path.parent.glob(f"{head}-*{path.suffix}"):
        if stale != path and stale.name.rsplit("-", 1)[0] == head:
            stale.unlink(missing_ok=True)


def _export(model: torch.nn.Module, args: tuple[torch.Tensor, ...], path: str, exporter: str,
            input_names: list[str], output_names: list[str]) -> None:
    with torch.no_grad():
        if exporter == "legacy":
            torch.onnx.export(model, args, path, dynamo=False, opset_version=17, input_names=input_names,
                              output_names=output_names)
        elif exporter == "dynamo":
            # external_data=False: one self-contained file (every model here is far below protobuf's 2 GB)
            torch.onnx.export(model, args, path, dynamo=True, optimize=True, external_data=False,
                              input_names=input_names, output_names=output_names, verbose=False)
        else:
            raise ValueError(f"exporter {exporter!r}: expected one of {EXPORTERS}")


def export(arch: str, exporter: str) -> Path:
    """The ONNX file of `arch` from `exporter` (exported once, then served from the cache).

    Where the entry records that this exporter fails (`exporter_failures`), the export is still tried: the same
    error raises ExporterLimitation; another error, or a success, raises an error saying the record is stale."""
    spec = ARCHITECTURES[arch]
    known = spec.exporter_failures.get(exporter)
    path = _cache_path(f"{arch}-{exporter}", ".onnx")
    failed = _cache_path(f"{arch}-{exporter}", ".failed")  # the recorded failure, reproduced once for this key
    if known is not None and failed.is_file() and failed.read_text() == known:
        raise ExporterLimitation(f"{exporter} exporter: {known}")
    if not path.is_file():
        model = spec.build()
        if not _reference_path(arch).is_file():  # the eager outputs from this build, before any exporter runs
            _write_reference(arch, model)
        args = tuple(torch.from_numpy(v) for v in spec.inputs().values())
        try:
            _atomic_write(path, lambda tmp: _export(model, args, tmp, exporter, spec.input_names,
                                                    list(spec.outputs)))
        except Exception as e:
            if known is not None and first_line(e) == known:
                _atomic_write(failed, lambda tmp: Path(tmp).write_text(known))
                raise ExporterLimitation(f"{exporter} exporter: {known}") from None
            raise
    if known is not None:
        raise RuntimeError(f"{arch}: the {exporter} exporter succeeds although the entry records it failing with "
                           f"{known!r}: remove that record")
    return path


def first_line(e: BaseException) -> str:
    """'IndexError: tuple index out of range': the form exporter_failures and the failure tables quote."""
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0].strip() if lines else ''}"


def _reference_path(arch: str) -> Path:
    return _cache_path(arch, ".npz")


def _write_reference(arch: str, model: torch.nn.Module) -> None:
    inputs = ARCHITECTURES[arch].inputs()
    with torch.no_grad():
        outs = model(*(torch.from_numpy(v) for v in inputs.values()))
    arrays = {f"input:{k}": v for k, v in inputs.items()}
    arrays.update({f"output:{i}": o.numpy() for i, o in enumerate(outs)})

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    _atomic_write(_reference_path(arch), write)


def reference(arch: str) -> tuple[Inputs, list[np.ndarray]]:
    """The example inputs of `arch` and its eager PyTorch outputs (computed once, then served from the cache)."""
    path = _reference_path(arch)
    if not path.is_file():
        _write_reference(arch, ARCHITECTURES[arch].build())
    with np.load(path) as data:
        inputs = {k.removeprefix("input:"): data[k] for k in data.files if k.startswith("input:")}
        outs = [data[f"output:{i}"] for i in range(len(ARCHITECTURES[arch].outputs))]
    return inputs, outs


def main() -> None:
    """`python -m tests.models.corpus.export [ARCH...]`: export (or find cached) every case and print its time."""
    import sys

    names = sys.argv[1:] or list(ARCHITECTURES)
    for arch in names:
        reference(arch)
        for exporter in EXPORTERS:
            t = time.perf_counter()
            try:
                path = export(arch, exporter)
                what = f"{path.stat().st_size / 2**20:.0f} MiB"
            except Exception as e:  # noqa: BLE001 - a report, not a test
                what = f"FAILED {first_line(e)[:200]}"
            print(f"{arch:16s} {exporter:7s} {time.perf_counter() - t:6.1f} s  {what}", flush=True)


if __name__ == "__main__":
    main()
