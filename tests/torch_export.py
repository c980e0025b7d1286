"""Small torch modules and functions exported to ONNX in memory with the TorchScript exporter (`dynamo=False`), for
tests that need real exporter output."""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx
import torch
from torch import nn


class FnModule(nn.Module):
    """A function as a module; `mods` and modules among the function's default arguments become submodules
    (so their weights export as initializers)."""

    def __init__(self, fn: Callable[..., object], *mods: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        defaults = [d for d in (getattr(fn, "__defaults__", None) or ()) if isinstance(d, nn.Module)]
        self.mods = nn.ModuleList([*mods, *defaults])

    def forward(self, *xs: torch.Tensor) -> object:
        return self.fn(*xs)


def export_onnx(module: nn.Module | Callable[..., object], inputs: Sequence[np.ndarray | torch.Tensor], *,
                opset: int = 13, input_names: Sequence[str] | None = None,
                dynamic_axes: Mapping[str, Mapping[int, str]] | None = None, fold_constants: bool = True,
                mods: Sequence[nn.Module] = ()) -> onnx.ModelProto:
    """`module` (or a function of the inputs) exported in eval mode on `inputs`; `fold_constants=False` keeps
    the constant sub-graphs (and eval-mode BatchNorms) torch would fold."""
    if not isinstance(module, nn.Module):
        module = FnModule(module, *mods)
    module.eval()
    args = tuple(torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in inputs)
    f = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, args, f, opset_version=opset, dynamo=False,
                          input_names=list(input_names) if input_names else None,
                          dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()} if dynamic_axes else None,
                          do_constant_folding=fold_constants)
    return onnx.load_from_string(f.getvalue())
