"""ONNX ops that vanish or become constants: Identity, Dropout (inference), Constant."""
from __future__ import annotations

import numpy as np

from irforge.frontends.onnx.context import NodeContext
from irforge.frontends.onnx.registry import onnx_op
from irforge.ir.graph import Output


@onnx_op("Identity")
def identity(ctx: NodeContext) -> Output:
    return ctx.input(0)


@onnx_op("Dropout")
def dropout(ctx: NodeContext) -> list[Output]:
    """Inference mode: the input passes through; the optional mask output is all true (all ones of the data type
    before opset 10, where the mask is T). Training mode (a random mask) is not an inference graph and is
    refused."""
    x = ctx.input(0)
    training = ctx.input_value(2) if ctx.num_inputs > 2 else None
    ratio = ctx.input_value(1) if ctx.num_inputs > 1 else None
    no_drop = ratio is not None and not np.any(ratio)
    if ctx.has_input(2) and not no_drop and (training is None or bool(np.asarray(training).reshape(-1)[0])):
        raise ctx.unsupported("training_mode=true (random dropout) is not an inference graph")
    outs = [x]
    if ctx.num_outputs > 1 and ctx.node.output[1]:
        if not x.shape.is_static:
            raise ctx.unsupported("mask output of a Dropout with a dynamic input shape")
        mask_type = bool if ctx.opset >= 10 else x.element_type.dtype
        outs.append(ctx.const(np.ones(x.shape.to_shape(), dtype=mask_type)))
    return outs


@onnx_op("Constant")
def constant_op(ctx: NodeContext) -> Output:
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if ctx.has_attr(key):
            return ctx.const(ctx.attr(key), dtype)
    raise ctx.unsupported("Constant without a value/value_float(s)/value_int(s) attribute")
