"""Element-wise, activation, math, logical, conversion and quantization IR ops: REF against OpenVINO (through
irforge's own IR) for what the ONNX node cases do not reach (Swish, HSwish, HSigmoid, SoftSign, the trig family,
Round, Select with broadcast, per-channel FakeQuantize, ConvertLike, integer inputs) and the Q/DQ lowering."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.util import assert_close, run_openvino, run_ort, run_ref

RNG = np.random.default_rng(11)


def _check(outs: list[Output], params: list, inputs: list[np.ndarray], rtol: float = 1e-5, atol: float = 1e-6,
           openvino: bool = True) -> list[np.ndarray]:
    """REF (after an IR round trip) and, with `openvino`, OpenVINO agree; returns the REF outputs."""
    model = Model([result(o) for o in outs], params)
    model.validate()
    ref = run_ref(model_from_xml(*model_to_xml(model)), inputs)
    for o, r in zip(outs, ref):
        assert o.shape.compatible(r.shape), f"{o.node.type}: inferred {o.shape}, computed {r.shape}"
        assert r.dtype == o.element_type.dtype, f"{o.node.type}: inferred {o.element_type}, computed {r.dtype}"
    if openvino:
        assert_close(run_openvino(model, inputs), ref, rtol=rtol, atol=atol, what=outs[0].node.type)
    return ref


def _run(op: str, *arrays: np.ndarray, consts: tuple[Any, ...] = (), rtol: float = 1e-5, atol: float = 1e-6,
         openvino: bool = True, **attrs: Any) -> np.ndarray:
    """`op` on Parameters fed `arrays` then Constants `consts`; REF must match OpenVINO."""
    params = [parameter(Type.from_dtype(a.dtype), a.shape, f"x{i}") for i, a in enumerate(arrays)]
    ins = [p.output(0) for p in params] + [constant(c) for c in consts]
    return _check([make(op, ins, **attrs).output(0)], params, list(arrays), rtol, atol, openvino)[0]


def _uniform(lo: float, hi: float, shape: tuple[int, ...] = (2, 3, 4), dtype: Any = np.float32) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(dtype)


# ---------------------------------------------------------------- unary math and activations
UNARY_DOMAINS = {
    "Exp": (-5, 5), "Log": (0.01, 10), "Sqrt": (0, 10), "Erf": (-3, 3), "Abs": (-5, 5), "Negative": (-5, 5),
    "Sign": (-2, 2), "Floor": (-5, 5), "Ceiling": (-5, 5), "Sin": (-6, 6), "Cos": (-6, 6), "Tan": (-1.4, 1.4),
    "Asin": (-0.99, 0.99), "Acos": (-0.99, 0.99), "Atan": (-5, 5), "Sinh": (-3, 3), "Cosh": (-3, 3),
    "Asinh": (-5, 5), "Acosh": (1.01, 5), "Atanh": (-0.95, 0.95), "Sigmoid": (-8, 8), "Tanh": (-4, 4),
    "SoftPlus": (-30, 30), "SoftSign": (-5, 5), "Mish": (-6, 6), "HSwish": (-5, 5), "HSigmoid": (-5, 5),
    "Relu": (-3, 3),
}


@pytest.mark.parametrize("op", sorted(UNARY_DOMAINS))
def test_unary_float(op: str) -> None:
    _run(op, _uniform(*UNARY_DOMAINS[op]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["Abs", "Negative", "Sign", "Floor", "Ceiling", "Relu", "Sqrt", "Exp"])
def test_unary_integer(op: str) -> None:
    lo, hi = (0, 30) if op == "Sqrt" else (-4, 4) if op == "Exp" else (-9, 9)
    x = RNG.integers(lo, hi, (3, 5)).astype(np.int32)
    _run(op, x)


def test_integer_sqrt_rounds_half_away() -> None:
    x = np.array([4, 7, 9, 10, 2, 6], np.int32)
    np.testing.assert_array_equal(_run("Sqrt", x), [2, 3, 3, 3, 1, 2])


@pytest.mark.parametrize("mode", ["half_to_even", "half_away_from_zero"])
def test_round(mode: str) -> None:
    x = np.array([-4.5, -1.9, -1.5, -0.5, 0.5, 0.9, 1.5, 2.3, 2.5, 3.5], np.float32)
    want = {"half_to_even": [-4, -2, -2, 0, 0, 1, 2, 2, 2, 4], "half_away_from_zero": [-5, -2, -2, -1, 1, 1, 2, 2, 3, 4]}
    np.testing.assert_array_equal(_run("Round", x, mode=mode), want[mode])


@pytest.mark.parametrize("mode", ["ERF", "TANH"])
def test_gelu(mode: str) -> None:
    x = _uniform(-4, 4)
    got = _run("Gelu", x, approximation_mode=mode, atol=1e-5)
    import torch

    want = torch.nn.functional.gelu(torch.from_numpy(x), approximate="none" if mode == "ERF" else "tanh").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_swish() -> None:
    x = _uniform(-6, 6)
    np.testing.assert_allclose(_run("Swish", x), x / (1 + np.exp(-x)), rtol=1e-5, atol=1e-6)
    _run("Swish", x, consts=(np.float32(0.75),))


def test_softplus_large_values_are_exact() -> None:
    x = np.array([-100, -20, 0, 20, 50, 100], np.float32)
    got = _run("SoftPlus", x, atol=1e-5)  # OpenVINO's CPU kernel is off by ~2e-6 near 0
    np.testing.assert_allclose(got, np.logaddexp(0, x.astype(np.float64)), rtol=1e-6, atol=1e-40)


def test_elu_selu_hardsigmoid() -> None:
    x = _uniform(-4, 4)
    _run("Elu", x, alpha=0.7)
    _run("Selu", x, consts=(np.float32(1.6), np.float32(1.05)))
    got = _run("HardSigmoid", x, consts=(np.float32(0.3), np.float32(0.4)))
    np.testing.assert_allclose(got, np.clip(0.3 * x + 0.4, 0, 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("slope_shape", [(1,), (3,), (3, 1, 1), (5,), (2, 3, 4, 5)])
def test_prelu_slopes(slope_shape: tuple[int, ...]) -> None:
    """A 1-D slope as long as dim 1 (3) is per channel; every other slope broadcasts NumPy-style."""
    x = _uniform(-3, 3, (2, 3, 4, 5))
    slope = _uniform(0, 1, slope_shape)
    got = _run("PRelu", x, slope)
    s = slope.reshape(3, 1, 1) if slope_shape == (3,) else slope
    np.testing.assert_allclose(got, np.where(x < 0, x * s, x), rtol=1e-6)


def test_clamp() -> None:
    _run("Clamp", _uniform(-10, 10), min=-2.5, max=7.25)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_clamp_integer_rounds_bounds_inward(dtype: Any) -> None:
    """[2.5, 7.5] is [3, 7] for integers (OpenVINO's reference kernel; its CPU plugin agrees for i32, not u8)."""
    x = np.arange(0, 12).astype(dtype)
    got = _run("Clamp", x, min=2.5, max=7.5, openvino=dtype == np.int32)
    np.testing.assert_array_equal(got, np.clip(x, 3, 7))


# ---------------------------------------------------------------- binary arithmetic
@pytest.mark.parametrize("op", ["Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power", "FloorMod",
                                "Mod", "SquaredDifference"])
def test_binary_float_broadcast(op: str) -> None:
    a = _uniform(0.5, 3) if op == "Power" else _uniform(-5, 5)
    b = _uniform(0.5, 2, (3, 1)) * RNG.choice([-1, 1], (3, 1)).astype(np.float32)
    _run(op, a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["Add", "Subtract", "Multiply", "Maximum", "Minimum", "FloorMod", "Mod",
                                "SquaredDifference"])
def test_binary_integer(op: str) -> None:
    a = RNG.integers(-20, 20, (4, 5)).astype(np.int32)
    b = RNG.integers(1, 6, (5,)).astype(np.int32) * RNG.choice([-1, 1], (5,)).astype(np.int32)
    _run(op, a, b)


@pytest.mark.parametrize("pythondiv,want", [(True, [-4, 3, -4, 3, 0]), (False, [-3, 3, -3, 3, 0])])
def test_integer_divide(pythondiv: bool, want: list[int]) -> None:
    a = np.array([-7, 7, 7, -7, 0], np.int32)
    b = np.array([2, 2, -2, -2, 3], np.int32)
    # OpenVINO's reference kernel floors with m_pythondiv; its CPU plugin truncates i32 either way
    np.testing.assert_array_equal(_run("Divide", a, b, m_pythondiv=pythondiv, openvino=not pythondiv), want)


def test_integer_power() -> None:
    a = np.array([2, -3, 5, 1, -1, 0, 7], np.int32)
    b = np.array([3, 3, 0, 9, 3, 2, 2], np.int32)
    np.testing.assert_array_equal(_run("Power", a, b), a.astype(np.int64) ** b)


# ---------------------------------------------------------------- comparisons, logic, Select
@pytest.mark.parametrize("op", ["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"])
def test_comparisons(op: str) -> None:
    a = RNG.integers(0, 4, (3, 4)).astype(np.float32)
    _run(op, a, RNG.integers(0, 4, (4,)).astype(np.float32))


@pytest.mark.parametrize("op", ["LogicalAnd", "LogicalOr", "LogicalXor"])
def test_logical_binary(op: str) -> None:
    _run(op, RNG.integers(0, 2, (2, 3, 4)).astype(bool), RNG.integers(0, 2, (3, 1)).astype(bool))


def test_logical_not() -> None:
    _run("LogicalNot", RNG.integers(0, 2, (2, 5)).astype(bool))


def test_logical_xor_writes_opset2_and_reads_opset1() -> None:
    p = [parameter(Type.boolean, [2], n) for n in "ab"]
    node = make("LogicalXor", [q.output(0) for q in p])
    xml, blob = model_to_xml(Model([result(node.output(0))], p))
    assert b'type="LogicalXor" version="opset2"' in xml
    back = model_from_xml(xml.replace(b'version="opset2"', b'version="opset1"'), blob)
    assert [n.version for n in back.ops()] == ["opset1"]


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_select_broadcast(dtype: Any) -> None:
    cond = RNG.integers(0, 2, (3, 1, 5)).astype(bool)
    then = RNG.integers(-9, 9, (4, 5)).astype(dtype)
    other = RNG.integers(-9, 9, (1,)).astype(dtype)
    got = _run("Select", cond, then, other)
    np.testing.assert_array_equal(got, np.where(cond, then, other))


# ---------------------------------------------------------------- conversion
@pytest.mark.parametrize("src,dst", [(np.float32, Type.i32), (np.float32, Type.u8), (np.float32, Type.f16),
                                     (np.float32, Type.boolean), (np.int32, Type.f32), (np.int32, Type.u8),
                                     (np.int64, Type.i8), (np.uint8, Type.f32), (np.float32, Type.i64)])
def test_convert(src: Any, dst: Any) -> None:
    x = (RNG.uniform(-3, 300, (3, 7)) * RNG.choice([-1, 1], (3, 7))).astype(src)
    if dst in (Type.u8, Type.i8) and np.issubdtype(src, np.floating):
        x = np.abs(x) % 200  # out-of-range float -> integer conversion is undefined
    _run("Convert", x, destination_type=dst)


def test_convert_float_truncates() -> None:
    x = np.array([-1.7, -0.5, 0.5, 1.5, 2.5, 2.7], np.float32)
    np.testing.assert_array_equal(_run("Convert", x, destination_type=Type.i32), [-1, 0, 0, 1, 2, 2])


def test_convert_like() -> None:
    x = _uniform(-100, 100)
    got = _run("ConvertLike", x, consts=(np.zeros((), np.int16),))
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, np.trunc(x).astype(np.int16))


# ---------------------------------------------------------------- FakeQuantize
def test_fake_quantize_per_channel() -> None:
    x = _uniform(-3, 3, (2, 3, 4, 4))
    il = np.array([-1, -2, -0.5], np.float32).reshape(3, 1, 1)
    ih = np.array([1, 2.5, 0.5], np.float32).reshape(3, 1, 1)
    got = _run("FakeQuantize", x, consts=(il, ih, il * 2, ih * 2), levels=256, rtol=1e-5, atol=1e-4)
    assert len(np.unique(got[:, 0])) <= 256


def test_fake_quantize_per_tensor_levels() -> None:
    x = _uniform(-2, 2, (4, 16))
    got = _run("FakeQuantize", x, consts=(np.float32(-1), np.float32(1), np.float32(0), np.float32(4)), levels=5)
    np.testing.assert_array_equal(np.unique(got), np.unique(np.clip(np.round((x + 1) * 2), 0, 4)))


# ---------------------------------------------------------------- ONNX QuantizeLinear / DequantizeLinear lowering
def _onnx_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: dict[str, int],
                inits: list[onnx.TensorProto], opset: int = 21) -> onnx.ModelProto:
    outs = [helper.make_tensor_value_info(o, t, None) for o, t in outputs.items()]
    graph = helper.make_graph(nodes, "g", inputs, outs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("per_axis", [False, True])
def test_qdq_pair_becomes_one_fake_quantize(per_axis: bool) -> None:
    scale = np.array([0.02, 0.05, 0.1], np.float32) if per_axis else np.float32(0.03)
    zp = np.array([128, 100, 0], np.uint8) if per_axis else np.uint8(120)
    inits = [numpy_helper.from_array(np.asarray(scale), "s"), numpy_helper.from_array(np.asarray(zp), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1),
             helper.make_node("Relu", ["y"], ["r"])]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8])
    proto = _onnx_model(nodes, [x_info], {"r": TensorProto.FLOAT}, inits)
    model = irforge.convert_model(proto, optimize=False)  # the translation itself
    assert model.histogram() == {"Constant": 4, "FakeQuantize": 1, "Parameter": 1, "Relu": 1, "Result": 1}
    x = _uniform(-4, 4, (2, 3, 8))
    want = run_ort(proto, {"x": x})
    assert_close(run_ref(model, [x]), want, atol=1e-6)
    assert_close(run_openvino(model, [x]), want, atol=1e-5)


def test_quantized_tensor_also_used_keeps_its_convert() -> None:
    inits = [numpy_helper.from_array(np.float32(0.1), "s"), numpy_helper.from_array(np.int8(3), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    proto = _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10])], {"q": TensorProto.INT8, "y": TensorProto.FLOAT}, inits)
    model = irforge.convert_model(proto)
    assert model.histogram()["FakeQuantize"] == 2 and model.histogram()["Convert"] == 1
    x = _uniform(-20, 20, (10,))
    assert_close(run_ref(model, [x]), run_ort(proto, {"x": x}), atol=1e-6)


def test_dequantize_constant_weights_stay_compressed() -> None:
    w = RNG.integers(-128, 128, (4, 6)).astype(np.int8)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(0.5), "s"),
             numpy_helper.from_array(np.int8(-2), "z")]
    nodes = [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"]),
             helper.make_node("Add", ["x", "wf"], ["y"])]
    proto = _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])], {"y": TensorProto.FLOAT}, inits)
    model = irforge.convert_model(proto)
    assert [n.type for n in model.ops()] == ["Constant", "Convert", "Constant", "Subtract", "Constant", "Multiply",
                                             "Add"]
    assert model.ops()[0].attrs["element_type"] == Type.i8
    x = _uniform(-1, 1, (4, 6))
    assert_close(run_ref(model, [x]), run_ort(proto, {"x": x}), atol=1e-6)


# ---------------------------------------------------------------- IR written by OpenVINO itself
def test_reads_openvino_written_ir(tmp_path: Any) -> None:
    """Every op of this family as `openvino.save_model` spells it (attribute names, versions, PReLU, opset2
    LogicalXor) loads in irforge and computes what OpenVINO computes."""
    import openvino as ov
    from openvino import opset15 as o

    x, y = o.parameter([2, 3], np.float32, name="x"), o.parameter([2, 3], np.float32, name="y")
    c = {v: o.constant(np.float32(v)) for v in (0.0, 0.2, 0.5, 1.0, 1.5)}
    lt, gt = o.less(x, y), o.greater(x, y)
    outs = [
        o.power(x, y), o.maximum(x, y), o.minimum(x, y), o.floor_mod(x, y), o.mod(x, y), o.squared_difference(x, y),
        o.clamp(x, -1.0, 0.5), o.elu(x, 0.5), o.gelu(x, "tanh"), o.gelu(x, "erf"), o.swish(x), o.swish(x, c[1.5]),
        o.hswish(x), o.hsigmoid(x), o.mish(x), o.softplus(x), o.softsign(x), o.sigmoid(x), o.tanh(x), o.erf(x),
        o.hard_sigmoid(x, c[0.2], c[0.5]), o.selu(x, c[0.2], c[1.5]), o.prelu(x, o.constant(np.float32([0.2]))),
        o.round(x, "half_to_even"), o.round(x, "half_away_from_zero"), o.negative(x), o.ceiling(x), o.floor(x),
        o.asinh(x), o.acosh(o.add(x, c[1.5])), o.atanh(x), o.tan(x), o.asin(x), o.atan(x), o.sinh(x), o.cosh(x),
        o.convert(o.multiply(x, o.constant(np.float32(100))), "i32"), o.convert_like(x, o.constant(np.int8(1))),
        o.fake_quantize(x, c[0.0], c[1.0], c[0.0], c[1.5], 16), o.select(lt, x, y), o.logical_not(lt),
        o.logical_and(lt, gt), o.logical_or(lt, gt), o.logical_xor(lt, gt), o.equal(x, y), o.not_equal(x, y),
        o.less_equal(x, y), o.greater_equal(x, y),
    ]
    path = tmp_path / "m.xml"
    ov.save_model(ov.Model([o.result(n) for n in outs], [x, y]), path)
    model = irforge.Core().read_model(path)
    feeds = [_uniform(0.1, 0.9, (2, 3)), _uniform(0.1, 0.9, (2, 3))]
    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result_ov = compiled(feeds)
    assert_close(run_ref(model, feeds), [np.asarray(result_ov[p]) for p in compiled.outputs], rtol=1e-4, atol=1e-5)
