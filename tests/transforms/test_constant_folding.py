"""ConstantFolding on real graphs: constant sub-graphs (weights computed in forward, static ShapeOf -> Gather ->
Concat -> Reshape chains) become Constants computed with the reference kernels, while what must stay stays:
shape sub-graphs over dynamic dimensions, FP16 decompression Converts and low-precision weight dequantization
chains (i8/u8/i4/u4 Const -> Convert -> [Subtract] -> Multiply, as OpenVINO's KeepConstPrecision /
MarkDequantizationSubgraph leave them). Every folded model must hold exactly the expected ops, and its REF and
OpenVINO outputs must equal ONNX Runtime's on the original graph."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.ir.graph import Model, Node, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from irforge.transforms.base import PassManager
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.pipeline import default_passes
from tests.torch_export import export_onnx
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4)).astype(np.float32)
info = helper.make_tensor_value_info


def export(module: torch.nn.Module | Callable[..., object], x: np.ndarray = X, opset: int = 13,
           dynamic_batch: bool = False) -> onnx.ModelProto:
    """Export without torch's own constant folding, so the constant sub-graphs reach irforge."""
    return export_onnx(module, [x], opset=opset, input_names=["x"], fold_constants=False,
                       dynamic_axes={"x": {0: "n"}} if dynamic_batch else None)


def onnx_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
               inits: list[onnx.TensorProto] | None = None, opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def fold(model: Model) -> int:
    """Run ConstantFolding under a validating PassManager; returns how many nodes it folded."""
    return PassManager([ConstantFolding()], validate=True).run(model).records[0].count


def only(model: Model, op: str) -> Node:
    (node,) = [n for n in model.ops() if n.type == op]
    return node


def check_outputs(model: Model, want: list[np.ndarray], inputs: list[np.ndarray], rtol: float = 1e-5,
                  atol: float = 1e-5) -> None:
    assert_close(run_ref(model, inputs), want, rtol=rtol, atol=atol, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, inputs), want, rtol=rtol, atol=atol, what="OpenVINO vs ONNX Runtime")


def run_ort_unoptimized(proto: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime without graph optimizations: with them it turns DequantizeLinear -> MatMul into a dynamically
    quantized integer MatMul (x rounded to u8), 3e-3 away from the float result the graph defines."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


# --- constant sub-graphs fold ---------------------------------------------------------------------------------

class ComputedWeights(torch.nn.Module):
    """Weights and a bias computed in forward from parameters: Tanh, Mul, Add, Transpose, ReduceSum, Div."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(5, 4, generator=g))
        self.register_buffer("b", torch.randn(5, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.tanh(self.w) * 2 + 1
        return torch.matmul(x, w.t()) + self.b.sum() / self.b.numel()


def test_constant_subgraph_folds_with_reference_kernels() -> None:
    module = ComputedWeights()
    proto = export(module)
    model = irforge.convert_model(proto, optimize=False)
    assert {"Tanh", "Multiply", "Transpose", "ReduceSum", "Divide"} <= set(ops(model))
    assert fold(model) == 6
    assert ops(model) == {"Add": 1, "Constant": 2, "MatMul": 1}
    # the folded weight is the kernels' value: equal to torch's own computation to f32 rounding
    w = only(model, "MatMul").inputs[1].node
    assert w.type == "Constant" and w.data is not None and w.data.dtype == np.float32
    with torch.no_grad():
        np.testing.assert_allclose(w.data, (torch.tanh(module.w) * 2 + 1).t().numpy(), rtol=1e-6, atol=1e-6)
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_folded_model_output_keeps_its_name() -> None:
    """A model output computed from constants only (the Shape of a static input) becomes a Constant feeding the
    Result, under the same tensor name; OpenVINO runs the IR."""
    proto = onnx_model([helper.make_node("Shape", ["x"], ["shape"]), helper.make_node("Relu", ["x"], ["y"])],
                       [info("x", TensorProto.FLOAT, list(X.shape))],
                       [info("shape", TensorProto.INT64, [3]), info("y", TensorProto.FLOAT, list(X.shape))])
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"ShapeOf": 1, "Relu": 1}
    assert fold(model) == 1
    assert ops(model) == {"Constant": 1, "Relu": 1}
    assert model.outputs[0].node.type == "Constant" and model.output_names() == ["shape", "y"]
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_multi_output_node_folds_each_used_output() -> None:
    """Split of a constant: both parts become Constants (named after the node and port)."""
    c = numpy_helper.from_array(RNG.standard_normal((2, 4)).astype(np.float32), "c")
    proto = onnx_model([helper.make_node("Split", ["c"], ["c0", "c1"], axis=0),
                        helper.make_node("Add", ["x", "c0"], ["a"]), helper.make_node("Mul", ["a", "c1"], ["y"])],
                       [info("x", TensorProto.FLOAT, [3, 1, 4])], [info("y", TensorProto.FLOAT, [3, 1, 4])], [c])
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model)["Split"] == 1
    assert fold(model) == 1
    assert ops(model) == {"Add": 1, "Constant": 2, "Multiply": 1}
    x = RNG.standard_normal((3, 1, 4)).astype(np.float32)
    check_outputs(model, run_ort(proto, {"x": x}), [x])


# --- shape sub-graphs: static folds, dynamic stays -------------------------------------------------------------

def flatten_batch(x: torch.Tensor) -> torch.Tensor:
    """x.reshape(x.shape[0], -1): the exporter writes Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    return torch.relu(x).reshape(x.shape[0], -1) * 2


SHAPE_CHAIN = {"ShapeOf": 1, "Gather": 1, "Unsqueeze": 1, "Concat": 1, "Reshape": 1}


def test_shape_subgraph_over_dynamic_dim_does_not_fold() -> None:
    proto = export(flatten_batch, dynamic_batch=True)
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {**SHAPE_CHAIN, "Unsqueeze": 2, "Constant": 6, "Multiply": 1, "Relu": 1}
    assert not model.inputs[0].shape.is_static
    # only the Unsqueeze of the constant -1 folds; the chain from the dynamic ShapeOf stays
    assert fold(model) == 1
    assert ops(model) == {**SHAPE_CHAIN, "Constant": 5, "Multiply": 1, "Relu": 1}
    assert only(model, "Concat").inputs[0].node.type == "Unsqueeze"
    for batch in (2, 5):  # still computes the target at run time
        x = RNG.standard_normal((batch, 3, 4)).astype(np.float32)
        check_outputs(model, run_ort(proto, {"x": x}), [x])


def test_shape_subgraph_folds_once_shape_is_static() -> None:
    proto = export(flatten_batch, dynamic_batch=True)
    model = irforge.convert_model(proto, optimize=False, input_shape="[2,3,4]")
    assert ops(model) == {**SHAPE_CHAIN, "Unsqueeze": 2, "Constant": 6, "Multiply": 1, "Relu": 1}
    assert fold(model) == 5  # ShapeOf, Gather, both Unsqueezes, Concat
    assert ops(model) == {"Constant": 2, "Multiply": 1, "Relu": 1, "Reshape": 1}
    target = only(model, "Reshape").inputs[1].node
    assert target.type == "Constant" and target.data.tolist() == [2, -1]  # type: ignore[union-attr]
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_converter_folds_shape_subgraph_with_input_shape() -> None:
    """`convert_model(input_shape=...)` runs the default pipeline: the shape chain is gone."""
    proto = export(flatten_batch, dynamic_batch=True)
    model = irforge.convert_model(proto, input_shape="[2,3,4]")
    assert ops(model) == {"Constant": 2, "Multiply": 1, "Relu": 1, "Reshape": 1}
    assert [str(d) for d in model.outputs[0].shape.dims] == ["2", "12"]
    check_outputs(model, run_ort(proto, {"x": X}), [X])


# --- FP16 decompression stays ----------------------------------------------------------------------------------

class SmallNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def decompressions(model: Model) -> list[Node]:
    return [n for n in model.ops() if n.type == "Convert" and "decompression" in n.rt_info]


def test_fp16_decompression_converts_stay() -> None:
    img = RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)
    proto = export(SmallNet(), img)
    model = irforge.convert_model(proto, compress_to_fp16=True)
    converts = decompressions(model)
    assert len(converts) == 4  # conv weight and bias, fc weight and bias
    assert all(c.inputs[0].node.type == "Constant" and c.inputs[0].element_type == Type.f16 for c in converts)
    before = ops(model)
    assert fold(model) == 0 and ops(model) == before and len(decompressions(model)) == 4
    # also after a trip through the IR (the mark is read back from rt_info) and the whole default pipeline
    reread = model_from_xml(*model_to_xml(model))
    PassManager(default_passes(), validate=True).run(reread)
    assert ops(reread) == before and len(decompressions(reread)) == 4
    want = run_ort(proto, {"x": img})
    check_outputs(model, want, [img], rtol=1e-2, atol=2e-3)
    check_outputs(reread, want, [img], rtol=1e-2, atol=2e-3)


def test_unmarked_f16_convert_folds() -> None:
    """The same Const(f16) -> Convert(f32) without the decompression mark (an ONNX Cast of an f16 initializer)
    is ordinary constant arithmetic and folds."""
    w = RNG.standard_normal((4, 5)).astype(np.float16)
    proto = onnx_model([helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
                        helper.make_node("MatMul", ["x", "w"], ["y"])],
                       [info("x", TensorProto.FLOAT, list(X.shape))], [info("y", TensorProto.FLOAT, [2, 3, 5])],
                       [numpy_helper.from_array(w, "w16")])
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"Constant": 1, "Convert": 1, "MatMul": 1}
    assert fold(model) == 1
    assert ops(model) == {"Constant": 1, "MatMul": 1}
    assert only(model, "MatMul").inputs[1].element_type == Type.f32
    check_outputs(model, run_ort(proto, {"x": X}), [X])


# --- low-precision weight dequantization stays -----------------------------------------------------------------

QUANT = {"i8": (TensorProto.INT8, np.int8), "u8": (TensorProto.UINT8, np.uint8)}


def dequantized_matmul(kind: str, zero_point: bool, per_axis: bool) -> onnx.ModelProto:
    """y = x @ DequantizeLinear(W) with W a quantized initializer (the layout ONNX's QDQ weight export uses)."""
    tp, dtype = QUANT[kind]
    info_ = np.iinfo(dtype)
    w = RNG.integers(info_.min, info_.max + 1, (4, 5)).astype(dtype)
    n = 5 if per_axis else 1
    scale = (RNG.random(n) * 0.05 + 0.01).astype(np.float32)
    zp = RNG.integers(info_.min, info_.max + 1, n).astype(dtype)
    if not per_axis:
        scale, zp = scale.reshape(()), zp.reshape(())
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(scale, "s")]
    args = ["w", "s"]
    if zero_point:
        inits.append(numpy_helper.from_array(zp, "z"))
        args.append("z")
    return onnx_model([helper.make_node("DequantizeLinear", args, ["wf"], axis=1),
                       helper.make_node("MatMul", ["x", "wf"], ["y"])],
                      [info("x", TensorProto.FLOAT, list(X.shape))], [info("y", TensorProto.FLOAT, [2, 3, 5])],
                      inits)


@pytest.mark.parametrize("per_axis", [True, False], ids=["per_axis", "per_tensor"])
@pytest.mark.parametrize("zero_point", [True, False], ids=["zp", "no_zp"])
@pytest.mark.parametrize("kind", QUANT)
def test_int8_weight_dequantization_chain_stays(kind: str, zero_point: bool, per_axis: bool) -> None:
    proto = dequantized_matmul(kind, zero_point, per_axis)
    chain = {"Convert": 1, "Multiply": 1, **({"Subtract": 1} if zero_point else {})}
    want_ops = {"Constant": 3 if zero_point else 2, "MatMul": 1, **chain}
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == want_ops
    assert fold(model) == 0 and ops(model) == want_ops
    convert = only(model, "Convert")
    assert convert.inputs[0].node.type == "Constant" and convert.inputs[0].element_type.name == kind
    want = run_ort_unoptimized(proto, {"x": X})
    check_outputs(model, want, [X])
    # the default pipeline keeps the chain too
    full = irforge.convert_model(proto)
    assert ops(full) == want_ops
    check_outputs(full, want, [X])


def weight_chain(et: Type, zp_type: Type | None) -> tuple[Model, np.ndarray]:
    """x @ ((Const(et) -> Convert) - zp) * scale, with the zero point an f32 Constant (zp_type None) or a
    low-precision Constant -> Convert as NNCF writes compressed weights; returns the model and its expected
    output for X computed in float64. (Built in IR: irforge's ONNX frontend does not read 4-bit initializers.)"""
    lo, hi = {"i4": (-8, 7), "u4": (0, 15), "i8": (-128, 127), "u8": (0, 255)}[et.name]
    w = RNG.integers(lo, hi + 1, (4, 5)).astype(et.dtype)
    zp = RNG.integers(lo, hi + 1, (1, 5)).astype(et.dtype)
    scale = (RNG.random((1, 5)) * 0.1 + 0.01).astype(np.float32)
    x = parameter(Type.f32, X.shape, "x")
    wc = make("Constant", [], name="w", element_type=et, shape=[4, 5])
    wc.data = w
    wf = make("Convert", [wc.output(0)], name="w/convert", destination_type=Type.f32).output(0)
    if zp_type is None:
        zpf = constant(zp.astype(np.float32), name="zp")
    else:
        zc = make("Constant", [], name="zp", element_type=zp_type, shape=[1, 5])
        zc.data = zp
        zpf = make("Convert", [zc.output(0)], name="zp/convert", destination_type=Type.f32).output(0)
    sub = make("Subtract", [wf, zpf], name="w/zero_point").output(0)
    mul = make("Multiply", [sub, constant(scale, name="scale")], name="w/scale").output(0)
    y = make("MatMul", [x.output(0), mul], name="y").output(0)
    model = Model([result(y, "y/sink_port_0")], [x])
    expected = X.astype(np.float64) @ ((w.astype(np.float64) - zp) * scale.astype(np.float64))
    return model, expected.astype(np.float32)


@pytest.mark.parametrize("et,zp_type", [(Type.i4, None), (Type.u4, Type.u4), (Type.i4, Type.i4), (Type.u8, Type.u8)],
                         ids=["i4_f32zp", "u4_u4zp", "i4_i4zp", "u8_u8zp"])
def test_low_bit_weight_dequantization_chain_stays(et: Type, zp_type: Type | None) -> None:
    model, want = weight_chain(et, zp_type)
    before = ops(model)
    assert fold(model) == 0 and ops(model) == before
    converts = [n for n in model.ops() if n.type == "Convert"]
    assert len(converts) == (1 if zp_type is None else 2)
    assert all(c.inputs[0].element_type == (et if c.name == "w/convert" else zp_type) for c in converts)
    check_outputs(model, [want], [X], atol=1e-4)


def test_integer_convert_that_is_not_dequantization_folds() -> None:
    """Convert of an i8 Constant to an integer type, and a float chain by a non-constant, are not weight
    dequantization: the first folds; the chain over the model input stays because it reads the input."""
    x = parameter(Type.f32, X.shape, "x")
    c = make("Constant", [], name="c", element_type=Type.i8, shape=[4])
    c.data = np.array([1, -2, 3, -4], np.int8)
    as_i32 = make("Convert", [c.output(0)], name="c/i32", destination_type=Type.i32).output(0)
    as_f32 = make("Convert", [as_i32], name="c/f32", destination_type=Type.f32).output(0)
    y = make("Multiply", [x.output(0), as_f32], name="y").output(0)
    model = Model([result(y, "y/sink_port_0")], [x])
    assert fold(model) == 2  # i8 -> i32 folds, then i32 -> f32 (not a low-precision source) folds
    assert ops(model) == {"Constant": 1, "Multiply": 1}
    check_outputs(model, [X * np.array([1, -2, 3, -4], np.float32)], [X])


class ByteMask(torch.nn.Module):
    """An additive attention mask from a uint8 buffer, as older exporters store it: (1 - mask) * -1e4."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mask", torch.tril(torch.ones(3, 4, dtype=torch.uint8)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (1.0 - self.mask.float()) * -10000.0


def test_u8_constant_outside_a_dequantization_chain_folds() -> None:
    """Convert(u8 Constant) feeding `1 - mask` (the Convert is the Subtract's second input, not data minus zero
    point) is not weight dequantization: the whole mask computation folds into one Constant."""
    proto = export(ByteMask())
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model) == {"Add": 1, "Constant": 3, "Convert": 1, "Multiply": 1, "Subtract": 1}
    assert fold(model) == 3
    assert ops(model) == {"Add": 1, "Constant": 1}
    check_outputs(model, run_ort(proto, {"x": X}), [X])

