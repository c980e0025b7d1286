"""Pre-quantized ONNX files as ONNX Runtime's quantizer writes them, for the CPU device's INT8 tests and benchmarks.

The zoo's CNNs (tests/models/zoo.py: ResNet, MobileNetV3, YOLO-style) and BERT-style encoder are exported with
constant folding (eval-mode BatchNorm folded into its convolution, as a deployed model has it: ORT's quantizer
leaves an unfolded BatchNormalization in float) at static shapes, then quantized by
`onnxruntime.quantization.quantize_static` over 8 random inputs (a CalibrationDataReader, MinMax calibration) in
each `Variant`: QDQ (QuantizeLinear/DequantizeLinear pairs around every quantizable op) per tensor and per channel
with u8 or i8 activations, and QOperator (QLinearConv, QLinearMatMul, QLinearAdd, ... between QuantizeLinear and
DequantizeLinear). Weights are always i8. Files are cached under tests/.cache/qdq, keyed by the model, the variant,
this file's and zoo.py's source and the torch and onnxruntime versions, and written atomically (`write_atomic`).

`benchmarks/int8_runtime.py --qdq` quantizes its own full-size models (ResNet-50 at 224) with `quantize_file`."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tests.models import zoo
from tests.util import write_atomic

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "qdq"
CALIBRATION = 8
OPSET = 13  # per-channel QDQ needs DequantizeLinear's axis (opset 13)


@dataclass(frozen=True)
class Variant:
    """One way ORT's quantizer writes a model."""

    name: str
    qdq: bool  # QuantFormat.QDQ, else QuantFormat.QOperator
    per_channel: bool
    activation: str  # "u8" or "i8"


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("qdq_pt_u8", True, False, "u8"),
    Variant("qdq_pc_u8", True, True, "u8"),
    Variant("qdq_pc_i8", True, True, "i8"),
    Variant("qop_pc_u8", False, True, "u8"),
    Variant("qop_pt_i8", False, False, "i8"),
)}


@dataclass(frozen=True)
class QModel:
    """A float model to quantize: the module, its (static) inputs, output names."""

    name: str
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[int], dict[str, np.ndarray]]  # seed -> one input set
    outputs: tuple[str, ...]


def _image(shape: tuple[int, ...]) -> Callable[[int], dict[str, np.ndarray]]:
    return lambda seed: {"input": np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


def _tokens(batch: int, seq: int, vocab: int) -> Callable[[int], dict[str, np.ndarray]]:
    def make(seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        mask = np.ones((batch, seq), np.int64)
        mask[0, seq - 3:] = 0
        return {"input_ids": rng.integers(0, vocab, (batch, seq), dtype=np.int64), "attention_mask": mask}
    return make


MODELS: dict[str, QModel] = {m.name: m for m in (
    QModel("resnet", zoo.MODELS["resnet"].build, _image((1, 3, 32, 32)), ("logits",)),
    QModel("mobilenetv3", zoo.MODELS["mobilenetv3"].build, _image((1, 3, 64, 64)), ("logits",)),
    QModel("yolo", zoo.MODELS["yolo"].build, _image((1, 3, 64, 64)), ("det", "score")),
    QModel("bert", zoo.MODELS["bert"].build, _tokens(1, 16, 100), ("last_hidden_state", "pooler_output")),
)}


def _key(*parts: object) -> str:
    import onnxruntime

    h = hashlib.sha256(Path(__file__).read_bytes() + Path(zoo.__file__).read_bytes())
    h.update(repr((torch.__version__, onnxruntime.__version__) + parts).encode())
    return h.hexdigest()[:12]


def export_float(model: torch.nn.Module, example: dict[str, np.ndarray], outputs: tuple[str, ...], path: Path
                 ) -> Path:
    """`model` as ONNX at OPSET with static shapes and constant folding (BatchNorm folded), written atomically."""
    if path.is_file():
        return path
    args = tuple(torch.from_numpy(v) for v in example.values())

    def write(tmp: str) -> None:
        with torch.no_grad():
            torch.onnx.export(model, args, tmp, dynamo=False, opset_version=OPSET, input_names=list(example),
                              output_names=list(outputs), do_constant_folding=True)
    write_atomic(path, write)
    return path


def quantize_file(src: Path, dst: Path, variant: Variant, calibration: list[dict[str, np.ndarray]]) -> Path:
    """`src` quantized by ORT's quantize_static in `variant` (i8 weights), written atomically to `dst`."""
    if dst.is_file():
        return dst
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    act = QuantType.QUInt8 if variant.activation == "u8" else QuantType.QInt8

    def write(tmp: str) -> None:
        quantize_static(str(src), tmp, Reader(), quant_format=QuantFormat.QDQ if variant.qdq else
                        QuantFormat.QOperator, per_channel=variant.per_channel, activation_type=act,
                        weight_type=QuantType.QInt8)
    write_atomic(dst, write)
    return dst


def float_path(name: str) -> Path:
    spec = MODELS[name]
    return export_float(spec.build(), spec.inputs(0), spec.outputs,
                        CACHE_DIR / f"{name}-f32-{_key(name)}.onnx")


def quantized(name: str, variant: str) -> Path:
    """The ONNX file of zoo model `name` quantized by ORT in VARIANTS[variant] (built once, then cached)."""
    spec = MODELS[name]
    dst = CACHE_DIR / f"{name}-{variant}-{_key(name, variant)}.onnx"
    if dst.is_file():
        return dst
    return quantize_file(float_path(name), dst, VARIANTS[variant],
                         [spec.inputs(100 + i) for i in range(CALIBRATION)])
