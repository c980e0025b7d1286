"""CPU lowerings of element-wise ops against REF: binary arithmetic and comparisons with broadcasting and
constant operands (as numbers and as tensors, first or second), integer types where torch and the reference agree,
unary math and activations, Select and Convert. f32 tolerance 1e-5 (transcendental functions: 1e-5 relative)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.cpu.helpers import check, graph, op, randn

BINARY = ["Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power", "SquaredDifference", "FloorMod",
          "Mod", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"]


def _pair(op_type: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = randn(2, 3, 4, 5), randn(1, 3, 1, 5)
    if op_type == "Power":
        a = np.abs(a) + 0.5
    if op_type in ("Divide", "FloorMod", "Mod"):
        b = np.where(np.abs(b) < 0.2, 0.7, b).astype(np.float32)
    if op_type.endswith("Equal"):
        b = np.round(b)
        a = np.round(a)
    return a, b


@pytest.mark.parametrize("op_type", BINARY)
def test_binary_runtime_operands_broadcast(op_type: str) -> None:
    a, b = _pair(op_type)
    model = graph(lambda p, q: op(op_type, p, q), a, b)
    check(model, [a, b], f"torch_{op_type.lower()}")


@pytest.mark.parametrize("op_type", BINARY)
@pytest.mark.parametrize("where", ["scalar_second", "scalar_first", "tensor_second", "tensor_first"])
def test_binary_with_constant(op_type: str, where: str) -> None:
    a, b = _pair(op_type)
    c = b.reshape(-1)[:1].reshape(()) if where.startswith("scalar") else b
    if where.endswith("first"):
        if op_type == "Power":
            a, c = np.abs(c).astype(np.float32) + 0.5, a
        model = graph(lambda p: op(op_type, c, p), a if op_type != "Power" else c)
        inputs = [a if op_type != "Power" else c]
    else:
        model = graph(lambda p: op(op_type, p, c), a)
        inputs = [a]
    check(model, inputs, f"torch_{op_type.lower()}")


@pytest.mark.parametrize("op_type", ["Add", "Subtract", "Multiply", "Maximum", "Minimum", "Equal", "Less",
                                     "GreaterEqual"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8])
def test_binary_integers(op_type: str, dtype: type) -> None:
    a = RNG.integers(-100, 100, (3, 4)).astype(dtype)
    b = RNG.integers(-100, 100, (1, 4)).astype(dtype)
    model = graph(lambda p, q: op(op_type, p, q), a, b)
    check(model, [a, b], f"torch_{op_type.lower()}")


def test_integer_division_and_power_use_reference() -> None:
    a = np.array([7, -7, 5], np.int64)
    b = np.array([2, 2, 0], np.int64)
    for t in ("Divide", "Power", "FloorMod", "Mod"):
        check(graph(lambda p, q: op(t, p, q), a, np.abs(b)), [a, np.abs(b)], None)


@pytest.mark.parametrize("op_type", ["LogicalAnd", "LogicalOr", "LogicalXor"])
def test_logical(op_type: str) -> None:
    a = RNG.random((3, 4)) > 0.5
    b = RNG.random((1, 4)) > 0.5
    check(graph(lambda p, q: op(op_type, p, q), a, b), [a, b], f"torch_{op_type.lower()}")
    check(graph(lambda p: op("LogicalNot", p), a), [a], "torch_logicalnot")


def test_select_broadcasts_and_takes_constants() -> None:
    c = RNG.random((2, 1, 4)) > 0.5
    a, b = randn(2, 3, 4), randn(4)
    check(graph(lambda p, q, r: op("Select", p, q, r), c, a, b), [c, a, b], "torch_select")
    check(graph(lambda p, q: op("Select", p, q, b), c, a), [c, a], "torch_select")


FLOAT_UNARY = ["Relu", "Abs", "Negative", "Sign", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Sin", "Cos", "Tan",
               "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Floor", "Ceiling", "SoftPlus",
               "SoftSign", "Mish", "HSwish", "HSigmoid"]


def _unary_input(op_type: str) -> np.ndarray:
    x = randn(2, 3, 4, 5, scale=3.0)
    if op_type in ("Log", "Sqrt"):
        x = np.abs(x) + 0.01
    if op_type in ("Asin", "Acos", "Atanh"):
        x = np.clip(x / 4, -0.99, 0.99).astype(np.float32)
    if op_type == "Acosh":
        x = np.abs(x) + 1.0
    return x


@pytest.mark.parametrize("op_type", FLOAT_UNARY)
def test_unary_float(op_type: str) -> None:
    x = _unary_input(op_type)
    check(graph(lambda p: op(op_type, p), x), [x], f"torch_{op_type.lower()}", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_type", ["Relu", "Abs", "Negative", "Sign"])
def test_unary_integers(op_type: str) -> None:
    x = RNG.integers(-50, 50, (3, 4)).astype(np.int32)
    check(graph(lambda p: op(op_type, p), x), [x], f"torch_{op_type.lower()}")


def test_unary_integer_rounding_ops_use_reference() -> None:
    x = RNG.integers(-50, 50, (3, 4)).astype(np.int64)
    check(graph(lambda p: op("Exp", p), x), [x], None)


@pytest.mark.parametrize("mode", ["half_to_even", "half_away_from_zero"])
def test_round(mode: str) -> None:
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6], np.float32)
    check(graph(lambda p: op("Round", p, mode=mode), x), [x], "torch_round")


@pytest.mark.parametrize("case", ["clamp", "relu6", "elu", "gelu_erf", "gelu_tanh", "swish", "swish_beta",
                                  "prelu_scalar", "prelu_channel", "prelu_broadcast", "selu", "hardsigmoid"])
def test_parametrized_activations(case: str) -> None:
    x = randn(2, 4, 3, 4, scale=3.0)
    builds = {
        "clamp": lambda p: op("Clamp", p, min=-1.5, max=0.7),
        "relu6": lambda p: op("Clamp", p, min=0.0, max=6.0),
        "elu": lambda p: op("Elu", p, alpha=0.7),
        "gelu_erf": lambda p: op("Gelu", p, approximation_mode="ERF"),
        "gelu_tanh": lambda p: op("Gelu", p, approximation_mode="TANH"),
        "swish": lambda p: op("Swish", p),
        "swish_beta": lambda p: op("Swish", p, np.array(1.7, np.float32)),
        "prelu_scalar": lambda p: op("PRelu", p, np.array([0.1], np.float32)),
        "prelu_channel": lambda p: op("PRelu", p, np.array([0.1, 0.2, 0.3, 0.4], np.float32)),
        "prelu_broadcast": lambda p: op("PRelu", p, randn(3, 1)),
        "selu": lambda p: op("Selu", p, np.array(1.67, np.float32), np.array(1.05, np.float32)),
        "hardsigmoid": lambda p: op("HardSigmoid", p, np.array(0.2, np.float32), np.array(0.5, np.float32)),
    }
    check(graph(builds[case], x), [x], "torch_", rtol=1e-5, atol=1e-6)


def test_prelu_with_runtime_slope() -> None:
    x, s = randn(2, 4, 3, 3), randn(4)
    check(graph(lambda p, q: op("PRelu", p, q), x, s), [x, s], "torch_prelu")


@pytest.mark.parametrize("src,dst", [("f32", "i32"), ("f32", "i64"), ("f32", "u8"), ("i64", "f32"), ("i32", "i8"),
                                     ("f32", "boolean"), ("i64", "boolean"), ("boolean", "f32"), ("f32", "f16"),
                                     ("f32", "bf16"), ("f32", "f32")])
def test_convert(src: str, dst: str) -> None:
    base = np.array([[-3.7, -0.5, 0.0, 0.2, 2.5, 300.9, np.nan, np.inf]], np.float64)
    if src == "f32":
        x = base.astype(np.float32)
        if dst == "u8":
            x = np.nan_to_num(np.abs(x), posinf=7.0).astype(np.float32)
    elif src == "boolean":
        x = base > 0
    else:
        x = np.nan_to_num(base, posinf=1e3).astype(np.int64 if src == "i64" else np.int32) * 3
    check(graph(lambda p: op("Convert", p, destination_type=dst), x), [x], "torch_convert")


RNG = np.random.default_rng(5)
