"""MaxPool and AvgPool (1-D to 3-D) with torch's pooling kernels (channels-last aware).

The window geometry (resolved pads, output sizes, OpenVINO's ceil rounding) comes from the IR op's own helper
for the plan's static shape. torch's padding is used when it is symmetric and reproduces those sizes; otherwise
the input is padded explicitly (the lowest finite value for MaxPool, zeros for AvgPool with pads counted) and
pooled without padding. MaxPool's indices output, when used, keeps the reference kernel.

NaN (the CPU device's NaN rule, see the package docstring): MaxPool skips NaN as REF and OpenVINO do (REF follows
OpenVINO's reference: a window's search starts from the lowest finite value and only a greater value replaces it,
so a NaN never wins and a window of NaN or -inf only gives the lowest finite value; oneDNN's pooling in a compiled
oneDNN Graph partition computes the same). ATen's max pooling propagates NaN, so its input gets NaN and -inf
replaced by the lowest finite value first (`_skip_nan`: ~14% of a 112x112x64 pool's time at 1 thread, nothing
measurable on a model)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from irforge.ir.graph import Node
from irforge.ir.ops.pooling import _Window
from irforge.runtime.devices.cpu.builder import BuildContext
from irforge.runtime.devices.cpu.graph_view import GraphView
from irforge.runtime.devices.cpu.registry import Built, Match, NodeLowering, lowers

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _torch_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """torch's pooled length (ceil mode never starts a window in the end padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PoolBase(NodeLowering):
    def supports(self, node: Node, g: GraphView) -> bool:
        shape = g.static_shape(node.inputs[0])
        if shape is None or not 3 <= len(shape) <= 5 or node.inputs[0].element_type.name not in ("f32", "bf16"):
            return False
        if len(node.outputs) > 1 and g.uses(node.outputs[1]) or any(g.is_output(o) for o in node.outputs[1:]):
            return False
        return True

    def match(self, node: Node, g: GraphView) -> Match | None:
        if not self.supports(node, g):
            return None
        return Match(self, [node], g.runtime_inputs(node), [node.outputs[0]])


def _geometry(node: Node, g: GraphView) -> tuple[_Window, list[int], list[int], list[int]]:
    shape = g.static_shape(node.inputs[0])
    assert shape is not None
    win = _Window(node, shape)
    return win, win.kernel, win.strides, win.dilations


def _native_padding(win: _Window, ceil: bool) -> list[int] | None:
    """Symmetric torch padding reproducing the IR output sizes, if one exists."""
    pads = win.pads_begin
    if list(pads) != list(win.pads_end) or any(2 * p > k for p, k in zip(pads, win.kernel)):
        return None
    outs = [_torch_out(x, k, s, p, d, ceil) for x, k, s, p, d in
            zip(win.sizes, win.kernel, win.strides, pads, win.dilations)]
    return list(pads) if outs == list(win.out) else None


def _pad_amounts(win: _Window) -> list[int]:
    """F.pad amounts (last axis first) covering every window of the IR geometry."""
    amounts: list[int] = []
    for b, e in reversed(list(zip(win.pads_begin, win.reach_end))):
        amounts += [b, e]
    return amounts


def _padding_only_windows(win: _Window) -> bool:
    """Whether some window reads no input element (on some axis, all its taps fall in the padding)."""
    for axis, n in enumerate(win.sizes):
        hit = np.zeros(win.out[axis], dtype=bool)
        for tap in range(win.kernel[axis]):
            c = win.coords(axis, tap)
            hit |= (c >= 0) & (c < n)
        if not hit.all():
            return True
    return False


def _skip_nan(pool: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`pool` on its input with NaN and -inf replaced by the lowest finite value (REF's MaxPool semantics)."""
    def fn(x: Any) -> Any:
        lowest = torch.finfo(x.dtype).min
        return pool(torch.nan_to_num(x, nan=lowest, posinf=float("inf"), neginf=lowest))
    return fn


@lowers("MaxPool")
class MaxPoolLowering(_PoolBase):
    def build(self, ctx: BuildContext, m: Match) -> Built:
        fn, exec_type = self.kernel(ctx, m.root)
        win, k, s, d = _geometry(m.root, ctx.g)
        if exec_type == "torch_maxpool" and len(k) == 2 and s == [1, 1] and d == [1, 1] and min(k) > 1 and \
                k[0] * k[1] >= 16:
            # ATen's 2-D max pool compares the whole window per output; two 1-D passes (rows, then columns) give
            # the same maxima with kh + kw compares (SPPF's 5x5: 0.6x the time). Traced segments keep the single
            # pool, which oneDNN Graph runs as its own pooling primitive.
            pad = _native_padding(win, False) or _native_padding(win, True)
            ceil = _native_padding(win, False) is None
            assert pad is not None
            kh, kw = k
            ph, pw = pad

            def separable(x: Any) -> Any:
                rows = F.max_pool2d(x, (kh, 1), 1, (ph, 0), 1, ceil)
                return F.max_pool2d(rows, (1, kw), 1, (0, pw), 1, ceil)
            return Built(_skip_nan(separable), "torch_maxpool_separable", fresh=True, trace_fn=fn)
        return Built(fn, exec_type, fresh=True)

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        win, k, s, d = _geometry(node, ctx.g)
        pool = _MAX[len(k)]
        # a window reading padding only (dilated taps stepping over a short axis): ATen's implicit padding gives
        # -inf there, REF the lowest finite value; explicit padding with that value below gives it too
        for ceil in (False, True) if not _padding_only_windows(win) else ():
            pad = _native_padding(win, ceil)
            if pad is not None:
                return _skip_nan(lambda x: pool(x, k, s, pad, d, ceil)), "torch_maxpool"
        amounts = _pad_amounts(win)
        out = list(win.out)

        def padded(x: Any) -> Any:
            lowest = torch.finfo(x.dtype).min  # (f32's lowest overflows bf16)
            y = pool(F.pad(x, amounts, value=lowest), k, s, 0, d, False)
            return y[(...,) + tuple(slice(0, o) for o in out)]
        return _skip_nan(padded), "torch_maxpool_padded"


@lowers("AvgPool")
class AvgPoolLowering(_PoolBase):
    def supports(self, node: Node, g: GraphView) -> bool:
        if node.inputs[0].element_type.name == "bf16" and node.inputs[0].shape.rank == 5:
            return False  # ATen has no bf16 avg_pool3d on CPU
        return super().supports(node, g) and all(v == 1 for v in (node.attrs.get("dilations") or []))

    def kernel(self, ctx: BuildContext, node: Node) -> tuple[Callable[..., Any], str]:
        win, k, s, _ = _geometry(node, ctx.g)
        pool = _AVG[len(k)]
        exclude = bool(node.attrs["exclude-pad"])
        has_pads = any(win.pads_begin) or any(win.pads_end)
        overhang = any(r > e for r, e in zip(win.reach_end, win.pads_end))
        # ATen's avg_pool3d refuses an input smaller than the kernel even where padding makes room: padded below
        small = len(k) == 3 and any(n < kk for n, kk in zip(win.sizes, k))
        if (not overhang or exclude or not has_pads) and not small:
            for ceil in (False, True):
                pad = _native_padding(win, ceil)
                if pad is not None:
                    include = not exclude
                    return (lambda x: pool(x, k, s, pad, ceil, include)), "torch_avgpool"
        # explicit padding: sums over the padded input, divided per window as the reference counts
        amounts = _pad_amounts(win)
        count = torch.from_numpy(self._counts(win, exclude, has_pads).astype(np.float32))
        kernel_size = float(np.prod(k))

        def padded(x: Any) -> Any:
            total = pool(F.pad(x, amounts), k, s, 0, False, True) * kernel_size
            return total / count
        return padded, "torch_avgpool_padded"

    @staticmethod
    def _counts(win: _Window, exclude: bool, has_pads: bool) -> np.ndarray:
        count = np.zeros(tuple(win.out), np.int64)
        for off in win.offsets():
            count += win.valid(off)
        if not exclude and has_pads:
            count = np.full_like(count, int(np.prod(win.kernel)))
        return np.maximum(count, 1)
