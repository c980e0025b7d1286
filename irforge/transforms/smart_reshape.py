"""Smart reshape: before a model gets new input shapes, hard-coded targets that only fit the old shapes are
relaxed, as OpenVINO's `Model.reshape` does (its SmartReshape, ReshapeAMatMul/ReshapeBMatMul).

A 2-D Reshape with a constant target feeding a MatMul (`Reshape([1, 9216]) -> MatMul(W)`, how caffe2 and older
exporters flatten before a fully connected layer) gets the target `[-1, K]`, K being the contraction dimension
of the MatMul's other input: the batch becomes whatever the new input shape gives, and the result is unchanged
for the old shapes. OpenVINO computes K with ShapeOf of the other input; here the other input's dimension must
be static (a weight), and the constant is written directly."""
from __future__ import annotations

import numpy as np

from irforge.ir.graph import Model, constant
from irforge.transforms.graph_edit import erase_if_dead


def relax_reshapes_before_matmul(model: Model) -> int:
    """Relax every hard-coded 2-D Reshape target feeding a MatMul; returns how many were relaxed."""
    count = 0
    for node in model.ops():
        if node.type != "MatMul":
            continue
        ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
        for pos in (0, 1):
            reshape = node.inputs[pos].node
            target_node = reshape.inputs[1].node if reshape.type == "Reshape" else None
            if target_node is None or target_node.type != "Constant":
                continue
            out_shape = reshape.outputs[0].shape
            other = node.inputs[1 - pos]
            if not out_shape.rank_is_static or out_shape.rank != 2 or not other.shape.rank_is_static \
                    or other.shape.rank != 2 or other.node.type in ("Transpose", "Reshape"):
                continue
            # the other input's contraction axis (OpenVINO's raw index, normalized for a 2-D tensor)
            axis = ((-1 if tb else -2) if pos == 0 else (-2 if ta else -1)) + 2
            k = other.shape[axis]
            if k.is_dynamic:
                continue
            contraction_first = ta if pos == 0 else not tb
            target = [k.min, -1] if contraction_first else [-1, k.min]
            if list(np.asarray(target_node.data).reshape(-1)) == target:
                continue
            new_target = constant(np.array(target, np.int64), name=target_node.name)
            reshape.set_input(1, new_target)
            erase_if_dead(target_node)
            count += 1
    return count
