"""`irforge infer` input files: anything but a sound `.npy` fails with one line naming the input, and nothing is
allocated from a header's claims before they are checked against the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.robustness.helpers import fails, relu_model, save


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save(relu_model(), tmp_path / "m.onnx")


def _huge_header(path: Path) -> Path:
    """A valid .npy header claiming float64[10^13] (73 TiB), followed by 16 bytes."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
        f.write(b"\0" * 16)
    return path


def _write(data: bytes):  # type: ignore[no-untyped-def]
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


def _npz(path: Path) -> Path:
    with open(path, "wb") as f:
        np.savez(f, x=np.ones((1, 4), np.float32))
    return path


def _objects(path: Path) -> Path:
    np.save(path, np.array([{"a": 1}], dtype=object))
    return path


@pytest.mark.parametrize("make,message", [
    (_npz, "is an .npz archive"),
    (_write(b""), "is empty, not a .npy file"),
    (_write(b"hello, world"), "is not a .npy file"),
    (_huge_header, "is truncated: its header says float64[10000000000000] (80000000000000 bytes)"),
    (_objects, "holds Python objects"),
    (_write(np.lib.format.MAGIC_PREFIX + b"\x01\x00\x10\x00{'descr': '<f4'"), "is not a .npy file"),
])
def test_bad_input_files(tmp_path: Path, model: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / "x.npy")
    line = fails(message, "infer", str(model), "--input", f"x={path}", "-o", str(tmp_path / "res"))
    assert "--input x:" in line
    assert not (tmp_path / "res").exists()


def test_truncated_data(tmp_path: Path, model: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((1, 4), np.float32))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-3])
    fails("is truncated: its header says float32[1, 4] (16 bytes) but the file holds 13 bytes", "infer", str(model),
          "--input", str(tmp_path / "x.npy"))
