"""Activation fusions on real graphs: small torch modules exported to ONNX (opsets where torch decomposes the
activation) and a few hand-built ONNX graphs for spellings torch does not write. Each fused model must have
exactly the expected ops, and its REF and OpenVINO outputs must equal ONNX Runtime's on the original graph."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper

import irforge
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.transforms.base import PassManager, PatternPass
from irforge.transforms.fusions_activation import (
    ACTIVATION_FUSIONS, ClampFusion, GeluFusion, HSigmoidFusion, HSwishFusion, LeakyReluFusion, MishFusion,
    PReluFusion, SoftPlusFusion, SwishFusion)
from tests.torch_export import export_onnx
from tests.util import assert_close, run_openvino, run_ort, run_ref

# Wide enough to reach every branch (relu6 saturates at -3 and 3). The last dim equals dim 1 on purpose: a
# 1-D slope of that length means "last axis" to NumPy but "per channel" to OpenVINO's PRelu.
X = (np.random.default_rng(0).standard_normal((2, 4, 3, 4)) * 3).astype(np.float32)
SQRT2 = 1.4142135623730951
K_TANH = 0.7978845608028654  # sqrt(2/pi)
# Tensors made outside the traced functions (torch warns about tensors created during tracing).
ZERO, SIX, LO, HI = torch.tensor(0.0), torch.tensor(6.0), torch.tensor(-1.0), torch.tensor(2.0)
RAMP = torch.tensor([0.1, 0.2, 0.3, 0.4])


def export(module: torch.nn.Module | Callable[..., object], opset: int = 13) -> onnx.ModelProto:
    return export_onnx(module, [X], opset=opset, input_names=["x"])


def hard_sigmoid(alpha: float, beta: float) -> onnx.ModelProto:
    """One ONNX HardSigmoid node: the frontend makes HSigmoid only of float32(1/6) exactly."""
    info = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("HardSigmoid", ["x"], ["y"], alpha=alpha, beta=beta)], "g",
                              [info("x", TensorProto.FLOAT, X.shape)], [info("y", TensorProto.FLOAT, X.shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def fuse(proto: onnx.ModelProto, fusions: list[PatternPass]) -> tuple[Model, int]:
    model = irforge.convert_model(proto, optimize=False)
    report = PassManager(fusions, validate=True).run(model)
    return model, sum(r.count for r in report.records)


def check_fused(proto: onnx.ModelProto, fusion: PatternPass, want: dict[str, int], atol: float = 2e-6) -> Model:
    """Fuse, then: exactly `want` ops left, and REF and OpenVINO both give ONNX Runtime's outputs."""
    model, count = fuse(proto, [fusion])
    assert ops(model) == want and count == 1
    expected = run_ort(proto, {"x": X})
    assert_close(run_ref(model, [X]), expected, rtol=1e-5, atol=atol, what="REF vs ONNX Runtime")
    assert_close(run_openvino(model, [X]), expected, rtol=1e-5, atol=atol, what="OpenVINO vs ONNX Runtime")
    return model


def check_not_fused(proto: onnx.ModelProto, fusion: PatternPass) -> None:
    before = ops(irforge.convert_model(proto, optimize=False))
    model, count = fuse(proto, [fusion])
    assert count == 0 and ops(model) == before


def only(model: Model, op: str) -> object:
    (node,) = [n for n in model.ops() if n.type == op]
    return node


# --- GeluFusion -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", [11, 13, 17])
def test_gelu_erf_torch(opset: int) -> None:
    model = check_fused(export(torch.nn.GELU(), opset), GeluFusion(), {"Gelu": 1})
    gelu = only(model, "Gelu")
    assert gelu.attrs["approximation_mode"] == "ERF"
    assert gelu.name == "/Mul_1"  # the fused node keeps the name of the pattern's root


@pytest.mark.parametrize("opset", [11, 17])
def test_gelu_tanh_torch(opset: int) -> None:
    model = check_fused(export(torch.nn.GELU(approximate="tanh"), opset), GeluFusion(), {"Gelu": 1})
    assert only(model, "Gelu").attrs["approximation_mode"] == "TANH"


GELU_VARIANTS = {
    "half_x_first": lambda x: (0.5 * x) * (1 + torch.erf(x / SQRT2)),
    "half_last_mul_rsqrt2": lambda x: x * (torch.erf(x * 0.7071067811865476) + 1) * 0.5,
    "half_inside": lambda x: x * (0.5 * (1 + torch.erf(x / SQRT2))),
    "half_plus_half_erf": lambda x: x * (0.5 + 0.5 * torch.erf(x * (1 / SQRT2))),
    "divided_by_two": lambda x: x * (1 + torch.erf(x / SQRT2)) / 2,
    "tanh_pow": lambda x: x * (0.5 * (1 + torch.tanh(K_TANH * (x + 0.044715 * torch.pow(x, 3))))),
    "tanh_x_half_first": lambda x: (x * 0.5) * (1 + torch.tanh(K_TANH * (x + 0.044715 * x * x * x))),
    "tanh_no_power": lambda x: x * 0.5 * (1 + torch.tanh((x * 0.044715 * x + 1) * (x * K_TANH))),
}


@pytest.mark.parametrize("fn", GELU_VARIANTS.values(), ids=GELU_VARIANTS.keys())
def test_gelu_variants(fn: Callable[..., object]) -> None:
    check_fused(export(fn), GeluFusion(), {"Gelu": 1})


def test_gelu_constant_within_openvino_tolerance() -> None:
    """1/sqrt(2) written with 4 digits is within OpenVINO's 1e-3: fused (the result moves by ~1e-5)."""
    check_fused(export(lambda x: x * (torch.erf(x * 0.7071) + 1) * 0.5), GeluFusion(), {"Gelu": 1}, atol=1e-4)


GELU_NEAR_MISSES = {
    "not_half": lambda x: x * (1 + torch.erf(x / SQRT2)) * 0.6,
    "not_sqrt2": lambda x: x * (1 + torch.erf(x / 1.5)) * 0.5,
    "not_plus_one": lambda x: x * (1.1 + torch.erf(x / SQRT2)) * 0.5,
    "other_tensor": lambda x: (x + 1) * (1 + torch.erf(x / SQRT2)) * 0.5,
    "tanh_kappa": lambda x: x * (0.5 * (1 + torch.tanh(K_TANH * (x + 0.05 * torch.pow(x, 3))))),
    "tanh_square": lambda x: x * (0.5 * (1 + torch.tanh(K_TANH * (x + 0.044715 * torch.pow(x, 2))))),
    "erf_used_twice": lambda x: (x * (1 + torch.erf(x / SQRT2)) * 0.5, torch.erf(x / SQRT2)),
}


@pytest.mark.parametrize("fn", GELU_NEAR_MISSES.values(), ids=GELU_NEAR_MISSES.keys())
def test_gelu_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), GeluFusion())


def test_gelu_constant_that_broadcasts_is_not_fused() -> None:
    half = torch.full((1, 1, 1, 1, 1), 0.5)  # one element, but it makes the result rank 5
    check_not_fused(export(lambda x: x * (1 + torch.erf(x / SQRT2)) * half), GeluFusion())


# --- SwishFusion ------------------------------------------------------------------------------------------------

SWISH = {
    "silu": (torch.nn.SiLU(), {"Swish": 1}),
    "x_sigmoid_x": (lambda x: x * torch.sigmoid(x), {"Swish": 1}),
    "beta": (lambda x: x * torch.sigmoid(1.5 * x), {"Swish": 1, "Constant": 1}),
    "exp_form": (lambda x: x / (1 + torch.exp(-x)), {"Swish": 1}),
    "exp_form_beta": (lambda x: x / (1 + torch.exp(-x * 2)), {"Swish": 1, "Constant": 1}),
    "uniform_beta_tensor": (lambda x: x * torch.sigmoid(x * torch.full((4, 1, 1), 0.75)), {"Swish": 1, "Constant": 1}),
}


@pytest.mark.parametrize("case", SWISH.values(), ids=SWISH.keys())
def test_swish(case: tuple[object, dict[str, int]]) -> None:
    fn, want = case
    model = check_fused(export(fn), SwishFusion(), want)
    beta = [n for n in model.ops() if n.type == "Constant"]
    assert all(b.data.shape == () for b in beta)  # Swish takes beta as a scalar


SWISH_NEAR_MISSES = {
    "other_tensor": lambda x: x * torch.sigmoid(x + 1),
    "beta_not_uniform": lambda x: x * torch.sigmoid(x * RAMP),
    "beta_broadcasts": lambda x: x * torch.sigmoid(x * torch.full((1, 1, 1, 1, 1), 1.5)),
    "exp_form_plus_two": lambda x: x / (2 + torch.exp(-x)),
    "sigmoid_used_twice": lambda x: (x * torch.sigmoid(x), torch.sigmoid(x)),
}


@pytest.mark.parametrize("fn", SWISH_NEAR_MISSES.values(), ids=SWISH_NEAR_MISSES.keys())
def test_swish_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), SwishFusion())


# --- HSigmoidFusion / HSwishFusion ------------------------------------------------------------------------------

HSIGMOID = {
    "relu6_div": lambda x: F.relu6(x + 3) / 6,
    "relu_min_mul": lambda x: torch.minimum(torch.relu(x + 3), SIX) * (1 / 6),
    "max_min_div": lambda x: torch.minimum(torch.maximum(x + 3, ZERO), SIX) / 6,
    "min_relu_div": lambda x: torch.relu(torch.minimum(x + 3, SIX)) / 6,
}


@pytest.mark.parametrize("fn", HSIGMOID.values(), ids=HSIGMOID.keys())
def test_hsigmoid(fn: Callable[..., object]) -> None:
    check_fused(export(fn), HSigmoidFusion(), {"HSigmoid": 1})


def test_hard_sigmoid_op_with_hsigmoid_constants() -> None:
    """alpha = 0.16667 is not float32(1/6), so the frontend keeps HardSigmoid; it is within 1e-4: fused."""
    proto = hard_sigmoid(0.16667, 0.5)
    assert ops(irforge.convert_model(proto, optimize=False)) == {"HardSigmoid": 1, "Constant": 2}
    check_fused(proto, HSigmoidFusion(), {"HSigmoid": 1}, atol=1e-5)


@pytest.mark.parametrize("proto", [export(lambda x: F.relu6(x + 2) / 6), export(lambda x: F.relu6(x + 3) / 5),
                                   export(lambda x: torch.clamp(x + 3, 0, 5) / 6), hard_sigmoid(0.2, 0.5)],
                         ids=["plus_two", "div_five", "clamp_to_five", "hard_sigmoid_0.2"])
def test_hsigmoid_near_misses(proto: onnx.ModelProto) -> None:
    check_not_fused(proto, HSigmoidFusion())


HSWISH = {
    "hardswish_opset11": (torch.nn.Hardswish(), 11),
    "hardswish_opset13": (torch.nn.Hardswish(), 13),
    "x_relu6_div": (lambda x: x * F.relu6(x + 3) / 6, 13),
    "x_relu_min_mul": (lambda x: x * torch.minimum(torch.relu(x + 3), SIX) * (1 / 6), 13),
    "x_div_first": (lambda x: x / 6 * F.relu6(x + 3), 13),
    "x_times_hsigmoid_pattern": (lambda x: x * (F.relu6(x + 3) / 6), 13),
    "x_max_min": (lambda x: x * torch.minimum(torch.maximum(x + 3, ZERO), SIX) / 6, 13),
}


@pytest.mark.parametrize("case", HSWISH.values(), ids=HSWISH.keys())
def test_hswish(case: tuple[object, int]) -> None:
    fn, opset = case
    check_fused(export(fn, opset), HSwishFusion(), {"HSwish": 1})


def test_hsigmoid_then_hswish() -> None:
    """Run in order, HSigmoidFusion takes the inner relu6(x+3)/6 and HSwishFusion then takes x * HSigmoid(x)."""
    proto = export(lambda x: x * (F.relu6(x + 3) / 6))
    model, count = fuse(proto, [HSigmoidFusion(), HSwishFusion()])
    assert ops(model) == {"HSwish": 1} and count == 2


@pytest.mark.parametrize("fn", [lambda x: x * F.relu6(x + 2) / 6, lambda x: x * F.relu6(x + 3) / 3,
                                lambda x: (x + 1) * F.relu6(x + 3) / 6,
                                lambda x: (x * F.relu6(x + 3) / 6, F.relu6(x + 3))],
                         ids=["plus_two", "div_three", "other_tensor", "relu6_used_twice"])
def test_hswish_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), HSwishFusion())


# --- SoftPlusFusion / MishFusion --------------------------------------------------------------------------------

def test_softplus() -> None:
    check_fused(export(lambda x: torch.log(torch.exp(x) + 1)), SoftPlusFusion(), {"SoftPlus": 1})


@pytest.mark.parametrize("fn", [lambda x: torch.log(torch.exp(x) + 2), lambda x: torch.log(torch.exp(x) + x),
                                lambda x: (torch.log(torch.exp(x) + 1), torch.exp(x))],
                         ids=["plus_two", "plus_x", "exp_used_twice"])
def test_softplus_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), SoftPlusFusion())


@pytest.mark.parametrize("fn", [torch.nn.Mish(), lambda x: x * torch.tanh(torch.log(torch.exp(x) + 1))],
                         ids=["nn_mish", "log_exp"])
def test_mish(fn: Callable[..., object]) -> None:
    check_fused(export(fn), MishFusion(), {"Mish": 1})


@pytest.mark.parametrize("fn", [lambda x: x * torch.tanh(torch.log(torch.exp(x) + 2)),
                                lambda x: x * torch.tanh(F.softplus(x + 1)),
                                lambda x: (x * torch.tanh(F.softplus(x)), torch.tanh(F.softplus(x)))],
                         ids=["plus_two", "other_tensor", "tanh_used_twice"])
def test_mish_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), MishFusion())


# --- LeakyReluFusion / PReluFusion ------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [lambda x: torch.maximum(x, 0.1 * x), lambda x: torch.maximum(x * 0.2, x),
                                lambda x: torch.maximum(x, -0.5 * x)],
                         ids=["alpha_0.1", "swapped", "negative_alpha"])
def test_leaky_relu(fn: Callable[..., object]) -> None:
    check_fused(export(fn), LeakyReluFusion(), {"PRelu": 1, "Constant": 1})


@pytest.mark.parametrize("fn", [lambda x: torch.maximum(x, 2 * x),
                                lambda x: torch.maximum(x, x * RAMP),
                                lambda x: torch.maximum(x, 0.1 * (x + 1))],
                         ids=["alpha_above_one", "tensor_alpha", "other_tensor"])
def test_leaky_relu_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), LeakyReluFusion())


W_CHANNEL = RAMP.reshape(4, 1, 1)
W_LAST = RAMP  # NumPy: the last axis (which also has length 4 = dim 1)
PRELU = {
    "minus_relu_neg": lambda x: torch.relu(x) - 0.25 * torch.relu(-x),
    "plus_neg_relu_neg": lambda x: torch.relu(x) + (-torch.relu(-x)) * 0.25,
    "plus_relu_neg_negative_slope": lambda x: torch.relu(x) + (-0.25) * torch.relu(-x),
    "mul_minus_one": lambda x: torch.relu(x) - torch.relu(x * -1) * 0.25,
    "abs": lambda x: torch.relu(x) + 0.25 * (x - torch.abs(x)) * 0.5,
    "abs_half_first": lambda x: torch.relu(x) + (x - torch.abs(x)) * 0.5 * 0.25,
    "per_channel_slope": lambda x: torch.relu(x) - W_CHANNEL * torch.relu(-x),
    "last_axis_slope": lambda x: torch.relu(x) - W_LAST * torch.relu(-x),
}


@pytest.mark.parametrize("fn", PRELU.values(), ids=PRELU.keys())
def test_prelu(fn: Callable[..., object]) -> None:
    check_fused(export(fn), PReluFusion(), {"PRelu": 1, "Constant": 1})


@pytest.mark.parametrize("fn", [lambda x: torch.relu(x) - 0.25 * torch.relu(x),
                                lambda x: torch.relu(x) + 0.25 * (x - torch.abs(x)) * 0.6,
                                lambda x: torch.relu(x) - 0.25 * torch.relu(-(x + 1)),
                                lambda x: (torch.relu(x) - 0.25 * torch.relu(-x), torch.relu(-x))],
                         ids=["relu_not_negated", "abs_not_half", "other_tensor", "relu_neg_used_twice"])
def test_prelu_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), PReluFusion())


# --- ClampFusion ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [lambda x: torch.minimum(torch.maximum(x, LO), HI),
                                lambda x: torch.maximum(torch.minimum(HI, x), LO)],
                         ids=["max_then_min", "min_then_max"])
def test_clamp(fn: Callable[..., object]) -> None:
    model = check_fused(export(fn), ClampFusion(), {"Clamp": 1})
    assert (only(model, "Clamp").attrs["min"], only(model, "Clamp").attrs["max"]) == (-1.0, 2.0)


@pytest.mark.parametrize("fn", [lambda x: torch.minimum(torch.maximum(x, HI), LO),
                                lambda x: torch.minimum(torch.maximum(x, -RAMP), HI),
                                lambda x: (torch.minimum(torch.maximum(x, LO), HI), torch.maximum(x, LO))],
                         ids=["lo_above_hi", "tensor_bound", "max_used_twice"])
def test_clamp_near_misses(fn: Callable[..., object]) -> None:
    check_not_fused(export(fn), ClampFusion())


def test_clamp_integer_tensor() -> None:
    x = parameter(Type.i32, [7], "x").output(0)
    low = make("Maximum", [x, constant(np.int32(-2))]).output(0)
    model = Model([result(make("Minimum", [low, constant(np.int32(3))]).output(0))], [x.node])
    PassManager([ClampFusion()], validate=True).run(model)
    assert ops(model) == {"Clamp": 1}
    data = np.arange(-5, 2, dtype=np.int32) * 2
    want = np.clip(data, -2, 3)
    np.testing.assert_array_equal(run_ref(model, [data])[0], want)
    np.testing.assert_array_equal(run_openvino(model, [data])[0], want)


# --- all together -----------------------------------------------------------------------------------------------

def test_all_fusions_on_one_model() -> None:
    def net(x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(x) + F.silu(x) + F.hardswish(x) + F.mish(x)
        return torch.clamp(torch.maximum(y, 0.1 * y), -4, 4)

    proto = export(net, 11)
    model, _ = fuse(proto, [f() for f in ACTIVATION_FUSIONS])
    assert ops(model) == {"Gelu": 1, "Swish": 1, "HSwish": 1, "Mish": 1, "Add": 3, "PRelu": 1, "Clamp": 1,
                          "Constant": 1}
    expected = run_ort(proto, {"x": X})
    assert_close(run_ref(model, [X]), expected, rtol=1e-5, atol=1e-5, what="REF")
    assert_close(run_openvino(model, [X]), expected, rtol=1e-5, atol=1e-5, what="OpenVINO")


def test_pass_names_are_unique() -> None:
    names = [f.name for f in ACTIVATION_FUSIONS]
    assert len(set(names)) == len(names) and all(f.description for f in ACTIVATION_FUSIONS)
