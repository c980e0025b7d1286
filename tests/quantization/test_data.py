"""Datasets from disk (image folders, .npy/.npz files and folders, class folders, labels) and the errors for bad
input: each names the file or input, the expected and the given."""
from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from irforge.ir.graph import Model
from irforge.quantization import DataError
from irforge.quantization.data import check_label_count, open_dataset, read_labels
from irforge.quantization.samples import iter_samples, to_sample
from tests.quantization import digits


def write_digit_pngs(folder: Path, images: np.ndarray, scale: float = 15.0) -> list[Path]:
    """8x8 digits as 8-bit grayscale PNGs (pixel = raw value * scale)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"img{i:04d}.png"
        Image.fromarray((img[0] * scale).astype(np.uint8), mode="L").save(path)
        paths.append(path)
    return paths


def test_image_folder_decodes_to_the_model_layout(tmp_path: Path, digits_model: Model,
                                                  digits_data: digits.Digits) -> None:
    images = digits_data.x["val"][:5]
    write_digit_pngs(tmp_path, images)
    samples = list(open_dataset(tmp_path, digits_model))
    assert len(samples) == 5
    for (arr,), img in zip(samples, images):
        assert arr.shape == (1, 1, 8, 8) and arr.dtype == np.float32
        np.testing.assert_array_equal(arr[0], img * 15.0)  # raw pixel values: the IR normalizes


def test_images_are_resized_and_laid_out_nhwc(tmp_path: Path) -> None:
    from PIL import Image

    from irforge.ir.graph import Model, parameter, result
    from irforge.ir.types import Type

    Image.fromarray(np.full((20, 30, 3), 7, np.uint8), mode="RGB").save(tmp_path / "a.jpg")
    p = parameter(Type.f32, [1, 10, 12, 3], "img")
    model = Model([result(p.output(0))], [p])
    (arr,), = list(open_dataset(tmp_path, model))
    assert arr.shape == (1, 10, 12, 3) and np.allclose(arr, 7.0, atol=1.0)


def test_npy_rows_npz_inputs_and_folders(tmp_path: Path, digits_model: Model, digits_data: digits.Digits) -> None:
    x = digits_data.x["val"][:7]
    np.save(tmp_path / "a.npy", x)  # 7 rows -> 7 samples
    np.savez(tmp_path / "b.npz", x=x[:3])  # by input name
    np.save(tmp_path / "c.npy", x[0, 0])  # one sample without batch and channel axes is not a fit...
    with pytest.raises(DataError, match="c.npy.*input 'x' expects f32\\[\\?,1,8,8\\], got float32\\[8, 8\\]"):
        list(open_dataset(tmp_path, digits_model))
    (tmp_path / "c.npy").unlink()
    np.save(tmp_path / "c.npy", x[0])  # [1, 8, 8]: one sample, the batch axis added
    samples = list(open_dataset(tmp_path, digits_model))
    assert len(samples) == 7 + 3 + 1 and all(s[0].shape == (1, 1, 8, 8) for s in samples)
    np.testing.assert_array_equal(samples[3][0], x[3:4])
    assert open_dataset(tmp_path, digits_model).count_samples() == 11


def test_class_folders_give_labels(tmp_path: Path, digits_model: Model, digits_data: digits.Digits) -> None:
    for cls in ("cat", "dog"):
        write_digit_pngs(tmp_path / cls, digits_data.x["val"][:2])
    ds = open_dataset(tmp_path, digits_model, labels_from_folders=True)
    assert ds.classes == ["cat", "dog"] and [lbl for _, lbl in ds.with_labels()] == [0, 0, 1, 1]


def test_labels_files(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("3\n1\n\n# note\n2, extra\n")
    assert read_labels(tmp_path / "l.txt").tolist() == [3, 1, 2]
    np.save(tmp_path / "l.npy", np.array([[1, 2]]))
    assert read_labels(tmp_path / "l.npy").tolist() == [1, 2]
    (tmp_path / "bad.txt").write_text("1\ncat\n")
    with pytest.raises(DataError, match="line 2: 'cat' is not an integer"):
        read_labels(tmp_path / "bad.txt")
    with pytest.raises(DataError, match="3 labels for 4 validation samples"):
        check_label_count([1, 2, 3], 4, "--labels l.txt")


def test_bad_data_errors(tmp_path: Path, digits_model: Model) -> None:
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(tmp_path / "missing", digits_model)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="'.*empty' is empty"):
        open_dataset(tmp_path / "empty", digits_model)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot decode image '.*x.png'"):
        list(open_dataset(tmp_path / "broken", digits_model))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported data file '.*notes.txt'"):
        open_dataset(tmp_path / "other", digits_model)
    (tmp_path / "shape").mkdir()
    np.save(tmp_path / "shape" / "a.npy", np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(DataError, match="a.npy: input 'x' expects f32\\[\\?,1,8,8\\], got float32\\[2, 3, 8, 8\\] "
                                        "\\(dim 1 is 3, expected 1\\)"):
        list(open_dataset(tmp_path / "shape", digits_model))


def test_items_in_memory(digits_model: Model) -> None:
    x = np.zeros((1, 1, 8, 8), np.float64)
    assert to_sample({"x": x}, digits_model, "item 0")[0].dtype == np.float32
    assert to_sample([x], digits_model, "item 0")[0].shape == (1, 1, 8, 8)
    with pytest.raises(DataError, match="item 0: unknown input name\\(s\\) y"):
        to_sample({"y": x}, digits_model, "item 0")
    with pytest.raises(DataError, match="2 arrays given, the model takes 1 inputs"):
        to_sample([x, x], digits_model, "item 0")
    with pytest.raises(DataError, match="not one array"):
        list(iter_samples(np.zeros((3, 1, 8, 8)), digits_model))
    assert len(list(iter_samples([x] * 10, digits_model, limit=4))) == 4


def test_images_without_pillow(tmp_path: Path, digits_model: Model, digits_data: digits.Digits,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_digit_pngs(tmp_path, digits_data.x["val"][:1])
    real_import = builtins.__import__

    def no_pil(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(DataError, match="reading images needs Pillow, which is not installed"):
        list(open_dataset(tmp_path, digits_model))
