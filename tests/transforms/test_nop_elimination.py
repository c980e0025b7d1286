"""NopElimination on real graphs, and the training-only layers the ONNX frontend drops (Dropout in inference
mode, Identity). Each no-op spelling (ONNX node between a Relu and a Tanh) must vanish, leaving exactly Relu and
Tanh; each look-alike that does change the value (a reshape, a broadcast, a type change, real padding, a
permutation, 0 - x, 1 / x) must stay. Outputs on REF and OpenVINO must equal ONNX Runtime's on the original."""
from __future__ import annotations

import io
import os
import tempfile

import numpy as np
import onnx
import openvino as ov
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_to_xml
from irforge.transforms.base import PassManager
from irforge.transforms.nop_elimination import NopElimination
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4)).astype(np.float32)
X34 = RNG.standard_normal((3, 4)).astype(np.float32)


def i64(name: str, value: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, np.int64), name)


def f32(name: str, value: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, np.float32), name)


def node(op: str, *inputs: str, **attrs: object) -> onnx.NodeProto:
    """The node under test: reads `a` (= Relu(x)) and writes `b` (read by Tanh)."""
    return helper.make_node(op, list(inputs), ["b"], **attrs)


def between(middle: list[onnx.NodeProto], inits: list[onnx.TensorProto], shape: tuple[int, ...] = X.shape,
            opset: int = 13) -> onnx.ModelProto:
    """y = Tanh(middle(Relu(x))), the output shape left to inference."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), *middle, helper.make_node("Tanh", ["b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_value_info("y", helper.make_tensor_type_proto(TensorProto.FLOAT, None))],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def eliminate(model: Model) -> int:
    return PassManager([NopElimination()], validate=True).run(model).records[0].count


def check_outputs(model: Model, want: list[np.ndarray], inputs: list[np.ndarray], atol: float = 1e-6) -> None:
    assert_close(run_ref(model, inputs), want, rtol=1e-6, atol=atol, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, inputs), want, rtol=1e-6, atol=atol, what="OpenVINO vs ONNX Runtime")


# --- no-ops that go --------------------------------------------------------------------------------------------

NOPS: dict[str, tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]] = {
    "reshape_same": ([node("Reshape", "a", "s")], [i64("s", [2, 3, 4])], "Reshape"),
    "reshape_special_zero": ([node("Reshape", "a", "s")], [i64("s", [0, 0, -1])], "Reshape"),
    "squeeze_nothing": ([node("Squeeze", "a")], [], "Squeeze"),
    "expand_same": ([node("Expand", "a", "s")], [i64("s", [2, 3, 4])], "Broadcast"),
    "expand_ones": ([node("Expand", "a", "s")], [i64("s", [1])], "Broadcast"),
    "transpose_identity": ([node("Transpose", "a", perm=[0, 1, 2])], [], "Transpose"),
    "pad_zero": ([node("Pad", "a", "p")], [i64("p", [0] * 6)], "Pad"),
    "pad_zero_reflect": ([node("Pad", "a", "p", mode="reflect")], [i64("p", [0] * 6)], "Pad"),
    "pad_zero_value": ([node("Pad", "a", "p", "v")], [i64("p", [0] * 6), f32("v", 5.0)], "Pad"),
    "concat_one_input": ([node("Concat", "a", axis=1)], [], "Concat"),
    "tile_ones": ([node("Tile", "a", "r")], [i64("r", [1, 1, 1])], "Tile"),
    "mul_by_one": ([node("Mul", "a", "c")], [f32("c", 1.0)], "Multiply"),
    "one_mul_per_channel": ([node("Mul", "c", "a")], [f32("c", [1, 1, 1, 1])], "Multiply"),
    "add_zero": ([node("Add", "a", "c")], [f32("c", 0.0)], "Add"),
    "zero_add_full": ([node("Add", "c", "a")], [f32("c", np.zeros((3, 4)))], "Add"),
    "add_negative_zero": ([node("Add", "a", "c")], [f32("c", -0.0)], "Add"),
    "sub_zero": ([node("Sub", "a", "c")], [f32("c", 0.0)], "Subtract"),
    "div_by_one": ([node("Div", "a", "c")], [f32("c", [1.0])], "Divide"),
}


@pytest.mark.parametrize("case", NOPS.values(), ids=NOPS.keys())
def test_nop_is_removed(case: tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]) -> None:
    middle, inits, op = case
    proto = between(middle, inits)
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model).get(op) == 1
    assert eliminate(model) == 1
    assert ops(model) == {"Relu": 1, "Tanh": 1}  # its constant inputs went with it
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_pad_opset2_zero_pads_attribute() -> None:
    proto = between([node("Pad", "a", pads=[0] * 6)], [], opset=10)
    model = irforge.convert_model(proto, optimize=False)
    assert ops(model).get("Pad") == 1
    assert eliminate(model) == 1 and ops(model) == {"Relu": 1, "Tanh": 1}
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_chain_of_nops_in_one_sweep() -> None:
    """Several no-ops in a row (and the shape sub-graphs the exporter builds for pad/expand) go in one run."""
    proto = between([helper.make_node("Reshape", ["a", "s"], ["a1"]),
                     helper.make_node("Mul", ["a1", "one"], ["a2"]),
                     helper.make_node("Transpose", ["a2"], ["a3"], perm=[0, 1, 2]),
                     helper.make_node("Concat", ["a3"], ["a4"], axis=0),
                     node("Add", "zero", "a4")], [i64("s", [2, 3, 4]), f32("one", 1.0), f32("zero", 0.0)])
    model = irforge.convert_model(proto, optimize=False)
    assert eliminate(model) == 5 and ops(model) == {"Relu": 1, "Tanh": 1}
    check_outputs(model, run_ort(proto, {"x": X}), [X])


class TorchNops(torch.nn.Module):
    """What torch writes for no-op tensor code: reshape to the same shape, identity permute, cat of one, zero
    F.pad (a Pad over a ConstantOfShape/Concat sub-graph), eval-mode dropout, expand to the same shape
    (Expand of a Where/Equal sub-graph), / 1, repeat by ones."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(x).reshape(2, 3, 4).permute(0, 1, 2)
        a = F.pad(torch.cat([a], 1), (0, 0, 0, 0))
        a = F.dropout(a, 0.3, training=False).expand(2, 3, 4) / 1
        return torch.tanh(a.repeat(1, 1, 1))


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_torch_nops_are_removed(opset: int) -> None:
    f = io.BytesIO()
    torch.onnx.export(TorchNops(), (torch.from_numpy(X),), f, opset_version=opset, dynamo=False,
                      input_names=["x"], do_constant_folding=False)
    proto = onnx.load_from_string(f.getvalue())
    model = irforge.convert_model(proto, optimize=False)
    assert {"Reshape", "Concat", "Pad", "Broadcast", "Divide", "Tile"} <= set(ops(model))
    assert eliminate(model) == 7  # Reshape, Concat, Pad, 2 x Broadcast (expand), Divide, Tile
    assert ops(model) == {"Relu": 1, "Tanh": 1}
    check_outputs(model, run_ort(proto, {"x": X}), [X])


@pytest.mark.parametrize("op", ["Convert", "ConvertLike"])
def test_convert_to_same_type_is_removed(op: str) -> None:
    """(The ONNX frontend already drops Cast/CastLike to the same type, so this graph is built in IR.)"""
    x = parameter(Type.f32, X.shape, "x")
    a = make("Relu", [x.output(0)], name="a").output(0)
    if op == "Convert":
        b = make("Convert", [a], name="b", destination_type=Type.f32).output(0)
    else:
        b = make("ConvertLike", [a, constant(np.zeros(1, np.float32))], name="b").output(0)
    model = Model([result(make("Tanh", [b], name="y").output(0), "y/sink_port_0")], [x])
    assert eliminate(model) == 1 and ops(model) == {"Relu": 1, "Tanh": 1}
    check_outputs(model, [np.tanh(np.maximum(X, 0))], [X])


# --- look-alikes that stay -------------------------------------------------------------------------------------

KEEPS: dict[str, tuple[list[onnx.NodeProto], list[onnx.TensorProto], tuple[int, ...], str]] = {
    "reshape_changes_shape": ([node("Reshape", "a", "s")], [i64("s", [6, 4])], X.shape, "Reshape"),
    "mul_by_one_broadcasts": ([node("Mul", "a", "c")], [f32("c", np.ones((2, 3, 4)))], X34.shape, "Multiply"),
    "one_mul_broadcasts": ([node("Mul", "c", "a")], [f32("c", np.ones((2, 1, 1)))], X34.shape, "Multiply"),
    "add_zero_broadcasts": ([node("Add", "a", "c")], [f32("c", np.zeros((2, 3, 4)))], X34.shape, "Add"),
    "mul_not_all_ones": ([node("Mul", "a", "c")], [f32("c", [1, 1, 1, 2])], X.shape, "Multiply"),
    "zero_minus_x": ([node("Sub", "c", "a")], [f32("c", 0.0)], X.shape, "Subtract"),
    "one_over_x": ([node("Div", "c", "a")], [f32("c", 1.0)], X.shape, "Divide"),
    "cast_to_f16": ([helper.make_node("Cast", ["a"], ["h"], to=TensorProto.FLOAT16),
                     node("Cast", "h", to=TensorProto.FLOAT)], [], X.shape, "Convert"),
    "cast_to_int": ([helper.make_node("Cast", ["a"], ["i"], to=TensorProto.INT32),
                     node("Cast", "i", to=TensorProto.FLOAT)], [], X.shape, "Convert"),
    "pad_nonzero": ([node("Pad", "a", "p")], [i64("p", [0, 1, 0, 0, 0, 1])], X.shape, "Pad"),
    "pad_shift_same_shape": ([node("Pad", "a", "p")], [i64("p", [0, 1, 0, 0, -1, 0])], X.shape, "Pad"),
    "transpose_permutes": ([node("Transpose", "a", perm=[0, 2, 1])], [], X.shape, "Transpose"),
    "concat_two": ([node("Concat", "a", "a", axis=1)], [], X.shape, "Concat"),
    "tile_repeats": ([node("Tile", "a", "r")], [i64("r", [1, 2, 1])], X.shape, "Tile"),
    "expand_larger": ([node("Expand", "a", "s")], [i64("s", [2, 2, 3, 4])], X.shape, "Broadcast"),
    "squeeze_unit_dim": ([node("Squeeze", "a", "ax")], [i64("ax", [1])], (2, 1, 4), "Squeeze"),
}


@pytest.mark.parametrize("case", KEEPS.values(), ids=KEEPS.keys())
def test_lookalike_stays(case: tuple[list[onnx.NodeProto], list[onnx.TensorProto], tuple[int, ...], str]) -> None:
    middle, inits, shape, op = case
    proto = between(middle, inits, shape)
    model = irforge.convert_model(proto, optimize=False)
    before = ops(model)
    assert before.get(op, 0) >= 1
    assert eliminate(model) == 0 and ops(model) == before
    x = RNG.standard_normal(shape).astype(np.float32)
    # (after the f16 round trip OpenVINO's tanh lands up to 2e-4 from ONNX Runtime's)
    check_outputs(model, run_ort(proto, {"x": x}), [x], atol=1e-3 if op == "Convert" else 1e-6)


def ov_port_names(model: Model) -> tuple[list[set[str]], list[set[str]]]:
    """The tensor names OpenVINO reads for each input and output of our IR."""
    xml, blob = model_to_xml(model)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "m.xml"), "wb") as f:
            f.write(xml)
        with open(os.path.join(d, "m.bin"), "wb") as f:
            f.write(blob)
        m = ov.Core().read_model(os.path.join(d, "m.xml"))
        return [set(p.get_names()) for p in m.inputs], [set(p.get_names()) for p in m.outputs]


def test_nop_from_input_to_output_stays() -> None:
    """x -> Reshape(same) -> output 'a': bypassing would make the input and the output one tensor (the input
    would be renamed 'a' as well), so the Reshape stays, as OpenVINO's replace_output_update_name decides."""
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["a"]), helper.make_node("Relu", ["x"], ["r"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(X.shape)),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, list(X.shape))], [i64("s", X.shape)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model = irforge.convert_model(proto, optimize=False)
    assert eliminate(model) == 0 and ops(model) == {"Constant": 1, "Relu": 1, "Reshape": 1}
    assert model.inputs[0].names == {"x"} and model.output_names() == ["a", "r"]
    assert ov_port_names(model) == ([{"x"}], [{"a"}, {"r"}])
    check_outputs(model, run_ort(proto, {"x": X}), [X])


def test_nop_after_a_model_output_stays() -> None:
    """r = Relu(x) is an output and so is Reshape(r) (same shape): merged they would be one tensor with both
    names; they stay apart. A nop feeding no output in the same graph still goes (its tensor name 'm' moves
    to r, as OpenVINO moves names on replace)."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Reshape", ["r", "s"], ["a"]),
         helper.make_node("Mul", ["r", "one"], ["m"]), helper.make_node("Tanh", ["m"], ["t"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(X.shape)) for n in ("r", "a", "t")],
        [i64("s", X.shape), f32("one", 1.0)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model = irforge.convert_model(proto, optimize=False)
    assert eliminate(model) == 1  # the Multiply by 1
    assert ops(model) == {"Constant": 1, "Relu": 1, "Reshape": 1, "Tanh": 1}
    assert ov_port_names(model) == ([{"x"}], [{"r", "m"}, {"a"}, {"t"}])
    check_outputs(model, run_ort(proto, {"x": X}), [X])


# --- training-only layers: Dropout (inference) and Identity vanish in the ONNX frontend ------------------------

def dropout_model(opset: int, use_mask: bool) -> onnx.ModelProto:
    """y = Tanh(Identity(Dropout(Relu(x)))) and, when the mask is used, m = Relu(x) * mask (Cast to float first
    from opset 10, where the mask became bool). Opset 7 and 10 give the ratio as an attribute, 12 and 13 as an
    input (with training_mode=false)."""
    inits: list[onnx.TensorProto] = []
    args = ["r"]
    attrs: dict[str, object] = {}
    if opset < 12:
        attrs["ratio"] = 0.3
    else:
        inits += [f32("ratio", 0.3), numpy_helper.from_array(np.array(False), "training_mode")]
        args += ["ratio", "training_mode"]
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Dropout", args, ["d", "mask"] if use_mask else ["d"], **attrs),
             helper.make_node("Identity", ["d"], ["i"]), helper.make_node("Tanh", ["i"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(X.shape))]
    if use_mask:
        mask = "mask"
        if opset >= 10:
            nodes.append(helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT))
            mask = "maskf"
        nodes.append(helper.make_node("Mul", ["r", mask], ["m"]))
        outputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, list(X.shape)))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
                              outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(proto, full_check=True)
    return proto


@pytest.mark.parametrize("use_mask", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("opset", [7, 10, 12, 13])
def test_dropout_and_identity_vanish(opset: int, use_mask: bool) -> None:
    proto = dropout_model(opset, use_mask)
    model = irforge.convert_model(proto, optimize=False)
    # no trace of Dropout/Identity: the mask is a Constant of ones (Converted from bool from opset 10 on)
    want_ops = {"Relu": 1, "Tanh": 1}
    if use_mask:
        want_ops.update({"Constant": 1, "Multiply": 1, **({"Convert": 1} if opset >= 10 else {})})
    assert ops(model) == want_ops
    assert model.output_names() == (["y", "m"] if use_mask else ["y"])
    want = run_ort(proto, {"x": X})
    if use_mask and opset < 12:
        # ONNX Runtime fills an inference-mode mask with zeros before opset 12 (false / 0.0); the ONNX reference
        # evaluator and OpenVINO's frontend give ones (nothing is dropped), as irforge does: m = Relu(x) * 1
        assert not want[1].any()
        want[1] = np.maximum(X, 0)
    check_outputs(model, want, [X])
    # the default pipeline folds the mask's Convert and drops the Multiply by ones (NopElimination)
    full = irforge.convert_model(proto)
    assert ops(full) == {"Relu": 1, "Tanh": 1}
    assert full.output_names() == model.output_names()
    check_outputs(full, want, [X])


def test_dropout_training_mode_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Dropout", ["x", "ratio", "t"], ["y"], name="drop1")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(X.shape))],
        [f32("ratio", 0.3), numpy_helper.from_array(np.array(True), "t")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(irforge.IRForgeError, match="drop1.*training_mode"):
        irforge.convert_model(proto)
