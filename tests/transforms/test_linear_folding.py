"""Weight folding on real graphs (irforge/transforms/linear_folding.py): Multiply/Add-by-constant chains around
Convolution, GroupConvolution, ConvolutionBackpropData, GroupConvolutionBackpropData and MatMul folded into the
weights and biases. Small torch modules exported to ONNX, plus hand-built ONNX graphs for what torch does not
write (Gemm with transA, SAME auto_pad, INT8 DequantizeLinear weights, u8 activations, unknown ranks).

Every case converts with optimize=False, runs ConstantFolding and the passes in their intended order through a
validating PassManager, asserts the exact op histogram left (Constants not counted) and compares REF's and
OpenVINO's outputs with ONNX Runtime's (graph optimizations off) on the original graph. Tolerance: f32 models
within rtol = atol = 1e-5 (folding changes one rounding per weight; measured over all cases here: at most 5e-7 of
the output's magnitude); f16 models and f16-compressed weights within 5e-3 (measured: 9e-4; the f16 rounding of
the weights and activations dominates).

The helpers here (export, onnx_graph, feeds, check, check_untouched) serve test_batchnorm.py and
test_pad_fusion.py too."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import irforge
from irforge.ir.graph import Model, Node, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.mo.compress import compress_to_fp16
from irforge.transforms.base import Pass, PassManager
from irforge.transforms.batchnorm import BatchNormDecomposition
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.linear_folding import (
    AddBeforeWeightsFusion, ConvertSubtractDivideWithConstant, LinOpSequenceFusion, MultiplyAfterWeightsFusion,
    MultiplyBeforeWeightsFusion)
from irforge.transforms.pad_fusion import PadFusion
from tests.torch_export import FnModule as Fn, export_onnx
from tests.util import assert_close, run_openvino, run_ref

RTOL = ATOL = 1e-5
F16_TOL = 5e-3


# ---------------------------------------------------------------- helpers (shared with the other two files)
def weight_folding() -> list[Pass]:
    """The linear-folding passes in their intended order (module docstring of linear_folding.py)."""
    return [ConvertSubtractDivideWithConstant(), LinOpSequenceFusion(), MultiplyAfterWeightsFusion(),
            AddBeforeWeightsFusion(), MultiplyBeforeWeightsFusion(), LinOpSequenceFusion()]


def all_folding() -> list[Pass]:
    """BatchNorm decomposition, Pad fusion, then weight folding: the three modules in their intended order."""
    return [ConstantFolding(), BatchNormDecomposition(), PadFusion(), *weight_folding()]


def export(module: nn.Module | Callable[..., object], *shapes: Sequence[int], opset: int = 13,
           mods: Sequence[nn.Module] = (), fold_constants: bool = True) -> onnx.ModelProto:
    """Export with the TorchScript exporter; inputs x, y, ... of the given shapes. `fold_constants=False` keeps
    eval-mode BatchNorm (torch's constant folding would fuse it into the preceding Conv)."""
    return export_onnx(module, [torch.zeros(s) for s in shapes], opset=opset, input_names=["x", "y", "z"][:len(shapes)],
                       mods=mods, fold_constants=fold_constants)


def onnx_graph(nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, Sequence[int] | None]],
               outputs: Sequence[str], inits: dict[str, np.ndarray] | None = None, opset: int = 13
               ) -> onnx.ModelProto:
    """A hand-built ONNX model. inputs: name -> (TensorProto type, shape or None for unknown rank); outputs
    are typed by shape inference. Checked by onnx's checker, except with inputs of unknown rank (which it
    rejects, while ONNX Runtime runs them)."""
    ins = [helper.make_tensor_value_info(n, t, s) for n, (t, s) in inputs.items()]
    outs = [helper.make_empty_tensor_value_info(n) for n in outputs]
    graph = helper.make_graph(nodes, "g", ins, outs,
                              [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    inferred = {vi.name: vi for vi in model.graph.value_info}
    for out in model.graph.output:
        if out.name in inferred:
            out.CopyFrom(inferred[out.name])
        else:  # not inferred (unknown rank): a float of unknown shape
            out.type.tensor_type.elem_type = TensorProto.FLOAT
    if all(s is not None for _, s in inputs.values()):
        onnx.checker.check_model(model)
    return model


def feeds(proto: onnx.ModelProto, seed: int = 0, dynamic: int = 2) -> dict[str, np.ndarray]:
    """Inputs for every graph input: standard normal floats (x2), small integers; unknown dims and ranks
    become `dynamic` / rank 4."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in proto.graph.initializer}
    out = {}
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        shape = tuple(d.dim_value if d.HasField("dim_value") else dynamic for d in tt.shape.dim) \
            if tt.HasField("shape") else (1, 4, 5, 5)
        if np.issubdtype(dtype, np.floating):
            out[vi.name] = (rng.standard_normal(shape) * 2).astype(dtype)
        elif dtype == np.uint8:
            out[vi.name] = rng.integers(0, 256, shape).astype(dtype)
        else:
            out[vi.name] = rng.integers(-5, 6, shape).astype(dtype)
    return out


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result", "Constant")}


def nodes(model: Model, op: str) -> list[Node]:
    return [n for n in model.ops() if n.type == op]


def convert(proto: onnx.ModelProto, prep: Sequence[Pass] = ()) -> Model:
    model = irforge.convert_model(proto, optimize=False)
    PassManager([ConstantFolding(), *prep], validate=True).run(model)
    return model


def fold(model: Model, passes: Sequence[Pass]) -> dict[str, int]:
    """Run `passes` (validating after each); returns what each pass did, summed by name."""
    counts: dict[str, int] = {}
    for r in PassManager(passes, validate=True).run(model).records:
        counts[r.name] = counts.get(r.name, 0) + r.count
    return counts


def run_ort_unoptimized(proto: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime with its graph optimizations off: its own Conv+Mul fusion would fold the very constants these
    tests are about (and overflow f16 weights doing so)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def compare(model: Model, proto: onnx.ModelProto, rtol: float = RTOL, atol: float = ATOL,
            inputs: dict[str, np.ndarray] | None = None, openvino: bool = True) -> None:
    """REF and OpenVINO on `model` give ONNX Runtime's outputs of `proto` (OpenVINO's CPU plugin only when
    every input has a static rank: it rejects the others)."""
    inputs = feeds(proto) if inputs is None else inputs
    want = run_ort_unoptimized(proto, inputs)
    assert_close(run_ref(model, list(inputs.values())), want, rtol=rtol, atol=atol, what="REF vs ONNX Runtime")
    if openvino and all(p.shape.rank_is_static for p in model.inputs):
        assert_close(run_openvino(model, list(inputs.values())), want, rtol=rtol, atol=atol,
                     what="OpenVINO vs ONNX Runtime")


def check(proto: onnx.ModelProto, want: dict[str, int], passes: Callable[[], list[Pass]] = weight_folding,
          prep: Sequence[Pass] = (), rtol: float = RTOL, atol: float = ATOL,
          inputs: dict[str, np.ndarray] | None = None) -> Model:
    """Convert (+ ConstantFolding and `prep`), run `passes`: exactly `want` ops left, outputs as ORT's."""
    model = convert(proto, prep)
    fold(model, passes())
    assert ops(model) == want
    compare(model, proto, rtol, atol, inputs)
    return model


def check_untouched(proto: onnx.ModelProto, passes: Callable[[], list[Pass]] = weight_folding,
                    prep: Sequence[Pass] = (), rtol: float = RTOL, atol: float = ATOL,
                    inputs: dict[str, np.ndarray] | None = None, openvino: bool = True) -> Model:
    """The passes change nothing (count 0, same ops) and the outputs stay ORT's."""
    model = convert(proto, prep)
    before = ops(model)
    counts = fold(model, passes())
    assert sum(counts.values()) == 0, counts
    assert ops(model) == before
    compare(model, proto, rtol, atol, inputs, openvino)
    return model


torch.manual_seed(0)
X4 = (1, 4, 6, 6)  # N, C, H, W: W == 6 == the output channel count of CONV on purpose (see last_axis_vector)
S4 = torch.linspace(0.5, 2.0, 4).reshape(1, 4, 1, 1)
S6 = torch.linspace(-1.5, 2.0, 6).reshape(1, 6, 1, 1)
A4 = torch.linspace(-1.0, 1.0, 4).reshape(1, 4, 1, 1)
S8 = torch.linspace(0.25, 3.0, 8)
SPATIAL = torch.linspace(0.5, 1.5, 36).reshape(1, 1, 6, 6)
SPATIAL4 = torch.linspace(0.5, 1.5, 16).reshape(1, 1, 4, 4)


def conv(cin: int = 4, cout: int = 6, k: int = 3, **kw: object) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, **kw)  # type: ignore[arg-type]


def deconv(cin: int = 4, cout: int = 6, k: int = 3, **kw: object) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, **kw)  # type: ignore[arg-type]


def case(fn: Callable[..., object], *mods: nn.Module) -> Fn:
    return Fn(fn, *mods)


def _conv_scaled(c: nn.Module, s: torch.Tensor) -> Fn:
    return case(lambda x: c(x) * s, c)


# ---------------------------------------------------------------- ConvertSubtractDivideWithConstant
def _sub_div() -> list[Pass]:
    return [ConvertSubtractDivideWithConstant()]


def test_subtract_and_divide_by_constants_become_add_and_multiply() -> None:
    model = check(export(lambda x: (x - A4) / S4, X4), {"Add": 1, "Multiply": 1}, _sub_div)
    mul = nodes(model, "Multiply")[0]
    np.testing.assert_array_equal(mul.inputs[1].node.data, (1.0 / S4.double()).float().numpy())


def _binary(op: str, t: int, dtype: type, c: object, x_first: bool = True) -> onnx.ModelProto:
    inputs = ["x", "c"] if x_first else ["c", "x"]
    return onnx_graph([helper.make_node(op, inputs, ["y"])], {"x": (t, [2, 5])}, ["y"],
                      {"c": np.array(c, dtype=dtype)})


@pytest.mark.parametrize("proto", [
    _binary("Sub", TensorProto.FLOAT, np.float32, [1.5, -2.0, 0.5, 3.0, 1.0], x_first=False),
    _binary("Div", TensorProto.FLOAT, np.float32, 2.5, x_first=False),
    _binary("Div", TensorProto.INT32, np.int32, 3),
    onnx_graph([helper.make_node("Div", ["x", "y"], ["z"])],
               {"x": (TensorProto.FLOAT, [2, 5]), "y": (TensorProto.FLOAT, [2, 5])}, ["z"]),
], ids=["constant_minus_x", "constant_over_x", "integer_division",
        "divide_by_tensor"])
def test_subtract_divide_kept(proto: onnx.ModelProto) -> None:
    """c - x and c / x are not x op c; integer division truncates; u8 has no negation; i8 saturates in
    OpenVINO's CPU plugin, where x - (-128) and x + (-(-128)) = x + (-128) differ."""
    check_untouched(proto, _sub_div)


@pytest.mark.parametrize("et,c", [(Type.u8, 3), (Type.i8, -128)], ids=["unsigned", "int8_min"])
def test_narrow_integer_subtract_kept(et: Type, c: int) -> None:
    """u8 has no negation; i8 saturates in OpenVINO's CPU plugin, where x - (-128) and x + (-(-128)) =
    x + (-128) differ. ONNX Runtime has no 8-bit Sub: built in irforge's IR, REF is the oracle."""
    x = parameter(et, [6], "x").output(0)
    model = Model([result(make("Subtract", [x, constant(np.array(c, et.dtype))]).output(0))], [x.node])
    assert sum(fold(model, _sub_div()).values()) == 0 and ops(model) == {"Subtract": 1}
    data = np.array([0, 1, 2, 3, 100, 120], et.dtype)
    np.testing.assert_array_equal(run_ref(model, [data])[0], data - np.array(c, et.dtype))


def test_subtract_of_int32_becomes_add() -> None:
    check(_binary("Sub", TensorProto.INT32, np.int32, [3, -2, 0, 7, 1]), {"Add": 1}, _sub_div)


# ---------------------------------------------------------------- LinOpSequenceFusion
def _lin_op() -> list[Pass]:
    return [ConvertSubtractDivideWithConstant(), LinOpSequenceFusion()]


LIN_OP = {
    "mul_mul": (lambda x: x * S4 * 3.0, {"Multiply": 1}),
    "add_add": (lambda x: (x + A4) + 0.5, {"Add": 1}),
    "add_mul": (lambda x: (x + A4) * S4, {"Multiply": 1, "Add": 1}),
    "long_chain": (lambda x: ((((x + A4) * S4 + 1.0) * 2.0 - A4) / S4), {"Multiply": 1, "Add": 1}),
    "sub_div": (lambda x: (x - A4) / S4, {"Multiply": 1, "Add": 1}),
}


@pytest.mark.parametrize("case_", LIN_OP.values(), ids=LIN_OP.keys())
def test_lin_op_sequence(case_: tuple[Callable[..., object], dict[str, int]]) -> None:
    fn, want = case_
    check(export(fn, X4), want, _lin_op)


def test_lin_op_sequence_moves_multiply_up() -> None:
    """(x + a) * b becomes x * b + a*b: the Multiply reads x, the Add reads the Multiply."""
    model = check(export(lambda x: (x + A4) * S4, X4), {"Multiply": 1, "Add": 1}, _lin_op)
    (mul,), (add,) = nodes(model, "Multiply"), nodes(model, "Add")
    assert mul.inputs[0] is model.inputs[0] and add.inputs[0] is mul.output(0)
    np.testing.assert_allclose(add.inputs[1].node.data, (A4 * S4).numpy(), rtol=1e-7)


LIN_OP_KEPT = {
    "would_blow_up": lambda x: x * S4 * SPATIAL,
    "intermediate_used_twice": lambda x: ((x * S4) * 3.0, x * S4),
    "add_used_twice": lambda x: ((x + A4) * S4, x + A4),
    "infinite_constant_distributes": lambda x, inf=torch.tensor(float("inf")): (x + inf) * S4,
}


@pytest.mark.parametrize("fn", LIN_OP_KEPT.values(), ids=LIN_OP_KEPT.keys())
def test_lin_op_sequence_kept(fn: Callable[..., object]) -> None:
    check_untouched(export(fn, X4), _lin_op)


def _int_chain(t: int, dtype: type) -> onnx.ModelProto:
    nodes_ = [helper.make_node("Add", ["x", "a"], ["t"]), helper.make_node("Mul", ["t", "b"], ["u"]),
              helper.make_node("Add", ["u", "c"], ["y"])]
    inits = {"a": np.array([1, 2, 3, 4, 5], dtype), "b": np.array(3, dtype), "c": np.array(2, dtype)}
    return onnx_graph(nodes_, {"x": (t, [2, 5])}, ["y"], inits)


def test_lin_op_sequence_int32() -> None:
    """32-bit integers wrap in NumPy, ONNX Runtime and OpenVINO alike: (x + a) * b + c = x*b + (a*b + c)."""
    check(_int_chain(TensorProto.INT32, np.int32), {"Multiply": 1, "Add": 1}, _lin_op)


def test_lin_op_sequence_int8_kept() -> None:
    """OpenVINO's CPU plugin does not wrap 8-bit integer overflow (a lone Add saturates: 100 + 100 gives 127),
    so the regrouped x * 2 + (100 * 2 wrapped to -56) could differ from (x + 100) * 2 there. Built in
    irforge's IR (ONNX Runtime has no 8-bit Add); REF's wrapping result is checked."""
    x = parameter(Type.i8, [4], "x").output(0)
    y = make("Multiply", [make("Add", [x, constant(np.int8(100))]).output(0), constant(np.int8(2))]).output(0)
    model = Model([result(y)], [x.node])
    assert sum(fold(model, _lin_op()).values()) == 0 and ops(model) == {"Add": 1, "Multiply": 1}
    data = np.array([0, 1, -5, -100], np.int8)
    np.testing.assert_array_equal(run_ref(model, [data])[0], ((data.astype(np.int64) + 100) * 2).astype(np.int8))


# ---------------------------------------------------------------- MultiplyAfterWeightsFusion
def _after() -> list[Pass]:
    return [ConvertSubtractDivideWithConstant(), LinOpSequenceFusion(), MultiplyAfterWeightsFusion()]


AFTER: dict[str, tuple[nn.Module, tuple[int, ...], dict[str, int]]] = {
    "conv": (_conv_scaled(conv(bias=False), S6), X4, {"Convolution": 1}),
    "conv_with_bias": (_conv_scaled(conv(), S6), X4, {"Convolution": 1, "Add": 1}),
    "conv_scalar": (_conv_scaled(conv(bias=False, padding=1), torch.tensor(-2.5)), X4, {"Convolution": 1}),
    "conv_divided": (case(lambda x, c=conv(bias=False): c(x) / S6), X4, {"Convolution": 1}),
    "depthwise": (_conv_scaled(conv(4, 4, groups=4, bias=False), S4), X4, {"GroupConvolution": 1}),
    "grouped": (_conv_scaled(conv(4, 6, groups=2, bias=False), S6), X4, {"GroupConvolution": 1}),
    "conv1d": (_conv_scaled(nn.Conv1d(4, 6, 3, bias=False), S6.reshape(1, 6, 1)), (2, 4, 7), {"Convolution": 1}),
    "conv3d": (_conv_scaled(nn.Conv3d(4, 6, 3, bias=False), S6.reshape(1, 6, 1, 1, 1)), (1, 4, 4, 5, 5),
               {"Convolution": 1}),
    "deconv": (_conv_scaled(deconv(stride=2, bias=False), S6), X4, {"ConvolutionBackpropData": 1}),
    "grouped_deconv": (_conv_scaled(deconv(4, 6, groups=2, stride=2, bias=False), S6), X4,
                       {"GroupConvolutionBackpropData": 1}),
    "linear": (_conv_scaled(nn.Linear(8, 6, bias=False), S6.reshape(6)), (3, 8), {"MatMul": 1}),
    "linear_with_bias": (_conv_scaled(nn.Linear(8, 6), S6.reshape(6)), (3, 8), {"MatMul": 1, "Add": 1}),
    "linear_3d_input": (_conv_scaled(nn.Linear(8, 6, bias=False), S6.reshape(6)), (2, 3, 8), {"MatMul": 1}),
    "linear_vector_input": (_conv_scaled(nn.Linear(8, 6, bias=False), S6.reshape(6)), (8,), {"MatMul": 1}),
    "batched_weights": (case(lambda x, w=torch.randn(2, 8, 6): torch.matmul(x, w) * S6.reshape(6)), (3, 8),
                        {"MatMul": 1}),
}


@pytest.mark.parametrize("case_", AFTER.values(), ids=AFTER.keys())
def test_multiply_after_weights(case_: tuple[nn.Module, tuple[int, ...], dict[str, int]]) -> None:
    module, shape, want = case_
    check(export(module, shape), want, _after)


def test_multiply_after_conv_scales_output_channels() -> None:
    c = conv(bias=False)
    model = check(export(_conv_scaled(c, S6), X4), {"Convolution": 1}, _after)
    w = nodes(model, "Convolution")[0].inputs[1].node.data
    np.testing.assert_allclose(w, (c.weight * S6.reshape(6, 1, 1, 1)).detach().numpy(), rtol=1e-6)


def _gemm(trans_a: int, trans_b: int, before: str | None = None, after: bool = False) -> onnx.ModelProto:
    """Gemm(x, W) with the Multiply (`after`) or an Add/Mul (`before`) by a per-channel constant."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 8) if trans_b else (8, 6)).astype(np.float32)
    vec = np.linspace(0.5, 2.0, 8).astype(np.float32)
    inits = {"w": w, "s": np.linspace(-1.0, 2.0, 6).astype(np.float32),
             "v": vec.reshape(8, 1) if trans_a else vec}
    nodes_ = []
    x = "x"
    if before:
        nodes_.append(helper.make_node(before, ["x", "v"], ["xv"]))
        x = "xv"
    nodes_.append(helper.make_node("Gemm", [x, "w"], ["g"], transA=trans_a, transB=trans_b))
    if after:
        nodes_.append(helper.make_node("Mul", ["g", "s"], ["y"]))
    return onnx_graph(nodes_, {"x": (TensorProto.FLOAT, [8, 3] if trans_a else [3, 8])}, ["y" if after else "g"],
                      inits)


@pytest.mark.parametrize("trans_b", [0, 1], ids=["plain", "transpose_b"])
def test_multiply_after_gemm(trans_b: int) -> None:
    model = check(_gemm(0, trans_b, after=True), {"MatMul": 1}, _after)
    assert nodes(model, "MatMul")[0].attrs["transpose_b"] == bool(trans_b)


AFTER_KEPT: dict[str, tuple[nn.Module, tuple[tuple[int, ...], ...]]] = {
    "per_spatial": (_conv_scaled(conv(bias=False, padding=1), SPATIAL), (X4,)),
    "per_channel_and_spatial": (_conv_scaled(conv(bias=False), torch.rand(1, 6, 4, 4) + 0.5), (X4,)),
    "broadcasts_result": (_conv_scaled(conv(bias=False), torch.rand(2, 6, 1, 1) + 0.5), (X4,)),
    # a 1-D vector of length C aligns with the last axis (W), not the channels, even when W == C
    "last_axis_vector": (_conv_scaled(conv(bias=False, padding=1), S6.reshape(6)), (X4,)),
    "conv_used_twice": (case(lambda x, c=conv(bias=False): (c(x) * S6, c(x))), (X4,)),
    "matmul_per_row": (case(lambda x, w=torch.randn(8, 6), s=torch.rand(3, 1): torch.matmul(x, w) * s), ((3, 8),)),
    "matmul_vector_weights": (case(lambda x, w=torch.randn(8), s=torch.rand(3): torch.matmul(x, w) * s), ((3, 8),)),
    "weights_not_constant": (case(lambda x, y: torch.matmul(x, y) * S6.reshape(6)), ((3, 8), (8, 6))),
}


@pytest.mark.parametrize("case_", AFTER_KEPT.values(), ids=AFTER_KEPT.keys())
def test_multiply_after_weights_kept(case_: tuple[nn.Module, tuple[tuple[int, ...], ...]]) -> None:
    module, shapes = case_
    check_untouched(export(module, *shapes), _after)


def test_multiply_after_integer_matmul_kept() -> None:
    nodes_ = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Mul", ["m", "s"], ["y"])]
    inits = {"w": np.arange(-12, 12, dtype=np.int32).reshape(4, 6), "s": np.arange(1, 7, dtype=np.int32)}
    check_untouched(onnx_graph(nodes_, {"x": (TensorProto.INT32, [3, 4])}, ["y"], inits), _after)


# ---------------------------------------------------------------- AddBeforeWeightsFusion
def _before() -> list[Pass]:
    return weight_folding()


ADD_BEFORE: dict[str, tuple[nn.Module, tuple[int, ...], dict[str, int]]] = {
    "conv1x1": (case(lambda x, c=conv(k=1): c(x + A4)), X4, {"Convolution": 1, "Add": 1}),
    "conv_strided_dilated": (case(lambda x, c=conv(stride=2, dilation=2, bias=False): c(x + A4)), (1, 4, 9, 9),
                             {"Convolution": 1, "Add": 1}),
    "conv_subtract": (case(lambda x, c=conv(): c(x - A4)), X4, {"Convolution": 1, "Add": 1}),
    "conv_scalar": (case(lambda x, c=conv(): c(x + 0.75)), X4, {"Convolution": 1, "Add": 1}),
    "grouped": (case(lambda x, c=conv(4, 6, groups=2): c(x + A4)), X4, {"GroupConvolution": 1, "Add": 1}),
    "depthwise": (case(lambda x, c=conv(4, 4, groups=4, bias=False): c(x + A4)), X4,
                  {"GroupConvolution": 1, "Add": 1}),
    "conv3d": (case(lambda x, c=nn.Conv3d(4, 6, 3): c(x + A4.reshape(1, 4, 1, 1, 1))), (1, 4, 4, 5, 5),
               {"Convolution": 1, "Add": 1}),
    "linear": (case(lambda x, m=nn.Linear(8, 6): m(x + S8)), (3, 8), {"MatMul": 1, "Add": 1}),
    "linear_3d_input": (case(lambda x, m=nn.Linear(8, 6, bias=False): m(x + S8)), (2, 3, 8),
                        {"MatMul": 1, "Add": 1}),
    # BatchNorm-style x*s + b before an unpadded conv: the Multiply folds too, the Add becomes the bias
    "scale_shift": (case(lambda x, c=conv(k=1, bias=False): c(x * S4 + A4)), X4, {"Convolution": 1, "Add": 1}),
}


@pytest.mark.parametrize("case_", ADD_BEFORE.values(), ids=ADD_BEFORE.keys())
def test_add_before_weights(case_: tuple[nn.Module, tuple[int, ...], dict[str, int]]) -> None:
    module, shape, want = case_
    check(export(module, shape), want, _before)


def test_add_before_conv_becomes_bias() -> None:
    """conv(x + a) = conv(x) + sum over input channels and taps of W * a."""
    c = conv(k=3, bias=False)
    model = check(export(case(lambda x: c(x + A4), c), X4), {"Convolution": 1, "Add": 1}, _before)
    (add,) = nodes(model, "Add")
    want = (c.weight.double() * A4.double().reshape(1, 4, 1, 1)).sum(dim=(1, 2, 3)).reshape(1, 6, 1, 1)
    np.testing.assert_allclose(add.inputs[1].node.data, want.detach().numpy(), rtol=1e-6)
    assert add.inputs[0].node.type == "Convolution" and add.inputs[0].node.inputs[0] is model.inputs[0]


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_add_before_gemm(trans_a: int, trans_b: int) -> None:
    check(_gemm(trans_a, trans_b, before="Add"), {"MatMul": 1, "Add": 1}, _before)


def _same_conv(k: int) -> onnx.ModelProto:
    w = np.random.default_rng(2).standard_normal((6, 4, k, k)).astype(np.float32)
    nodes_ = [helper.make_node("Add", ["x", "a"], ["xa"]),
              helper.make_node("Conv", ["xa", "w"], ["y"], auto_pad="SAME_UPPER")]
    return onnx_graph(nodes_, {"x": (TensorProto.FLOAT, list(X4))}, ["y"], {"w": w, "a": A4.numpy()})


def test_add_before_same_conv_with_1x1_kernel() -> None:
    """SAME_UPPER padding of a 1x1 kernel is zero: the Add folds."""
    check(_same_conv(1), {"Convolution": 1, "Add": 1}, _before)


X2 = (1, 4, 2, 2)  # H * W == C: a per-spatial constant has as many values as there are channels
SPATIAL_C = torch.tensor([[0.5, 1.5], [2.0, -1.0]]).reshape(1, 1, 2, 2)
X44 = (1, 4, 4, 4)  # W == C: a 1-D constant of length C aligns with W
V4 = torch.tensor([0.5, 1.5, 2.0, -1.0])
ADD_BEFORE_KEPT: dict[str, tuple[nn.Module, tuple[int, ...]]] = {
    "padded_conv": (case(lambda x, c=conv(padding=1, bias=False): c(x + A4)), X4),
    "per_spatial": (case(lambda x, c=conv(k=1, bias=False): c(x + SPATIAL)), X4),
    "per_spatial_as_many_as_channels": (case(lambda x, c=conv(k=1, bias=False): c(x + SPATIAL_C)), X2),
    "last_axis_vector": (case(lambda x, c=conv(k=1, bias=False): c(x + V4)), X44),
    "deconv": (case(lambda x, c=deconv(stride=2, bias=False): c(x + A4)), X4),
    "grouped_deconv": (case(lambda x, c=deconv(4, 6, groups=2, bias=False): c(x + A4)), X4),
    "add_used_twice": (case(lambda x, c=conv(k=1, bias=False): (c(x + A4), x + A4)), X4),
    "batched_matmul_weights": (case(lambda x, w=torch.randn(2, 8, 6): torch.matmul(x + S8, w)), (3, 8)),
    "matmul_per_row": (case(lambda x, w=torch.randn(8, 6), a=torch.rand(3, 1): torch.matmul(x + a, w)), (3, 8)),
}


@pytest.mark.parametrize("case_", ADD_BEFORE_KEPT.values(), ids=ADD_BEFORE_KEPT.keys())
def test_add_before_weights_kept(case_: tuple[nn.Module, tuple[int, ...]]) -> None:
    module, shape = case_
    check_untouched(export(module, shape), _before)


def test_add_before_same_conv_with_3x3_kernel_kept() -> None:
    """SAME_UPPER pads a 3x3 kernel: the padding would see 0 instead of a."""
    check_untouched(_same_conv(3), _before)


# ---------------------------------------------------------------- MultiplyBeforeWeightsFusion
MUL_BEFORE: dict[str, tuple[nn.Module, tuple[int, ...], dict[str, int]]] = {
    # zero padding stays zero under a scale: padded convolutions fold
    "padded_conv": (case(lambda x, c=conv(padding=1): c(x * S4)), X4, {"Convolution": 1, "Add": 1}),
    "conv_divided": (case(lambda x, c=conv(padding=1, bias=False): c(x / S4)), X4, {"Convolution": 1}),
    "conv_scalar": (case(lambda x, c=conv(padding=1, bias=False): c(x * -0.5)), X4, {"Convolution": 1}),
    "grouped": (case(lambda x, c=conv(4, 6, groups=2, padding=1, bias=False): c(x * S4)), X4,
                {"GroupConvolution": 1}),
    "depthwise": (case(lambda x, c=conv(4, 4, groups=4, padding=1, bias=False): c(x * S4)), X4,
                  {"GroupConvolution": 1}),
    "conv1d": (case(lambda x, c=nn.Conv1d(4, 6, 3, padding=1, bias=False): c(x * S4.reshape(1, 4, 1))), (2, 4, 7),
               {"Convolution": 1}),
    "deconv": (case(lambda x, c=deconv(stride=2, padding=1, bias=False): c(x * S4)), X4,
               {"ConvolutionBackpropData": 1}),
    "grouped_deconv": (case(lambda x, c=deconv(4, 6, groups=2, stride=2, bias=False): c(x * S4)), X4,
                       {"GroupConvolutionBackpropData": 1}),
    "linear": (case(lambda x, m=nn.Linear(8, 6, bias=False): m(x * S8)), (3, 8), {"MatMul": 1}),
    "linear_3d_input": (case(lambda x, m=nn.Linear(8, 6, bias=False): m(x * S8)), (2, 3, 8), {"MatMul": 1}),
    "batched_weights": (case(lambda x, w=torch.randn(2, 8, 6): torch.matmul(x * S8, w)), (3, 8), {"MatMul": 1}),
    "vector_weights": (case(lambda x, w=torch.randn(8): torch.matmul(x * S8, w)), (3, 8), {"MatMul": 1}),
    # input normalization (x - mean) / std before a padded conv: only x - mean is left
    "normalization": (case(lambda x, c=conv(padding=1): c((x - A4) / S4)), X4, {"Add": 2, "Convolution": 1}),
}


@pytest.mark.parametrize("case_", MUL_BEFORE.values(), ids=MUL_BEFORE.keys())
def test_multiply_before_weights(case_: tuple[nn.Module, tuple[int, ...], dict[str, int]]) -> None:
    module, shape, want = case_
    check(export(module, shape), want, _before)


def test_multiply_before_conv_scales_input_channels() -> None:
    c = conv(4, 6, groups=2, padding=1, bias=False)
    model = check(export(case(lambda x: c(x * S4), c), X4), {"GroupConvolution": 1}, _before)
    w = nodes(model, "GroupConvolution")[0].inputs[1].node.data  # [G=2, 3, 2, 3, 3]
    want = (c.weight.reshape(2, 3, 2, 3, 3) * S4.reshape(2, 1, 2, 1, 1)).detach().numpy()
    np.testing.assert_allclose(w, want, rtol=1e-6)


def test_normalization_keeps_only_the_mean() -> None:
    """(x - m) / s before a padded conv -> conv'(x - m): the Add left holds -m exactly."""
    model = check(export(case(lambda x, c=conv(padding=1, bias=False): c((x - A4) / S4)), X4),
                  {"Add": 1, "Convolution": 1}, _before)
    (add,) = nodes(model, "Add")
    np.testing.assert_allclose(add.inputs[1].node.data, -A4.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_multiply_before_gemm(trans_a: int, trans_b: int) -> None:
    check(_gemm(trans_a, trans_b, before="Mul"), {"MatMul": 1}, _before)


ZERO_S4 = torch.tensor([0.5, 0.0, 2.0, 1.0]).reshape(1, 4, 1, 1)
MUL_BEFORE_KEPT: dict[str, tuple[nn.Module, tuple[int, ...]]] = {
    # x*s + b with a zero in s cannot become (x + b/s)*s
    "zero_scale_before_add": (case(lambda x, c=conv(padding=1, bias=False): c(x * ZERO_S4 + A4)), X4),
    "per_spatial": (case(lambda x, c=conv(padding=1, bias=False): c(x * SPATIAL)), X4),
    "per_spatial_as_many_as_channels": (case(lambda x, c=conv(k=1, bias=False): c(x * SPATIAL_C)), X2),
    "last_axis_vector": (case(lambda x, c=conv(padding=1, bias=False): c(x * V4)), X44),
    "multiply_used_twice": (case(lambda x, c=conv(padding=1, bias=False): (c(x * S4), x * S4)), X4),
    "matmul_per_row": (case(lambda x, w=torch.randn(8, 6), s=torch.rand(3, 1): torch.matmul(x * s, w)), (3, 8)),
    "matmul_vector_weights_per_row": (case(lambda x, w=torch.randn(8), s=torch.rand(3, 1): torch.matmul(x * s, w)),
                                      (3, 8)),
}


@pytest.mark.parametrize("case_", MUL_BEFORE_KEPT.values(), ids=MUL_BEFORE_KEPT.keys())
def test_multiply_before_weights_kept(case_: tuple[nn.Module, tuple[int, ...]]) -> None:
    module, shape = case_
    check_untouched(export(module, shape), _before)


def test_dequantized_activations_kept() -> None:
    """u8 input -> DequantizeLinear -> Conv: the zero-point Subtract and scale Multiply are the INT8 path's
    dequantization and stay where they are."""
    w = np.random.default_rng(3).standard_normal((6, 4, 3, 3)).astype(np.float32)
    nodes_ = [helper.make_node("DequantizeLinear", ["x", "scale", "zp"], ["xd"]),
              helper.make_node("Conv", ["xd", "w"], ["y"], pads=[1, 1, 1, 1])]
    inits = {"w": w, "scale": np.array(0.05, np.float32), "zp": np.array(128, np.uint8)}
    model = check_untouched(onnx_graph(nodes_, {"x": (TensorProto.UINT8, list(X4))}, ["y"], inits))
    assert ops(model) == {"Convert": 1, "Subtract": 1, "Multiply": 1, "Convolution": 1}


def test_unknown_rank_kept() -> None:
    """x of unknown rank: no per-channel axis to check."""
    w = np.random.default_rng(4).standard_normal((6, 4, 1, 1)).astype(np.float32)
    nodes_ = [helper.make_node("Mul", ["x", "s"], ["xs"]), helper.make_node("Add", ["xs", "a"], ["xa"]),
              helper.make_node("Conv", ["xa", "w"], ["y"])]
    inits = {"w": w, "s": S4.numpy(), "a": A4.numpy()}
    model = check_untouched(onnx_graph(nodes_, {"x": (TensorProto.FLOAT, None)}, ["y"], inits))
    assert not model.inputs[0].shape.rank_is_static


# ---------------------------------------------------------------- quantized and compressed weights
def _dequantized_weights_conv_bn() -> onnx.ModelProto:
    """Conv with INT8 weights (per-output-channel DequantizeLinear) followed by BatchNormalization."""
    rng = np.random.default_rng(5)
    inits = {"wq": rng.integers(-127, 128, (6, 4, 3, 3)).astype(np.int8),
             "ws": np.linspace(0.01, 0.03, 6).astype(np.float32),
             "wz": rng.integers(-3, 4, 6).astype(np.int8),
             "g": np.linspace(0.5, 1.5, 6).astype(np.float32), "b": np.linspace(-0.3, 0.3, 6).astype(np.float32),
             "m": np.linspace(-0.5, 0.5, 6).astype(np.float32), "v": np.linspace(0.3, 2.0, 6).astype(np.float32)}
    nodes_ = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
              helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
              helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"])]
    return onnx_graph(nodes_, {"x": (TensorProto.FLOAT, list(X4))}, ["y"], inits)


def test_int8_weight_dequantization_untouched() -> None:
    """i8 Const -> Convert -> Subtract -> Multiply weights stay as they are (the BN scale is not folded into
    them), with the very same i8 data."""
    proto = _dequantized_weights_conv_bn()
    model = check_untouched(proto, prep=[BatchNormDecomposition()])
    assert ops(model) == {"Convert": 1, "Subtract": 1, "Multiply": 2, "Add": 1, "Convolution": 1}
    (conv_node,) = nodes(model, "Convolution")
    dq = conv_node.inputs[1].node
    assert dq.type == "Multiply"
    sub = dq.inputs[0].node
    assert sub.type == "Subtract" and sub.inputs[0].node.type == "Convert"
    q = sub.inputs[0].node.inputs[0].node
    np.testing.assert_array_equal(q.data, numpy_helper.to_array(proto.graph.initializer[0]))


def _compressed(proto: onnx.ModelProto) -> Model:
    model = convert(proto)
    assert compress_to_fp16(model) > 0
    return model


def _decompressed_weights(node: Node) -> np.ndarray:
    """The f16 data behind a weights input that must still be a decompression chain."""
    w = node.inputs[1].node
    assert w.type == "Convert" and "decompression" in w.rt_info
    data = w.inputs[0].node.data
    assert data is not None and data.dtype == np.float16
    return data


@pytest.mark.parametrize("where", ["after", "before"])
def test_f16_compressed_weights_fold_and_stay_compressed(where: str) -> None:
    c = conv(padding=1, bias=False)
    fn = (lambda x: c(x) * S6) if where == "after" else (lambda x: c(x * S4))
    proto = export(case(fn, c), X4)
    model = _compressed(proto)
    fold(model, weight_folding())
    assert ops(model) == {"Convert": 1, "Convolution": 1}
    data = _decompressed_weights(nodes(model, "Convolution")[0])
    scale = S6.reshape(6, 1, 1, 1) if where == "after" else S4.reshape(1, 4, 1, 1)
    # the f16 weights scaled in f64 and rounded to f16 once more (what fusing before compressing would give,
    # up to that second rounding)
    # (compress_to_fp16 stored the scale in f16 too)
    w16, s16 = c.weight.detach().numpy().astype(np.float16), scale.numpy().astype(np.float16)
    np.testing.assert_array_equal(data, (w16.astype(np.float64) * s16.astype(np.float64)).astype(np.float16))
    compare(model, proto, rtol=F16_TOL, atol=F16_TOL)


def test_f16_compressed_matmul_transpose_b() -> None:
    proto = _gemm(0, 1, after=True)
    model = _compressed(proto)
    fold(model, weight_folding())
    assert ops(model) == {"Convert": 1, "MatMul": 1}
    _decompressed_weights(nodes(model, "MatMul")[0])
    compare(model, proto, rtol=F16_TOL, atol=F16_TOL)


def test_f16_compressed_weights_that_would_overflow_kept() -> None:
    """Scaled by 1e6, the f16 weights would overflow: the Multiply stays."""
    c = conv(padding=1, bias=False)
    proto = export(case(lambda x: c(x) * 1e6, c), X4)
    model = _compressed(proto)
    before = ops(model)
    assert sum(fold(model, weight_folding()).values()) == 0 and ops(model) == before
    compare(model, proto, rtol=F16_TOL, atol=1e6 * F16_TOL)


def _f16_conv(where: str, scale: float | np.ndarray, w: np.ndarray) -> onnx.ModelProto:
    """An all-f16 ONNX graph: Conv(x, w) * scale ("after") or Conv(x * scale, w) ("before")."""
    inits = {"w": w.astype(np.float16), "s": np.asarray(scale, np.float16)}
    if where == "after":
        nodes_ = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                  helper.make_node("Mul", ["c", "s"], ["y"])]
    else:
        nodes_ = [helper.make_node("Mul", ["x", "s"], ["xs"]),
                  helper.make_node("Conv", ["xs", "w"], ["y"], pads=[1, 1, 1, 1])]
    return onnx_graph(nodes_, {"x": (TensorProto.FLOAT16, list(X4))}, ["y"], inits)


W643 = np.random.default_rng(6).standard_normal((6, 4, 3, 3)) * 0.3


@pytest.mark.parametrize("where,scale", [("after", S6.numpy()), ("before", S4.numpy())])
def test_f16_model(where: str, scale: np.ndarray) -> None:
    """An f16 model folds in f16 (weights scaled in f64, rounded once)."""
    model = check(_f16_conv(where, scale, W643), {"Convolution": 1}, rtol=F16_TOL, atol=F16_TOL)
    assert nodes(model, "Convolution")[0].inputs[1].node.data.dtype == np.float16


@pytest.mark.parametrize("where", ["after", "before"])
def test_f16_weights_that_would_overflow_kept(where: str) -> None:
    """A weight of 100 scaled by 1000 does not fit f16 (max 65504): the Multiply stays. The input is small
    (1e-3), so the unfolded graph stays finite. Not run in OpenVINO: its own CPU-plugin transformations fold
    this Multiply into the f16 weights and return inf (measured with OpenVINO 2026.4)."""
    w = np.full((6, 4, 3, 3), 0.01)
    w[0, 0, 1, 1] = 100.0
    x = (np.random.default_rng(7).standard_normal(X4) * 1e-3).astype(np.float16)
    check_untouched(_f16_conv(where, 1000.0, w), rtol=F16_TOL, atol=F16_TOL, inputs={"x": x}, openvino=False)


@pytest.mark.parametrize("t,dtype,c", [(TensorProto.FLOAT16, np.float16, 1e-5), (TensorProto.FLOAT, np.float32, 1e-39)],
                         ids=["f16", "f32_subnormal"])
def test_divide_by_tiny_constant_kept(t: int, dtype: type, c: float) -> None:
    """1/c overflows the type while x/c does not: the Divide stays. Not run in OpenVINO: its own
    Divide -> Multiply(1/c) conversion returns inf here (measured with OpenVINO 2026.4)."""
    proto = onnx_graph([helper.make_node("Div", ["x", "c"], ["y"])], {"x": (t, [2, 5])}, ["y"],
                       {"c": np.array(c, dtype)})
    x = (np.linspace(-1, 1, 10).reshape(2, 5) * c * 100).astype(dtype)
    check_untouched(proto, _sub_div, rtol=F16_TOL, atol=0, inputs={"x": x}, openvino=False)


# ---------------------------------------------------------------- everything together
def test_conv_bn_relu_conv_chain() -> None:
    """Normalization, Conv, BN, ReLU, 1x1 Conv with an Add before it, Linear with a scale after it."""
    c1, bn, c2, fc = conv(padding=1, bias=False), nn.BatchNorm2d(6), conv(6, 5, k=1), nn.Linear(5 * 36, 3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.3, 0.3)
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.3, 2.0)

    scale = torch.tensor([1.0, -2.0, 0.5])

    def fn(x: torch.Tensor) -> torch.Tensor:
        y = c2(torch.relu(bn(c1((x - A4) / S4))) + 0.25)
        return fc(torch.flatten(y, 1)) * scale

    proto = export(case(fn, c1, bn, c2, fc), X4)
    model = check(proto, {"Add": 4, "Convolution": 2, "Relu": 1, "MatMul": 1, "Reshape": 1}, all_folding)
    assert all(n.inputs[1].node.type == "Constant" for n in model.ops() if n.type in ("Convolution", "MatMul"))
