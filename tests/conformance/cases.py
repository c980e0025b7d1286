"""The ONNX backend node cases shipped with the `onnx` package, filtered to the ops irforge commits to."""
from __future__ import annotations

import functools

import onnx.backend.test.case.node as node_cases

# The ONNX ops the foundation issue lists (irforge must convert each of them).
REQUIRED_OPS = set("""
Abs Acos Add And ArgMax ArgMin AveragePool BatchNormalization Cast Ceil Clip Concat Constant ConstantOfShape Conv
ConvTranspose Cos CumSum DepthToSpace Div Dropout Einsum Elu Equal Erf Exp Expand Flatten Floor GRU Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalMaxPool Greater GreaterOrEqual HardSigmoid HardSwish
Identity If InstanceNormalization LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LSTM MatMul Max
MaxPool Mean Min Mish Mod Mul Neg NonZero Not OneHot Or Pad Pow PRelu Range Reciprocal ReduceL2 ReduceMax ReduceMean
ReduceMin ReduceProd ReduceSum Relu Reshape Resize ScatterElements ScatterND Selu Shape Sigmoid Sign Sin Size Slice
Softmax Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile TopK Transpose Unsqueeze Upsample Where Xor
QuantizeLinear DequantizeLinear
""".split())


def _ops_of(graph) -> set[str]:  # type: ignore[no-untyped-def]
    ops = set()
    for n in graph.node:
        ops.add(n.op_type)
        for a in n.attribute:
            if a.type == a.GRAPH:
                ops |= _ops_of(a.g)
    return ops


@functools.cache
def all_cases() -> list:  # type: ignore[type-arg]
    return sorted(node_cases.collect_testcases(None), key=lambda c: c.name)


def _tensors_only(graph) -> bool:  # type: ignore[no-untyped-def]
    """Sequence- and optional-typed graph inputs/outputs are outside the IR's tensor world."""
    return all(v.type.HasField("tensor_type") for v in list(graph.input) + list(graph.output))


@functools.cache
def in_scope_cases() -> list:  # type: ignore[type-arg]
    """Cases on tensors (not sequences or optionals) whose ops are all required or translated by irforge: every
    case of every op irforge claims, the expanded function-body variants included."""
    from irforge.frontends.onnx.registry import supported_ops

    claimed = REQUIRED_OPS | set(supported_ops())
    return [c for c in all_cases()
            if _ops_of(c.model.graph) and _ops_of(c.model.graph) <= claimed and _tensors_only(c.model.graph)]
