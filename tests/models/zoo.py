"""A small model zoo defined in code: PyTorch architectures with deterministic weights, exported to ONNX with
the TorchScript exporter (`dynamo=False`) at opsets 11, 13 and 17 (torch 2.13 exports every model at all three).
Exports are cached under tests/.cache/zoo, keyed by model, opset, torch version and this file's source, and written
atomically (pytest -n workers may export the same file at once)."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tests.util import write_atomic

OPSETS = (11, 13, 17)
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "zoo"


def _init(seed: int, factory: Callable[[], nn.Module]) -> nn.Module:
    """Build under a fixed seed (so every parameter, RNN weights included, is deterministic), then give
    BatchNorm non-trivial running stats and affine parameters (a wrong BatchNorm, or a wrong fold of it into the
    convolution, changes the outputs) and LayerNorm a non-trivial affine transform."""
    torch.manual_seed(seed)
    model = factory()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.3, 2.0)
        elif isinstance(m, nn.LayerNorm):
            with torch.no_grad():
                m.weight.uniform_(0.7, 1.3)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: nn.Module | None = None
             ) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act)
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, 3, stride, act=nn.ReLU()), _conv_bn(cout, cout, 3))
        self.down = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.down(x))


class ResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 16, 3, act=nn.ReLU()), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


# ---------------------------------------------------------------- MobileNetV3
class SqueezeExcite(nn.Module):
    def __init__(self, ch: int, squeezed: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(ch, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, ch, 1)
        self.relu = nn.ReLU()
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, k: int, stride: int, se: bool, act: type[nn.Module]
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(_conv_bn(cin, hidden, 1, act=act()))
        layers.append(_conv_bn(hidden, hidden, k, stride, groups=hidden, act=act()))
        if se:
            layers.append(SqueezeExcite(hidden, max(8, hidden // 4)))
        layers.append(_conv_bn(hidden, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        hs, re = nn.Hardswish, nn.ReLU
        self.features = nn.Sequential(
            _conv_bn(3, 16, 3, 2, act=hs()),
            InvertedResidual(16, 16, 16, 3, 2, True, re),
            InvertedResidual(16, 64, 24, 3, 2, False, re),
            InvertedResidual(24, 72, 24, 3, 1, False, re),
            InvertedResidual(24, 96, 40, 5, 2, True, hs),
            InvertedResidual(40, 120, 40, 5, 1, True, hs),
            _conv_bn(40, 96, 1, act=hs()),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Linear(96, 128), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


# ---------------------------------------------------------------- YOLO-style detector
def _conv_silu(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return _conv_bn(cin, cout, k, stride, act=nn.SiLU())


class C2f(nn.Module):
    """YOLOv8's split-transform-concat block: chunk into two halves, refine one, concat everything."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.c = cout // 2
        self.cv1 = _conv_silu(cin, 2 * self.c, 1)
        self.m = nn.Sequential(_conv_silu(self.c, self.c), _conv_silu(self.c, self.c))
        self.cv2 = _conv_silu(3 * self.c, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat([a, b, b + self.m(b)], 1))


class SPPF(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.cv1 = _conv_silu(ch, ch // 2, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.cv2 = _conv_silu(ch * 2, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y0 = self.cv1(x)
        y1 = self.pool(y0)
        y2 = self.pool(y1)
        return self.cv2(torch.cat([y0, y1, y2, self.pool(y2)], 1))


class Yolo(nn.Module):
    """Two-level detector with an anchor-free head; boxes are decoded against a grid built from the dynamic
    feature-map size (Shape -> Range), so height and width stay dynamic in the export."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.classes = classes
        self.b1 = nn.Sequential(_conv_silu(3, 8, 3, 2), _conv_silu(8, 16, 3, 2), C2f(16, 16))  # /4
        self.b2 = nn.Sequential(_conv_silu(16, 32, 3, 2), C2f(32, 32), SPPF(32))  # /8
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n1 = C2f(32 + 16, 16)
        self.down = _conv_silu(16, 16, 3, 2)
        self.n2 = C2f(16 + 32, 32)
        self.heads = nn.ModuleList([nn.Conv2d(16, 4 + classes, 1), nn.Conv2d(32, 4 + classes, 1)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p1 = self.b1(x)
        p2 = self.b2(p1)
        f1 = self.n1(torch.cat([self.up(p2), p1], 1))
        f2 = self.n2(torch.cat([self.down(f1), p2], 1))
        outs = []
        for feat, head, stride in ((f1, self.heads[0], 4.0), (f2, self.heads[1], 8.0)):
            y = head(feat)
            n, c, h, w = y.shape
            ys = torch.arange(h, dtype=torch.float32).view(1, h, 1).expand(1, h, w).reshape(1, 1, -1)
            xs = torch.arange(w, dtype=torch.float32).view(1, 1, w).expand(1, h, w).reshape(1, 1, -1)
            grid = torch.cat([xs, ys], 1) + 0.5
            y = y.view(n, c, -1)
            box, cls = torch.split(y, [4, self.classes], 1)
            lt, rb = box.chunk(2, 1)
            xy = (grid + (rb - lt) / 2) * stride
            wh = (lt + rb).exp() * stride
            outs.append(torch.cat([xy, wh, cls.sigmoid()], 1))
        det = torch.cat(outs, 2)
        return det, det[:, 4:].amax(1)


# ---------------------------------------------------------------- BERT-style encoder
class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.dh = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, s = t.size(0), t.size(1)
        return t.view(b, s, self.heads, self.dh).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + mask
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.size(0), ctx.size(1), self.heads * self.dh)
        return self.norm(x + self.out(ctx))


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attn = SelfAttention(hidden, heads)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.attn(x, mask)
        return self.norm(x + self.ffn(x))


class Bert(nn.Module):
    def __init__(self, vocab: int = 100, hidden: int = 64, heads: int = 4, layers: int = 2, max_pos: int = 32
                 ) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.segment = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, 4 * hidden) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(input_ids.size(1), dtype=torch.long).unsqueeze(0)
        token_type = torch.zeros_like(input_ids)
        x = self.norm(self.tok(input_ids) + self.pos(positions) + self.segment(token_type))
        # HF's extended attention mask: [B, 1, 1, S], 0 where attended, dtype-min where masked
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, ext)
        return x, torch.tanh(self.pooler(x[:, 0]))


# ---------------------------------------------------------------- recurrent
class Recurrent(nn.Module):
    def __init__(self, cell: type[nn.LSTM] | type[nn.GRU]) -> None:
        super().__init__()
        self.rnn = cell(8, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.head(y)


# ---------------------------------------------------------------- UNet
class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(_conv_bn(cin, cout, act=nn.ReLU()), _conv_bn(cout, cout, act=nn.ReLU()))

        self.e1, self.e2, self.mid = double(3, 8), double(8, 16), double(16, 32)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.d2 = double(32, 16)
        # kernel 3 / padding 1 / output_padding 1 exercises the remaining ConvTranspose attributes
        self.up1 = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.d1 = double(16, 8)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.e1(x)
        s2 = self.e2(self.pool(s1))
        m = self.mid(self.pool(s2))
        y = self.d2(torch.cat([self.up2(m), s2], 1))
        y = self.d1(torch.cat([self.up1(y), s1], 1))
        return self.out(y)


# ---------------------------------------------------------------- data-dependent If
class IfModel(nn.Module):
    """Scripted so that `if x.sum() > 0` stays a real branch: the export holds an ONNX If node."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        if x.sum() > 0:
            z = torch.relu(y) * 2.0
        else:
            z = torch.sigmoid(y) - 1.0
        return z + 1.0


# ---------------------------------------------------------------- registry
Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class ZooModel:
    name: str
    build: Callable[[], nn.Module]
    input_sets: Callable[[], list[Inputs]]  # the first set is the export example
    outputs: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    atol: float = 1e-4
    rtol: float = 1e-4
    script: bool = False  # torch.jit.script before export (keeps data-dependent control flow)
    # torch's constant folding fuses eval-mode BatchNorm into Conv: off for the CNNs, so BatchNormalization
    # (with its non-trivial running stats) reaches the converter
    constant_folding: bool = True

    @property
    def input_names(self) -> list[str]:
        return list(self.input_sets()[0])


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _images(*shapes: tuple[int, ...]) -> Callable[[], list[Inputs]]:
    """Standard-normal f32 tensors named "input" (images, or [batch, seq, features] sequences)."""
    return lambda: [{"input": _rng(i).standard_normal(s).astype(np.float32)} for i, s in enumerate(shapes)]


def _bert_inputs() -> list[Inputs]:
    sets = []
    for i, (b, s) in enumerate(((2, 7), (1, 16))):
        ids = _rng(10 + i).integers(0, 100, (b, s), dtype=np.int64)
        mask = np.ones((b, s), np.int64)
        mask[0, s - 2:] = 0  # padding at the end of the first sequence
        sets.append({"input_ids": ids, "attention_mask": mask})
    return sets


def _if_inputs() -> list[Inputs]:
    x = np.abs(_rng(5).standard_normal((3, 6))).astype(np.float32)
    return [{"input": x}, {"input": -x}]  # both branches


_IMAGE_AXES = {0: "batch", 2: "height", 3: "width"}
_SEQ_AXES = {0: "batch", 1: "seq"}

MODELS: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("resnet", lambda: _init(1, ResNet), _images((2, 3, 32, 32)), ("logits",),
             {"input": {0: "batch"}, "logits": {0: "batch"}}, constant_folding=False),
    ZooModel("mobilenetv3", lambda: _init(2, MobileNetV3), _images((1, 3, 64, 64)), ("logits",),
             constant_folding=False),
    ZooModel("yolo", lambda: _init(3, Yolo), _images((1, 3, 64, 64), (2, 3, 96, 128)), ("det", "score"),
             {"input": _IMAGE_AXES, "det": {0: "batch", 2: "anchors"}, "score": {0: "batch", 1: "anchors"}},
             constant_folding=False),
    ZooModel("bert", lambda: _init(4, Bert), _bert_inputs, ("last_hidden_state", "pooler_output"),
             {"input_ids": _SEQ_AXES, "attention_mask": _SEQ_AXES, "last_hidden_state": _SEQ_AXES,
              "pooler_output": {0: "batch"}}),
    ZooModel("lstm", lambda: _init(5, lambda: Recurrent(nn.LSTM)), _images((2, 5, 8), (1, 9, 8)), ("output",),
             {"input": _SEQ_AXES, "output": _SEQ_AXES}),
    ZooModel("gru", lambda: _init(6, lambda: Recurrent(nn.GRU)), _images((2, 5, 8), (1, 9, 8)), ("output",),
             {"input": _SEQ_AXES, "output": _SEQ_AXES}),
    ZooModel("unet", lambda: _init(7, UNet), _images((1, 3, 32, 32)), ("mask",), constant_folding=False),
    ZooModel("ifmodel", lambda: _init(8, IfModel), _if_inputs, ("output",),
             {"input": {0: "batch"}, "output": {0: "batch"}}, script=True),
)}


def _source_key() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:12]


def export(name: str, opset: int) -> Path:
    """The ONNX file of zoo model `name` at `opset` (exported once, then served from the cache)."""
    spec = MODELS[name]
    path = CACHE_DIR / f"{name}-opset{opset}-{_source_key()}.onnx"
    if path.is_file():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    model = spec.build()
    if spec.script:
        model = torch.jit.script(model)
    example = tuple(torch.from_numpy(v) for v in spec.input_sets()[0].values())

    def write(tmp: str) -> None:
        with torch.no_grad():
            torch.onnx.export(model, example, tmp, dynamo=False, opset_version=opset,
                              input_names=spec.input_names, output_names=list(spec.outputs),
                              dynamic_axes=spec.dynamic_axes or None, do_constant_folding=spec.constant_folding)

    write_atomic(path, write)
    for stale in CACHE_DIR.glob(f"{name}-opset{opset}-*.onnx"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def torch_outputs(name: str, inputs: Inputs) -> list[np.ndarray]:
    """The PyTorch model's own outputs (a sanity check of the export itself)."""
    model = MODELS[name].build()
    with torch.no_grad():
        out = model(*(torch.from_numpy(v) for v in inputs.values()))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]
