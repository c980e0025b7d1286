"""Which input element each output element of a nearest-mode Interpolate copies, per resized axis: read off the
reference kernel itself, applied at plan time to a probe holding each position's index, so every coordinate
transformation and nearest rounding mode of the IR is reproduced exactly (the torch lowering gathers with these
indices; the native one uses oneDNN's resampling where they are its integer-factor pattern)."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Node
from irforge.runtime.devices.cpu.graph_view import GraphView


def probe_indices(node: Node, g: GraphView) -> list[tuple[int, np.ndarray]] | None:
    """(axis, source index per output position) for every axis the node resizes."""
    in_shape = g.static_shape(node.inputs[0])
    out_shape = g.static_shape(node.outputs[0])
    if in_shape is None or out_shape is None or len(in_shape) != len(out_shape):
        return None
    if 0 in in_shape or 0 in out_shape:
        return None  # nothing to gather (and no probe to read): the reference kernel
    args = [g.const(s) for s in node.inputs]
    result = []
    for axis, (n_in, n_out) in enumerate(zip(in_shape, out_shape)):
        if n_in == n_out and n_in <= 1:
            continue
        probe_shape = [1] * len(in_shape)
        probe_shape[axis] = n_in
        probe = np.arange(n_in, dtype=np.float32).reshape(probe_shape)
        probe = np.broadcast_to(probe, in_shape).astype(np.float32)
        try:
            got = node.op.evaluate(node, [probe] + args[1:])[0]  # type: ignore[list-item]
        except Exception:  # noqa: BLE001 - no fast path then
            return None
        if got.shape != tuple(out_shape):
            return None
        line = np.moveaxis(got, axis, 0).reshape(n_out, -1)
        if not np.all(line == line[:, :1]):
            return None  # not separable per axis
        idx = line[:, 0]
        if not np.all(idx == np.round(idx)):
            return None
        if n_in == n_out and np.array_equal(idx, np.arange(n_in)):
            continue
        result.append((axis, idx.astype(np.int64)))
    return result
