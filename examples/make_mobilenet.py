"""Builds examples/mobilenet_v2_tiny.onnx: a MobileNetV2-style classifier (width 0.35, 100 classes,
deterministic random weights with non-trivial BatchNorm statistics) exported from PyTorch at opset 13.

Run with the dev extra installed:  python examples/make_mobilenet.py
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hidden, 1, 1)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, 1, act=False)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_res else y


class MobileNetV2Tiny(nn.Module):
    # (expansion, output channels, repeats, first stride) at width 0.35, rounded to multiples of 8
    SETTINGS = [(1, 8, 1, 1), (6, 8, 2, 2), (6, 16, 3, 2), (6, 24, 4, 2), (6, 32, 3, 1), (6, 56, 3, 2), (6, 112, 1, 1)]

    def __init__(self, classes: int = 100) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, 16, 3, 2)]
        cin = 16
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 512, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(512, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


def build() -> nn.Module:
    torch.manual_seed(0)
    model = MobileNetV2Tiny()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def main() -> None:
    out = Path(__file__).with_name("mobilenet_v2_tiny.onnx")
    torch.onnx.export(build(), torch.randn(1, 3, 224, 224), str(out), dynamo=False, opset_version=13,
                      input_names=["image"], output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
