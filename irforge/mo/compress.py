"""`--compress-to-fp16`: f32 weights stored as f16, exactly as OpenVINO writes them: a Const `NAME_compressed`
(f16) feeding `Convert(destination_type=f32)` named NAME with rt_info `decompression`. Constants whose values
mostly overflow f16, and shape-like constants, stay f32; a model that already holds FakeQuantize or compressed
weights is left alone."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, Node, constant, make
from irforge.ir.types import Type

F16_MAX = float(np.finfo(np.float16).max)
# inputs whose values are shapes/scales rather than weights: compressing them would change shapes
_PRECISION_SENSITIVE = {("Interpolate", 1), ("Interpolate", 2), ("Range", 0), ("Range", 1), ("Range", 2)}


def _keep_f32(node: Node) -> bool:
    data = node.data
    assert data is not None
    if data.size and np.mean(np.abs(data[np.isfinite(data)]) > F16_MAX) > 0.5:
        return True
    out = node.outputs[0]
    return any((c.type, i) in _PRECISION_SENSITIVE for c, i in out.uses)


def compress_to_fp16(model: Model) -> int:
    """Compress every eligible f32 Constant; returns how many were compressed."""
    nodes = model.nodes()
    if any(n.type == "FakeQuantize" or "decompression" in n.rt_info for n in nodes):
        return 0
    count = 0
    for node in nodes:
        if node.type != "Constant" or node.attrs["element_type"] != Type.f32 or not node.outputs[0].uses:
            continue
        if _keep_f32(node):
            continue
        assert node.data is not None
        with np.errstate(over="ignore"):
            half = constant(node.data.astype(np.float16), name=f"{node.name}_compressed")
        conv = make("Convert", [half], name=node.name, destination_type=Type.f32)
        conv.rt_info["decompression"] = {"version": "0"}
        conv.output(0).names = set(node.outputs[0].names)
        node.outputs[0].replace_all_uses_with(conv.output(0))
        count += 1
    return count
