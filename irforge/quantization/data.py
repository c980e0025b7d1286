"""Datasets read from disk: a `.npy`/`.npz` file, an image file, or a folder of them (sorted by name; with
`labels_from_folders`, one sub-folder per class). Files are read lazily, one at a time, so a large folder costs
only what is used. Images are decoded with Pillow (an optional dependency: `pip install irforge[images]`),
resized to the model's input height and width and laid out as the input wants (NCHW or NHWC, 1 or 3 channels),
as raw 0..255 values: the normalization is the IR's own embedded mean/scale.

An `.npy` array that fits the input with a leading batch axis is one item per row ([N, C, H, W] -> N items of
[1, C, H, W]); an `.npz` holds one array per input name (or one array for a one-input model), split the same way.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irforge.ir.graph import Model, Output
from irforge.quantization.errors import DataError
from irforge.quantization.samples import Sample, fit_input, input_name, to_sample

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
ARRAY_EXTENSIONS = frozenset({".npy", ".npz"})


@dataclass
class FileDataset:
    """The samples stored in `files` (with one label per file when read from class folders)."""

    model: Model
    files: list[Path]
    file_labels: list[int] | None = None
    classes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Sample]:
        for path in self.files:
            yield from read_file(path, self.model)

    def with_labels(self) -> Iterator[tuple[Sample, int | None]]:
        for k, path in enumerate(self.files):
            label = self.file_labels[k] if self.file_labels is not None else None
            for sample in read_file(path, self.model):
                yield sample, label

    def __len__(self) -> int:
        """The number of files (a file may hold several samples)."""
        return len(self.files)

    def count_samples(self) -> int:
        """How many samples the files hold (array headers only; an image is one sample)."""
        return sum(_samples_in(path, self.model) for path in self.files)


def _samples_in(path: Path, model: Model) -> int:
    ext = path.suffix.lower()
    try:
        if ext == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            return int(arr.shape[0]) if arr.ndim and len(model.inputs) == 1 and _row_fits(arr, model.inputs[0]) else 1
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                first = z[z.files[0]] if z.files else None
            return int(first.shape[0]) if first is not None and first.ndim else 1
    except Exception:  # noqa: BLE001 - a broken file is reported when it is read
        return 1
    return 1


def open_dataset(path: str | os.PathLike[str], model: Model, labels_from_folders: bool = False) -> FileDataset:
    """A dataset over `path` (a file or a folder); errors for a missing path, an empty folder or an unsupported
    file name them."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"data path '{root}' does not exist")
    if root.is_file():
        if labels_from_folders:
            raise DataError(f"labels from folders need a folder of class sub-folders, '{root}' is a file")
        _check_extension(root)
        return FileDataset(model, [root])
    if labels_from_folders:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise DataError(f"data folder '{root}' has no class sub-folders (needed for labels from folders)")
        files, labels = [], []
        for k, cls in enumerate(classes):
            found = _data_files(root / cls)
            files += found
            labels += [k] * len(found)
        if not files:
            raise DataError(f"data folder '{root}' holds no data files in its class sub-folders")
        return FileDataset(model, files, labels, classes)
    files = _data_files(root)
    if not files:
        raise DataError(f"data folder '{root}' is empty (expected images or .npy/.npz files)")
    return FileDataset(model, files)


def _data_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files:
        _check_extension(p)
    return files


def _check_extension(path: Path) -> None:
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS and ext not in ARRAY_EXTENSIONS:
        raise DataError(f"unsupported data file '{path}' (expected images "
                        f"({', '.join(sorted(IMAGE_EXTENSIONS))}) or .npy/.npz arrays)")


def read_file(path: Path, model: Model) -> list[Sample]:
    ext = path.suffix.lower()
    if ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - any read failure is the file's fault
            raise DataError(f"cannot read '{path}': {e}") from e
        return split_rows({input_name(model.inputs[0]): arr} if len(model.inputs) == 1 else arr, model, str(path))
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001
            raise DataError(f"cannot read '{path}': {e}") from e
        if len(model.inputs) == 1 and len(arrays) == 1:
            arrays = {input_name(model.inputs[0]): next(iter(arrays.values()))}
        return split_rows(arrays, model, str(path))
    return [[decode_image(path, model)]]


def split_rows(arrays: object, model: Model, where: str) -> list[Sample]:
    """The items stored in one file: per row of a leading batch axis when a row fits the model, else the whole
    arrays as one item."""
    if not isinstance(arrays, dict):
        raise DataError(f"{where}: a model with {len(model.inputs)} inputs needs an .npz with one array per input "
                        f"({', '.join(input_name(p) for p in model.inputs)})")
    params = model.inputs
    by_port = {}
    for p in params:
        found = [k for k in arrays if k in p.names or k == p.node.name]
        if not found:
            raise DataError(f"{where}: no array for input '{input_name(p)}' (arrays: {', '.join(arrays)})")
        by_port[id(p)] = np.asarray(arrays[found[0]])
    counts = {a.shape[0] if a.ndim else -1 for a in by_port.values()}
    if len(counts) == 1 and (n := counts.pop()) > 0 and all(_row_fits(by_port[id(p)], p) for p in params):
        return [[fit_input(by_port[id(p)][i:i + 1], p, f"{where} row {i}") for p in params] for i in range(n)]
    return [to_sample({input_name(p): by_port[id(p)] for p in params}, model, where)]


def _row_fits(arr: np.ndarray, port: Output) -> bool:
    shape = port.shape
    if arr.ndim == 0 or not shape.rank_is_static or arr.ndim != shape.rank:
        return False
    return shape[0].compatible(1) and all(d.compatible(int(n)) for d, n in zip(shape.dims[1:], arr.shape[1:]))


# ---------------------------------------------------------------- images
def image_layout(port: Output) -> tuple[str, int, int | None, int | None]:
    """(layout NCHW|NHWC, channels, height, width) of an image input; heights/widths None when dynamic."""
    shape = port.shape
    name = input_name(port)
    if not shape.rank_is_static or shape.rank != 4:
        raise DataError(f"images need a 4-D image input, input '{name}' is {port.element_type}[{shape}]")
    c1, c3 = shape[1], shape[3]
    if c1.is_static and c1.min in (1, 3):
        layout, channels, h, w = "NCHW", c1.min, shape[2], shape[3]
    elif c3.is_static and c3.min in (1, 3):
        layout, channels, h, w = "NHWC", c3.min, shape[1], shape[2]
    else:
        raise DataError(f"cannot tell the image layout of input '{name}' {port.element_type}[{shape}] "
                        f"(expected 1 or 3 channels at dim 1 or dim 3)")
    return layout, channels, (h.min if h.is_static else None), (w.min if w.is_static else None)


def decode_image(path: Path, model: Model) -> np.ndarray:
    if len(model.inputs) != 1:
        raise DataError(f"images are data for one-input models; the model takes {len(model.inputs)} inputs "
                        f"({', '.join(input_name(p) for p in model.inputs)}): use .npz files")
    try:
        from PIL import Image
    except ImportError as e:
        raise DataError(f"reading images needs Pillow, which is not installed (pip install pillow, or "
                        f"irforge[images]); cannot read '{path}'") from e
    port = model.inputs[0]
    layout, channels, h, w = image_layout(port)
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if h is not None and w is not None and img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            arr = np.asarray(img)
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a broken file
        raise DataError(f"cannot decode image '{path}': {e}") from e
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = arr.transpose(2, 0, 1)[None] if layout == "NCHW" else arr[None]
    dtype = port.element_type.dtype
    return np.ascontiguousarray(arr.astype(dtype if dtype is not None else np.float32))


# ---------------------------------------------------------------- labels
def read_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """Integer labels: an .npy array, or a text file with one label per line (the first field of a CSV line)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"labels file '{p}' does not exist")
    if p.suffix.lower() == ".npy":
        try:
            labels = np.load(p, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise DataError(f"cannot read labels '{p}': {e}") from e
        if labels.dtype.kind not in "iu":
            raise DataError(f"labels '{p}' must be integers, got {labels.dtype}")
        return labels.reshape(-1).astype(np.int64)
    values = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        text = line.split(",")[0].strip()
        if not text or text.startswith("#"):
            continue
        try:
            values.append(int(text))
        except ValueError as e:
            raise DataError(f"labels '{p}' line {n}: '{text}' is not an integer class index") from e
    if not values:
        raise DataError(f"labels file '{p}' holds no labels")
    return np.asarray(values, np.int64)


def check_label_count(labels: Sequence[int] | np.ndarray, samples: int, where: str) -> None:
    if len(labels) != samples:
        raise DataError(f"{where}: {len(labels)} labels for {samples} validation samples")
