"""The digits CNN: a small convolutional classifier trained for a few seconds on scikit-learn's 8x8 digits, the
accuracy fixture of the quantization tests and benchmark. The ONNX export and the data split are cached under
tests/.cache/quantization, keyed by this file's source and the torch version, and written atomically (pytest -n
workers may build them at once)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tests.util import write_atomic

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "quantization"
SPLITS = {"train": 1000, "val": 400, "test": 397}  # 1797 images in all


class DigitsCNN(nn.Module):
    """conv(8)-relu-conv(16)-relu-maxpool-fc on 1x8x8 images of raw values 0..16 (scaled inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x / 16.0))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


@dataclass(frozen=True)
class Digits:
    onnx_path: Path
    x: dict[str, np.ndarray]  # split -> f32[N, 1, 8, 8], raw values 0..16
    y: dict[str, np.ndarray]  # split -> i64[N]

    def samples(self, split: str, count: int | None = None) -> list[np.ndarray]:
        """One f32[1, 1, 8, 8] array per image."""
        xs = self.x[split][:count]
        return [xs[i:i + 1] for i in range(len(xs))]


def _key() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:12]


def _split() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    images = data.images[order].astype(np.float32)[:, None]
    labels = data.target[order].astype(np.int64)
    xs, ys, start = {}, {}, 0
    for name, n in SPLITS.items():
        xs[name], ys[name] = images[start:start + n], labels[start:start + n]
        start += n
    return xs, ys


def _train(x: np.ndarray, y: np.ndarray) -> DigitsCNN:
    """A few seconds on one thread (more threads only contend on such small tensors)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(x, y)
    finally:
        torch.set_num_threads(threads)


def _fit(x: np.ndarray, y: np.ndarray) -> DigitsCNN:
    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    for _ in range(25):
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


def load() -> Digits:
    """The trained digits CNN (ONNX, dynamic batch, input 'x', output 'logits') and its data split."""
    key = _key()
    onnx_path = CACHE_DIR / f"digits-{key}.onnx"
    data_path = CACHE_DIR / f"digits-{key}.npz"
    if not (onnx_path.is_file() and data_path.is_file()):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        xs, ys = _split()
        model = _train(xs["train"], ys["train"])
        write_atomic(data_path, lambda p: np.savez(p, **{f"x_{k}": v for k, v in xs.items()},
                                                     **{f"y_{k}": v for k, v in ys.items()}))
        write_atomic(onnx_path, lambda p: torch.onnx.export(
            model, (torch.from_numpy(xs["train"][:1]),), p, dynamo=False, input_names=["x"],
            output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17))
    with np.load(data_path) as z:
        xs = {k: z[f"x_{k}"] for k in SPLITS}
        ys = {k: z[f"y_{k}"] for k in SPLITS}
    return Digits(onnx_path, xs, ys)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits.reshape(len(labels), -1), axis=1) == labels))
