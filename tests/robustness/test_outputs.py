"""Output paths that cannot be written fail with one line before anything is written; IR, reports and infer's
outputs are written all or nothing, with the permissions a normally written file gets (0666 & ~umask)."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from irforge.cli.infer import output_files
from tests.robustness.helpers import fails, files_under, graph_model, relu_model, run_cli, save


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save(relu_model(), tmp_path / "m.onnx")


def _two_outputs(names: tuple[str, str] = ("a/b", "a:b")) -> onnx.ModelProto:
    return graph_model([h.make_node("Relu", ["x"], [names[0]]), h.make_node("Neg", ["x"], [names[1]])],
                       [h.make_tensor_value_info("x", T.FLOAT, [1, 4])],
                       [h.make_tensor_value_info(n, T.FLOAT, [1, 4]) for n in names])


def test_output_dir_is_a_file(tmp_path: Path, model: Path) -> None:
    (tmp_path / "file").write_text("x")
    fails(f"-o/--output-dir: '{tmp_path / 'file'}' is not a folder", "convert", str(model), "-o",
          str(tmp_path / "file"))
    fails(f"'{tmp_path / 'file'}' is not a folder (on the way to", "convert", str(model), "-o",
          str(tmp_path / "file" / "sub"))
    assert (tmp_path / "file").read_text() == "x"


def test_output_dir_under_proc(model: Path) -> None:
    fails("/proc/irforge_robustness", "convert", str(model), "-o", "/proc/irforge_robustness")


def test_output_dir_not_writable(tmp_path: Path, model: Path) -> None:
    """A folder the user may not write into. Root may write anywhere a mode allows, so as root the folder is made
    immutable instead (chattr +i: not even root may create files in it)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        import shutil
        import subprocess

        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode:
            pytest.skip("running as root on a filesystem without immutable folders (chattr +i): no folder is "
                        "unwritable for root here")
        undo = ["chattr", "-i", str(ro)]
    else:
        ro.chmod(0o500)
        undo = []
    try:
        fails("no permission to write in", "convert", str(model), "-o", str(ro / "out"))
        assert list(ro.iterdir()) == []
    finally:
        if undo:
            import subprocess

            subprocess.run(undo, check=True)
        else:
            ro.chmod(0o700)


@pytest.mark.parametrize("which", ["m.xml", "m.bin"])
def test_target_file_is_a_folder_leaves_nothing(tmp_path: Path, model: Path, which: str) -> None:
    out = tmp_path / "out"
    (out / which).mkdir(parents=True)
    fails(f"'{out / which}' is a folder", "convert", str(model), "-o", str(out))
    assert files_under(out) == []  # no orphan .bin, no temporary file


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".."])
def test_model_name_with_folders_is_rejected(tmp_path: Path, model: Path, name: str) -> None:
    fails("-n/--model-name", "convert", str(model), "-o", str(tmp_path / "out"), "-n", name)
    assert files_under(tmp_path) == ["m.onnx"]


def test_report_path_checked_before_anything_is_written(tmp_path: Path, model: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / "folder").mkdir()
    fails(f"--report: '{tmp_path / 'folder'}' is a folder", "convert", str(model), "-o", str(out), "--report",
          str(tmp_path / "folder"))
    (tmp_path / "file").write_text("x")
    fails("is not a folder", "convert", str(model), "-o", str(out), "--report", str(tmp_path / "file" / "r.json"))
    assert files_under(out) == []
    code, _, err = run_cli("convert", str(model), "-o", str(out), "--report", str(out / "r.json"))
    assert code == 0, err
    assert files_under(out) == ["m.bin", "m.xml", "r.json"]


def test_infer_output_dir_errors_before_inference(tmp_path: Path, model: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((1, 4), np.float32))
    (tmp_path / "file").write_text("x")
    fails("-o/--output-dir", "infer", str(model), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "file"))
    fails("-o/--output-dir", "infer", str(model), "--input", str(tmp_path / "x.npy"), "-o",
          str(tmp_path / "file" / "x"))


def test_infer_writes_all_outputs_or_none(tmp_path: Path) -> None:
    path = save(_two_outputs(("first", "second")), tmp_path / "two.onnx")
    np.save(tmp_path / "x.npy", np.ones((1, 4), np.float32))
    out = tmp_path / "res"
    (out / "second.npy").mkdir(parents=True)
    fails(f"'{out / 'second.npy'}' is a folder", "infer", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(out))
    assert files_under(out) == []  # first.npy was not written either


def test_infer_output_names_that_collide_get_unique_files(tmp_path: Path) -> None:
    path = save(_two_outputs(), tmp_path / "two.onnx")
    x = np.array([[-1, 0, 1, 2]], np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli("infer", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "res"))
    assert code == 0, err
    assert files_under(tmp_path / "res") == ["a_b.npy", "a_b_2.npy"]
    np.testing.assert_array_equal(np.load(tmp_path / "res" / "a_b.npy"), np.maximum(x, 0))
    np.testing.assert_array_equal(np.load(tmp_path / "res" / "a_b_2.npy"), -x)
    assert f"a/b: float32[1, 4] -> {tmp_path / 'res' / 'a_b.npy'}" in out


def test_output_file_names() -> None:
    names = ["a/b", "a:b", "A_B", "", "x" * 300, "ok.1-2"]
    got = [p.name for p in output_files(names, Path("o"))]
    assert got == ["a_b.npy", "a_b_2.npy", "A_B_3.npy", "_.npy", "x" * 200 + ".npy", "ok.1-2.npy"]


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_written_files_get_umask_permissions(tmp_path: Path, model: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    out = tmp_path / "out"
    code, _, err = run_cli("convert", str(model), "-o", str(out), "--report", str(out / "r.json"))
    assert code == 0, err
    np.save(tmp_path / "x.npy", np.ones((1, 4), np.float32))
    code, _, err = run_cli("infer", str(out / "m.xml"), "--input", str(tmp_path / "x.npy"), "-o", str(out / "res"))
    assert code == 0, err
    for name in ("m.xml", "m.bin", "r.json", "res/y.npy"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~mask, name
    assert stat.S_IMODE((out / "res").stat().st_mode) == 0o777 & ~mask  # folders made as mkdir makes them


def test_python_api_save_model_permissions_and_errors(tmp_path: Path, umask: None) -> None:
    import irforge
    from irforge.errors import OutputError

    model = irforge.convert_model(relu_model())
    os.umask(0o027)
    irforge.serialize(model, tmp_path / "a" / "m.xml")
    for name in ("m.xml", "m.bin"):
        assert stat.S_IMODE((tmp_path / "a" / name).stat().st_mode) == 0o640
    (tmp_path / "b" / "m.bin").mkdir(parents=True)
    with pytest.raises(OutputError, match="is a folder"):
        irforge.serialize(model, tmp_path / "b" / "m.xml")
    assert files_under(tmp_path / "b") == []


def test_a_failed_rename_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the second of a group's renames fails, the first target, the temporary files and the folders made
    for them are removed again."""
    from irforge import files
    from irforge.errors import OutputError

    real = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(dst))
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", flaky)
    target = tmp_path / "new" / "deeper"
    with pytest.raises(OutputError, match="-o/--output-dir: cannot write .*b.txt.: Permission denied"):
        files.write_files([(target / "a.txt", [b"a"]), (target / "b.txt", [b"b"])], "-o/--output-dir")
    assert not (tmp_path / "new").exists()
