"""Normalization and structural fusions on real graphs: small torch modules exported to ONNX (at opsets where
torch decomposes the op), hand-built ONNX graphs for spellings torch does not write, and IR graphs for spellings
ONNX cannot express (SquaredDifference, integer Exp/Sqrt). Each model is converted without optimization, then
ConstantFolding and the fusion run under a validating PassManager; the fused model must hold exactly the expected
ops, and its REF and OpenVINO outputs must equal ONNX Runtime's on the original graph.

Tolerances: float32 throughout. The reshape-chain fusions only move data, so they must be exact (0). The
normalizations are compared with rtol 1e-5 / atol 1e-5 (largest error measured against ONNX Runtime: 1.9e-6, the
TensorFlow-style MVN whose original graph computes x * inv + (beta - mean * inv) with cancellation; LayerNorm,
L2 and softmax forms stay below 1.4e-6); the test inputs have slices whose scale spans 1e-3..6 and eps values large
enough (1e-3, 0.05) that a wrong eps, eps mode or eps^2 moves the result far beyond the tolerance. The real models
use their own suites' tolerances (zoo BERT 1e-4, light ShuffleNet rtol 1e-3)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.ir.graph import Model, Node, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.transforms.base import PassManager, PatternPass
from irforge.transforms.constant_folding import ConstantFolding
from irforge.transforms.fusions_structure import (
    STRUCTURE_FUSIONS, DepthToSpaceFusion, MVNFusion, NormalizeL2Fusion, ShuffleChannelsFusion, SoftmaxFusion)
from tests.torch_export import export_onnx
from tests.util import assert_close, max_abs_err, run_openvino, run_ort, run_ref

RTOL, ATOL = 1e-5, 1e-5  # normalizations (float32); the reshape chains are compared exactly


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    # [batch, seq, hidden]: each sequence position has its own scale (1e-2..3) and offset, so the LayerNorm's
    # eps (1e-3) dominates the variance of some rows and is negligible for others
    scale3 = np.array([0.01, 0.1, 0.5, 1.0, 3.0])[:, None]
    shift3 = np.array([0.02, -1.0, 0.0, 0.5, 1.0])[:, None]
    x3 = rng.standard_normal((2, 5, 16)) * scale3 + shift3
    # [N, C, H, W]: scales per (n, c) and per column span ~1e-3..6, so L2 norms over C or (H, W) hit the eps clamp
    x4 = rng.standard_normal((2, 8, 3, 4)) * 10 ** rng.uniform(-1.5, 0.5, (2, 8, 1, 1)) * np.array([0.05, 0.3, 1, 2])
    x4 = x4 + rng.uniform(-1, 1, (2, 8, 1, 1))
    x2 = rng.standard_normal((4, 4)) * np.array([0.01, 0.3, 1, 2])[:, None]  # square: keep_dims=false broadcasts
    return x3.astype(np.float32), x4.astype(np.float32), x2.astype(np.float32)


X3, X4, X2 = _inputs()
EPS = 1e-3
BIG_EPS = 0.05  # for L2 norms: several slices of X4 have a norm below it
# Tensors made outside the traced functions (torch warns about tensors created during tracing).
TWO_RANK4 = torch.full((1, 1, 1, 1), 2.0)  # one element equal to 2, but it makes the result rank 4
MINUS_ONE_RANK5 = torch.full((1, 1, 1, 1, 1), -1.0)
EPS_PER_COLUMN = torch.tensor([0.01, 0.02, 0.03, 0.04])


def export(module: torch.nn.Module | Callable[..., object], x: np.ndarray, opset: int = 13,
           dynamic: dict[int, str] | None = None) -> onnx.ModelProto:
    return export_onnx(module, [x], opset=opset, input_names=["x"], dynamic_axes={"x": dynamic} if dynamic else None)


def onnx_model(nodes: list[onnx.NodeProto], x: np.ndarray | None, outputs: Sequence[str] = ("y",),
               consts: dict[str, np.ndarray] | None = None, opset: int = 13, x_shape: object = "static",
               x_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """A hand-built ONNX graph with input "x" (`x_shape`: "static" for x's shape, None for dynamic rank, or a
    list with None for dynamic dims) and initializers `consts`."""
    shape = list(x.shape) if isinstance(x_shape, str) else x_shape
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", x_type, shape)],
                              [helper.make_tensor_value_info(o, x_type, None) for o in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def ops(model: Model) -> dict[str, int]:
    return {k: v for k, v in model.histogram().items() if k not in ("Parameter", "Result")}


def fuse(source: onnx.ModelProto | Model, fusion: PatternPass) -> tuple[Model, int]:
    """Convert without optimization, run ConstantFolding then the fusion (validating after each); return the
    model and how many patterns the fusion rewrote."""
    model = source if isinstance(source, Model) else irforge.convert_model(source, optimize=False)
    report = PassManager([ConstantFolding(), fusion], validate=True).run(model)
    assert report.records[-1].name == fusion.name
    return model, report.records[-1].count


def check_fused(proto: onnx.ModelProto, fusion: PatternPass, want: dict[str, int],
                inputs: Sequence[np.ndarray] | np.ndarray, count: int = 1, exact: bool = False) -> Model:
    """Fuse: exactly `want` ops are left, `count` patterns were rewritten, and REF and OpenVINO give ONNX
    Runtime's outputs of the original graph on every input (a list of inputs: one run each)."""
    model, n = fuse(proto, fusion)
    assert ops(model) == want and n == count, (ops(model), n)
    for x in [inputs] if isinstance(inputs, np.ndarray) else inputs:
        expected = run_ort(proto, {"x": x})
        rtol, atol = (0.0, 0.0) if exact else (RTOL, ATOL)
        assert_close(run_ref(model, [x]), expected, rtol=rtol, atol=atol, what="REF vs ONNX Runtime")
        assert_close(run_openvino(model, [x]), expected, rtol=rtol, atol=atol, what="OpenVINO vs ONNX Runtime")
    return model


def check_not_fused(proto: onnx.ModelProto, fusion: PatternPass, x: np.ndarray) -> None:
    """The fusion leaves the folded graph as it is (and the graph still computes ONNX Runtime's result, so the
    case is a real, valid model and not one that failed for another reason)."""
    folded = irforge.convert_model(proto, optimize=False)
    PassManager([ConstantFolding()], validate=True).run(folded)
    model, n = fuse(proto, fusion)
    assert n == 0 and ops(model) == ops(folded)
    assert_close(run_ref(model, [x]), run_ort(proto, {"x": x}), rtol=RTOL, atol=ATOL, what="REF vs ONNX Runtime")


def only(model: Model, op: str) -> Node:
    (node,) = [n for n in model.ops() if n.type == op]
    return node


def axes_of(node: Node) -> list[int]:
    """The node's axes input, sorted and non-negative."""
    value, rank = node.input_value(1), node.inputs[0].shape.rank
    assert value is not None
    return sorted(int(a) % rank for a in np.asarray(value).reshape(-1))


def f32(v: float) -> float:
    return float(np.float32(v))


def _affine(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A LayerNorm with a non-trivial affine transform (an identity gamma/beta would hide a lost Multiply/Add)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(0.5, 1.5)
    return module.eval()


# --- MVNFusion --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", [11, 13])
def test_mvn_torch_layernorm(opset: int) -> None:
    """torch decomposes LayerNorm below opset 17: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, then the
    affine Mul and Add, which stay."""
    model = check_fused(export(_affine(torch.nn.LayerNorm(16, eps=EPS)), X3, opset), MVNFusion(),
                        {"MVN": 1, "Multiply": 1, "Add": 1, "Constant": 3}, X3)
    mvn = only(model, "MVN")
    assert mvn.attrs == {"eps": pytest.approx(f32(EPS), rel=1e-7), "normalize_variance": True,
                         "eps_mode": "INSIDE_SQRT"}
    assert axes_of(mvn) == [2]
    (mul,) = [n for n, _ in mvn.outputs[0].uses]
    assert mul.type == "Multiply" and [n.type for n, _ in mul.outputs[0].uses] == ["Add"]


def test_mvn_torch_layernorm_two_axes() -> None:
    model = check_fused(export(_affine(torch.nn.LayerNorm([5, 16], eps=EPS)), X3, 11), MVNFusion(),
                        {"MVN": 1, "Multiply": 1, "Add": 1, "Constant": 3}, X3)
    assert axes_of(only(model, "MVN")) == [1, 2]


def _mean(x: torch.Tensor, dims: tuple[int, ...] = (-1,)) -> torch.Tensor:
    return x.mean(dims, keepdim=True)


def _var(x: torch.Tensor, dims: tuple[int, ...] = (-1,)) -> torch.Tensor:
    return ((x - _mean(x, dims)) ** 2).mean(dims, keepdim=True)


MVN_VARIANTS: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray, str, list[int]]] = {
    "sqrt_inside": (lambda x: (x - _mean(x)) / torch.sqrt(_var(x) + EPS), X3, "INSIDE_SQRT", [2]),
    "pow_half": (lambda x: (x - _mean(x)) / (_var(x) + EPS) ** 0.5, X3, "INSIDE_SQRT", [2]),
    "rsqrt": (lambda x: (x - _mean(x)) * torch.rsqrt(_var(x) + EPS), X3, "INSIDE_SQRT", [2]),
    "pow_minus_half": (lambda x: (x - _mean(x)) * (_var(x) + EPS) ** -0.5, X3, "INSIDE_SQRT", [2]),
    "reciprocal_pow_minus_one": (lambda x: (x - _mean(x)) * torch.sqrt(_var(x) + EPS) ** -1, X3, "INSIDE_SQRT",
                                 [2]),
    "self_multiply": (lambda x: (x - _mean(x)) / torch.sqrt(((x - _mean(x)) * (x - _mean(x))).mean(-1, keepdim=True)
                                                            + EPS), X3, "INSIDE_SQRT", [2]),
    "eps_outside_sqrt": (lambda x: (x - _mean(x)) / (torch.sqrt(_var(x)) + EPS), X3, "OUTSIDE_SQRT", [2]),
    "eps_outside_reciprocal": (lambda x: (x - _mean(x)) * torch.reciprocal(torch.sqrt(_var(x)) + EPS), X3,
                               "OUTSIDE_SQRT", [2]),
    "eps_first": (lambda x: (x - _mean(x)) / torch.sqrt(EPS + _var(x)), X3, "INSIDE_SQRT", [2]),
    "instance_norm_axes": (lambda x: (x - _mean(x, (2, 3))) / torch.sqrt(_var(x, (2, 3)) + EPS), X4, "INSIDE_SQRT",
                           [2, 3]),
    "negative_axes_mixed": (lambda x: (x - x.mean((-2, -1), keepdim=True))
                            / torch.sqrt(((x - x.mean((2, 3), keepdim=True)) ** 2).mean((3, -2), keepdim=True) + EPS),
                            X4, "INSIDE_SQRT", [2, 3]),
}


@pytest.mark.parametrize("case", MVN_VARIANTS.values(), ids=MVN_VARIANTS.keys())
def test_mvn_variants(case: tuple[Callable[[torch.Tensor], object], np.ndarray, str, list[int]]) -> None:
    fn, x, mode, axes = case
    model = check_fused(export(fn, x), MVNFusion(), {"MVN": 1, "Constant": 1}, x)
    mvn = only(model, "MVN")
    assert mvn.attrs["eps_mode"] == mode and mvn.attrs["eps"] == pytest.approx(f32(EPS), rel=1e-7)
    assert axes_of(mvn) == axes


def test_mvn_dynamic_batch_and_sequence() -> None:
    proto = export(_affine(torch.nn.LayerNorm(16, eps=EPS)), X3, 13, dynamic={0: "batch", 1: "seq"})
    check_fused(proto, MVNFusion(), {"MVN": 1, "Multiply": 1, "Add": 1, "Constant": 3}, [X3, X3[:1, 1:4]])


def _ln_nodes(var_keepdims: int = 1, mean_axes: Sequence[int] = (-1,), var_axes: Sequence[int] = (-1,),
              opset: int = 13) -> list[onnx.NodeProto]:
    """LayerNorm decomposed as torch writes it (Sub reused, Pow 2, Sqrt, Div), with its eps in initializer "eps"."""
    def mean(name: str, src: str, axes: Sequence[int], keepdims: int = 1) -> onnx.NodeProto:
        if opset >= 18:
            return helper.make_node("ReduceMean", [src, f"{name}_axes"], [name], keepdims=keepdims)
        return helper.make_node("ReduceMean", [src], [name], axes=list(axes), keepdims=keepdims)

    return [mean("mean", "x", mean_axes), helper.make_node("Sub", ["x", "mean"], ["d"]),
            helper.make_node("Pow", ["d", "two"], ["sq"]), mean("var", "sq", var_axes, var_keepdims),
            helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["std"]),
            helper.make_node("Div", ["d", "std"], ["y"])]


def _ln_consts(eps: np.ndarray | float = EPS, **axes: Sequence[int]) -> dict[str, np.ndarray]:
    consts = {"two": np.array(2.0, np.float32), "eps": np.asarray(eps, np.float32)}
    consts.update({f"{k}_axes": np.array(v, np.int64) for k, v in axes.items()})
    return consts


def test_mvn_onnx_opset18_axes_inputs() -> None:
    """From opset 18 ReduceMean takes its axes as an input."""
    proto = onnx_model(_ln_nodes(opset=18), X3, consts=_ln_consts(mean=[-1], var=[2]), opset=18)
    model = check_fused(proto, MVNFusion(), {"MVN": 1, "Constant": 1}, X3)
    assert axes_of(only(model, "MVN")) == [2]


def test_mvn_onnx_zero_eps() -> None:
    model = check_fused(onnx_model(_ln_nodes(), X3, consts=_ln_consts(0.0)), MVNFusion(), {"MVN": 1, "Constant": 1},
                        X3)
    assert only(model, "MVN").attrs["eps"] == 0.0


MVN_NEAR_MISSES: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray]] = {
    "different_axes": (lambda x: (x - _mean(x, (-1,))) / torch.sqrt(_var(x, (-2, -1)) + EPS), X3),
    "mean_axes_differ_from_center": (lambda x: (x - _mean(x, (-2,))) / torch.sqrt(_var(x, (-1,)) + EPS), X3),
    "eps_higher_rank": (lambda x: (x - _mean(x)) / torch.sqrt(_var(x) + torch.full((1, 1, 1, 1), EPS)), X3),
    "eps_per_feature": (lambda x: (x - _mean(x)) / torch.sqrt(_var(x) + torch.linspace(1e-3, 1e-2, 16)), X3),
    "negative_eps": (lambda x: (x - _mean(x)) / torch.sqrt(_var(x) - 1e-5), X3),
    "reversed_center": (lambda x: (_mean(x) - x) / torch.sqrt(_var(x) + EPS), X3),
    "rms_norm": (lambda x: x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS), X3),
    "cube": (lambda x: (x - _mean(x)) / torch.sqrt(((x - _mean(x)) ** 4).mean(-1, keepdim=True) + EPS), X3),
    "other_tensor_in_numerator": (lambda x: (x + 1 - _mean(x)) / torch.sqrt(_var(x) + EPS), X3),
    "mean_used_elsewhere": (lambda x: ((x - _mean(x)) / torch.sqrt(_var(x) + EPS), _mean(x)), X3),
    "variance_used_elsewhere": (lambda x: ((x - _mean(x)) / torch.sqrt(_var(x) + EPS), _var(x)), X3),
    "square_exponent_broadcasts": (lambda x: (x - _mean(x)) / torch.sqrt(
        ((x - _mean(x)) ** TWO_RANK4).mean(-1, keepdim=True) + EPS), X3),
    "sum_not_mean": (lambda x: (x - _mean(x)) / torch.sqrt(((x - _mean(x)) ** 2).sum(-1, keepdim=True) + EPS), X3),
}


@pytest.mark.parametrize("case", MVN_NEAR_MISSES.values(), ids=MVN_NEAR_MISSES.keys())
def test_mvn_near_misses(case: tuple[Callable[[torch.Tensor], object], np.ndarray]) -> None:
    fn, x = case
    check_not_fused(export(fn, x), MVNFusion(), x)


def test_mvn_variance_without_keep_dims() -> None:
    """var = ReduceMean(keepdims=0) of a square [4, 4] input broadcasts along the wrong axis: valid, not an MVN."""
    check_not_fused(onnx_model(_ln_nodes(var_keepdims=0), X2, consts=_ln_consts()), MVNFusion(), X2)


def test_mvn_dynamic_rank() -> None:
    proto = onnx_model(_ln_nodes(), X3, consts=_ln_consts(), x_shape=None)
    model = irforge.convert_model(proto, optimize=False)
    assert not model.inputs[0].shape.rank_is_static
    check_not_fused(proto, MVNFusion(), X3)


def _ir_mvn(et: Type, square: str) -> Model:
    """An MVN written in IR: mean over the last axis, squared by SquaredDifference (which ONNX lacks) or d * d."""
    x = parameter(et, [2, 5, 16], "x").output(0)
    axes = constant(np.array([-1], np.int64))
    mean = make("ReduceMean", [x, axes], keep_dims=True).output(0)
    d = make("Subtract", [x, mean]).output(0)
    if square == "SquaredDifference":  # the mean is computed again for it, as TF writes it
        mean2 = make("ReduceMean", [x, constant(np.array([2], np.int64))], keep_dims=True).output(0)
        sq = make("SquaredDifference", [mean2, x]).output(0)
    else:
        sq = make("Multiply", [d, d]).output(0)
    var = make("ReduceMean", [sq, axes], keep_dims=True).output(0)
    eps = constant(np.array(EPS if et.is_float else 1, dtype=et.dtype))
    std = make("Sqrt", [make("Add", [var, eps]).output(0)]).output(0)
    return Model([result(make("Divide", [d, std]).output(0))], [x.node])


def test_mvn_squared_difference_ir() -> None:
    original = run_ref(_ir_mvn(Type.f32, "SquaredDifference"), [X3])
    model, n = fuse(_ir_mvn(Type.f32, "SquaredDifference"), MVNFusion())
    assert n == 1 and ops(model) == {"MVN": 1, "Constant": 1}
    assert_close(run_ref(model, [X3]), original, rtol=RTOL, atol=ATOL, what="REF fused vs REF unfused")
    assert_close(run_openvino(model, [X3]), original, rtol=RTOL, atol=ATOL, what="OpenVINO fused vs REF unfused")


GAMMA = np.linspace(0.5, 1.5, 16, dtype=np.float32)
BETA = np.linspace(-0.2, 0.3, 16, dtype=np.float32)


def _tf_batch_norm_nodes(rsqrt: str, beta_sign: str = "Sub") -> list[onnx.NodeProto]:
    """TensorFlow's moments + batch_normalization as tf2onnx writes it: inv = rsqrt(var + eps) * gamma;
    y = x * inv + (beta - mean * inv), rsqrt as Reciprocal(Sqrt) or Pow(-0.5)."""
    root = ([helper.make_node("Sqrt", ["ve"], ["std"]), helper.make_node("Reciprocal", ["std"], ["r"])]
            if rsqrt == "reciprocal" else [helper.make_node("Pow", ["ve", "minus_half"], ["r"])])
    return [helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1], keepdims=1),
            helper.make_node("Sub", ["x", "mean"], ["d"]), helper.make_node("Mul", ["d", "d"], ["sq"]),
            helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1], keepdims=1),
            helper.make_node("Add", ["var", "eps"], ["ve"]), *root,
            helper.make_node("Mul", ["r", "gamma"], ["inv"]), helper.make_node("Mul", ["x", "inv"], ["xs"]),
            helper.make_node("Mul", ["mean", "inv"], ["ms"]), helper.make_node(beta_sign, ["beta", "ms"], ["shift"]),
            helper.make_node("Add", ["xs", "shift"], ["y"])]


TF_CONSTS = {"eps": np.array(EPS, np.float32), "minus_half": np.array(-0.5, np.float32), "gamma": GAMMA, "beta": BETA}


@pytest.mark.parametrize("rsqrt", ["reciprocal", "pow"])
def test_mvn_constants_inside_tf_batch_norm(rsqrt: str) -> None:
    """OpenVINO's MVNFusionWithConstantsInside: x * inv + (beta - mean * inv) -> MVN(x) * gamma + beta."""
    model = check_fused(onnx_model(_tf_batch_norm_nodes(rsqrt), X3, consts=TF_CONSTS), MVNFusion(),
                        {"MVN": 1, "Multiply": 1, "Add": 1, "Constant": 3}, X3)
    mvn = only(model, "MVN")
    assert mvn.attrs["eps_mode"] == "INSIDE_SQRT" and axes_of(mvn) == [2]
    (mul,) = [u for u, _ in mvn.outputs[0].uses]
    (add,) = [u for u, _ in mul.outputs[0].uses]
    np.testing.assert_array_equal(mul.inputs[1].node.data, GAMMA)
    np.testing.assert_array_equal(add.inputs[1].node.data, BETA)


def test_mvn_constants_inside_wrong_sign() -> None:
    """beta + mean * inv is not a normalization."""
    check_not_fused(onnx_model(_tf_batch_norm_nodes("pow", "Add"), X3, consts=TF_CONSTS), MVNFusion(), X3)


def test_mvn_constants_inside_squared_difference_ir() -> None:
    """tf.nn.moments squares with SquaredDifference (no ONNX op): written in IR."""
    def build() -> Model:
        x = parameter(Type.f32, [2, 5, 16], "x").output(0)
        axes = constant(np.array([2], np.int64))
        mean = make("ReduceMean", [x, axes], keep_dims=True).output(0)
        var = make("ReduceMean", [make("SquaredDifference", [x, mean]).output(0), axes], keep_dims=True).output(0)
        r = make("Power", [make("Add", [var, constant(np.float32(EPS))]).output(0), constant(np.float32(-0.5))])
        inv = make("Multiply", [r.output(0), constant(GAMMA)]).output(0)
        shift = make("Subtract", [constant(BETA), make("Multiply", [mean, inv]).output(0)]).output(0)
        return Model([result(make("Add", [make("Multiply", [x, inv]).output(0), shift]).output(0))], [x.node])

    original = run_ref(build(), [X3])
    model, n = fuse(build(), MVNFusion())
    assert n == 1 and ops(model) == {"MVN": 1, "Multiply": 1, "Add": 1, "Constant": 3}
    assert_close(run_ref(model, [X3]), original, rtol=RTOL, atol=ATOL, what="REF fused vs REF unfused")
    assert_close(run_openvino(model, [X3]), original, rtol=RTOL, atol=ATOL, what="OpenVINO fused vs REF unfused")


def test_mvn_integer_input_ir() -> None:
    model, n = fuse(_ir_mvn(Type.i32, "Multiply"), MVNFusion())
    assert n == 0 and "MVN" not in ops(model)


# --- NormalizeL2Fusion ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", [11, 13, 17])
def test_normalize_l2_torch_normalize(opset: int) -> None:
    """F.normalize: x / Expand(Clip(ReduceL2(x), eps), Shape(x)) -> NormalizeL2(max, eps^2)."""
    model = check_fused(export(lambda x: F.normalize(x, dim=1, eps=BIG_EPS), X4, opset), NormalizeL2Fusion(),
                        {"NormalizeL2": 1, "Constant": 1}, X4)
    norm = only(model, "NormalizeL2")
    assert norm.attrs == {"eps": pytest.approx(f32(BIG_EPS) ** 2, rel=1e-6), "eps_mode": "max"}
    assert axes_of(norm) == [1]


def test_normalize_l2_torch_normalize_default_eps_last_axis() -> None:
    model = check_fused(export(lambda x: F.normalize(x, dim=-1), X3), NormalizeL2Fusion(),
                        {"NormalizeL2": 1, "Constant": 1}, X3)
    assert only(model, "NormalizeL2").attrs["eps"] == pytest.approx(f32(1e-12) ** 2, rel=1e-6)


def test_normalize_l2_dynamic_batch() -> None:
    """With a dynamic batch the Expand's target Shape(x) does not fold: Broadcast(norm, ShapeOf(x)) is matched and
    the ShapeOf goes with it."""
    proto = export(lambda x: F.normalize(x, dim=1, eps=BIG_EPS), X4, dynamic={0: "batch"})
    check_fused(proto, NormalizeL2Fusion(), {"NormalizeL2": 1, "Constant": 1}, [X4, X4[:1]])


def _sum_sq(x: torch.Tensor, dims: tuple[int, ...] = (1,)) -> torch.Tensor:
    return (x * x).sum(dims, keepdim=True)


L2_ADD, L2_MAX_ROOT = f32(BIG_EPS), f32(BIG_EPS) ** 2  # eps as given / squared (the clamp moves into the root)
L2_VARIANTS: dict[str, tuple[Callable[[torch.Tensor], object], str, float, list[int]]] = {
    "add_sqrt": (lambda x: x / torch.sqrt(_sum_sq(x) + BIG_EPS), "add", L2_ADD, [1]),
    "add_pow2_sqrt": (lambda x: x / torch.sqrt(x.pow(2).sum(1, keepdim=True) + BIG_EPS), "add", L2_ADD, [1]),
    "add_pow_half": (lambda x: x / (_sum_sq(x) + BIG_EPS) ** 0.5, "add", L2_ADD, [1]),
    "add_rsqrt": (lambda x: x * torch.rsqrt(_sum_sq(x) + BIG_EPS), "add", L2_ADD, [1]),
    "add_pow_minus_half": (lambda x: x * (_sum_sq(x) + BIG_EPS) ** -0.5, "add", L2_ADD, [1]),
    "add_reciprocal": (lambda x: x * torch.reciprocal(torch.sqrt(_sum_sq(x) + BIG_EPS)), "add", L2_ADD, [1]),
    "max_clamp_sum": (lambda x: x / torch.sqrt(torch.clamp(_sum_sq(x), min=BIG_EPS)), "max", L2_ADD, [1]),
    "max_clamp_sum_rsqrt": (lambda x: x * torch.rsqrt(torch.clamp(_sum_sq(x), min=BIG_EPS)), "max", L2_ADD, [1]),
    "max_clamp_sqrt": (lambda x: x / torch.sqrt(_sum_sq(x)).clamp(min=BIG_EPS), "max", L2_MAX_ROOT, [1]),
    "max_clamp_norm": (lambda x: x / x.norm(dim=1, keepdim=True).clamp_min(BIG_EPS), "max", L2_MAX_ROOT, [1]),
    "spatial_axes": (lambda x: x / torch.sqrt(_sum_sq(x, (2, 3)) + BIG_EPS), "add", L2_ADD, [2, 3]),
    "all_but_batch": (lambda x: x / torch.sqrt(_sum_sq(x, (1, 2, 3)) + BIG_EPS), "add", L2_ADD, [1, 2, 3]),
}


@pytest.mark.parametrize("case", L2_VARIANTS.values(), ids=L2_VARIANTS.keys())
def test_normalize_l2_variants(case: tuple[Callable[[torch.Tensor], object], str, float, list[int]]) -> None:
    fn, mode, eps, axes = case
    model = check_fused(export(fn, X4), NormalizeL2Fusion(), {"NormalizeL2": 1, "Constant": 1}, X4)
    norm = only(model, "NormalizeL2")
    assert norm.attrs == {"eps": pytest.approx(eps, rel=1e-6), "eps_mode": mode}
    assert axes_of(norm) == axes


L2_NEAR_MISSES: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray]] = {
    "eps_outside_root": (lambda x: x / (x.norm(dim=1, keepdim=True) + BIG_EPS), X4),
    "negative_clamp": (lambda x: F.normalize(x, dim=1, eps=-1.0), X4),  # max(|x|, -1) is |x|, NormalizeL2 max 1 is not
    "negative_eps_add": (lambda x: x / torch.sqrt(_sum_sq(x) - 1e-6), X4),
    "other_tensor_in_sum": (lambda x: x / torch.sqrt(_sum_sq(x + 1) + BIG_EPS), X4),
    "fourth_power": (lambda x: x / torch.sqrt((x ** 4).sum(1, keepdim=True) + BIG_EPS), X4),
    "no_root": (lambda x: x / (_sum_sq(x) + BIG_EPS), X4),
    "mean_not_sum": (lambda x: x / torch.sqrt((x * x).mean(1, keepdim=True) + BIG_EPS), X4),
    "eps_higher_rank": (lambda x: x / torch.sqrt(_sum_sq(x) + torch.full((1, 1, 1, 1, 1), BIG_EPS)), X4),
    "eps_per_column": (lambda x: x / torch.sqrt(_sum_sq(x) + EPS_PER_COLUMN), X4),
    "norm_used_elsewhere": (lambda x: (x / x.norm(dim=1, keepdim=True).clamp_min(BIG_EPS),
                                       x.norm(dim=1, keepdim=True).clamp_min(BIG_EPS)), X4),
    "expanded_to_larger_shape": (lambda x: x / x.norm(dim=1, keepdim=True).clamp_min(BIG_EPS).expand(2, 2, 8, 3, 4),
                                 X4),
    "without_keepdim": (lambda x: x / x.norm(dim=-1).clamp_min(BIG_EPS), X2),
}


@pytest.mark.parametrize("case", L2_NEAR_MISSES.values(), ids=L2_NEAR_MISSES.keys())
def test_normalize_l2_near_misses(case: tuple[Callable[[torch.Tensor], object], np.ndarray]) -> None:
    fn, x = case
    check_not_fused(export(fn, x), NormalizeL2Fusion(), x)


def test_normalize_l2_dynamic_rank() -> None:
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]), helper.make_node("ReduceSum", ["sq", "axes"], ["s"]),
             helper.make_node("Add", ["s", "eps"], ["se"]), helper.make_node("Sqrt", ["se"], ["n"]),
             helper.make_node("Div", ["x", "n"], ["y"])]
    consts = {"axes": np.array([1], np.int64), "eps": np.array(BIG_EPS, np.float32)}
    check_fused(onnx_model(nodes, X4, consts=consts), NormalizeL2Fusion(), {"NormalizeL2": 1, "Constant": 1}, X4)
    check_not_fused(onnx_model(nodes, X4, consts=consts, x_shape=None), NormalizeL2Fusion(), X4)


def test_normalize_l2_expanded_to_another_tensors_shape() -> None:
    """x / Expand(max(ReduceL2(x), eps), Shape(y)) with dynamic batches: the inferred shapes agree ([?, 8]), but at
    run time y's batch may differ from x's, and so does the result's shape."""
    nodes = [helper.make_node("ReduceL2", ["x"], ["n"], axes=[1], keepdims=1),
             helper.make_node("Max", ["n", "eps"], ["c"]), helper.make_node("Shape", ["y"], ["ys"]),
             helper.make_node("Expand", ["c", "ys"], ["e"]), helper.make_node("Div", ["x", "e"], ["out"])]
    info = [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["b" + k, 8]) for k in ("x", "y")]
    graph = helper.make_graph(nodes, "g", info, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(BIG_EPS, np.float32), "eps")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model, n = fuse(proto, NormalizeL2Fusion())
    assert n == 0 and "NormalizeL2" not in ops(model)
    x, y = X4[:1, :, 0, 0], X4[:, :, 0, 0]
    want = run_ort(proto, {"x": x, "y": y})
    assert want[0].shape == (2, 8)
    assert_close(run_ref(model, {"x": x, "y": y}), want, rtol=RTOL, atol=ATOL, what="REF vs ONNX Runtime")


def test_normalize_l2_f16_eps_squared_must_stay_normal() -> None:
    """max(|x|, eps) in f16 moves into the root as eps^2: 1e-2 -> 1e-4 is a normal f16 number (fused); 1e-3 -> 1e-6
    is subnormal (flushed to 0 by devices that flush denormals) and 1e-4 -> 1e-8 is 0 in f16 (both not fused)."""
    for eps, fused in ((1e-2, True), (1e-3, False), (1e-4, False)):
        x = parameter(Type.f16, [2, 8], "x").output(0)
        norm = make("ReduceL2", [x, constant(np.array([1], np.int64))], keep_dims=True).output(0)
        clamped = make("Maximum", [norm, constant(np.array(eps, np.float16))]).output(0)
        model = Model([result(make("Divide", [x, clamped]).output(0))], [x.node])
        data = (X4[:, :, 0, 0] * 0.1).astype(np.float16)
        original = run_ref(model, [data])
        model, n = fuse(model, NormalizeL2Fusion())
        assert n == int(fused), eps
        assert_close(run_ref(model, [data]), original, rtol=1e-3, atol=1e-3, what=f"f16 eps {eps}")


def test_normalize_l2_integer_input_ir() -> None:
    x = parameter(Type.i32, [2, 8], "x").output(0)
    s = make("ReduceSum", [make("Multiply", [x, x]).output(0), constant(np.array([1], np.int64))], keep_dims=True)
    se = make("Add", [s.output(0), constant(np.int32(1))]).output(0)
    model = Model([result(make("Divide", [x, make("Sqrt", [se]).output(0)]).output(0))], [x.node])
    model, n = fuse(model, NormalizeL2Fusion())
    assert n == 0 and "NormalizeL2" not in ops(model)


# --- SoftmaxFusion ----------------------------------------------------------------------------------------------

def _exp_shifted(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.exp(x - x.amax(dim, keepdim=True))


XS = X4 * 3  # logits up to ~20: exp(x) alone is still finite in f32

SOFTMAX: dict[str, tuple[Callable[[torch.Tensor], object], int]] = {
    "max_shifted_last": (lambda x: _exp_shifted(x, -1) / _exp_shifted(x, -1).sum(-1, keepdim=True), 3),
    "max_shifted_channels": (lambda x: _exp_shifted(x, 1) / _exp_shifted(x, 1).sum(1, keepdim=True), 1),
    "plain_exp": (lambda x: torch.exp(x) / torch.exp(x).sum(2, keepdim=True), 2),
    "times_reciprocal": (lambda x: torch.exp(x) * torch.reciprocal(torch.exp(x).sum(-1, keepdim=True)), 3),
    "times_pow_minus_one": (lambda x: torch.exp(x) * torch.exp(x).sum(-1, keepdim=True) ** -1, 3),
    "negative_axis_mixed": (lambda x: torch.exp(x - x.amax(-2, keepdim=True))
                            / torch.exp(x - x.amax(-2, keepdim=True)).sum(2, keepdim=True), 2),
}


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("case", SOFTMAX.values(), ids=SOFTMAX.keys())
def test_softmax(case: tuple[Callable[[torch.Tensor], object], int], opset: int) -> None:
    fn, axis = case
    model = check_fused(export(fn, XS, opset), SoftmaxFusion(), {"Softmax": 1}, XS)
    softmax = only(model, "Softmax")
    assert softmax.attrs["axis"] == axis and softmax.version == "opset8"


def test_softmax_dynamic_dims() -> None:
    proto = export(SOFTMAX["max_shifted_last"][0], XS, dynamic={0: "n", 2: "h", 3: "w"})
    check_fused(proto, SoftmaxFusion(), {"Softmax": 1}, [XS, XS[:1, :, 1:, :3]])


def test_softmax_max_over_other_axis_keeps_the_shift() -> None:
    """exp(x - max_1(x)) / sum_3(...): the shift is constant along axis 3, so this is Softmax_3(x - max_1(x)). The
    max-shifted pattern is refused (its axes differ) and the plain one takes the shifted value as its input."""
    proto = export(lambda x: _exp_shifted(x, 1) / _exp_shifted(x, 1).sum(3, keepdim=True), XS)
    model = check_fused(proto, SoftmaxFusion(), {"Softmax": 1, "Subtract": 1, "ReduceMax": 1, "Constant": 1}, XS)
    assert only(model, "Softmax").attrs["axis"] == 3


SOFTMAX_NEAR_MISSES: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray]] = {
    "sum_over_two_axes": (lambda x: torch.exp(x) / torch.exp(x).sum((2, 3), keepdim=True), XS),
    "sum_of_other_exp": (lambda x: torch.exp(x) / torch.exp(x * 2).sum(-1, keepdim=True), XS),
    "exp_used_elsewhere": (lambda x: (torch.exp(x) / torch.exp(x).sum(-1, keepdim=True), torch.exp(x)), XS),
    "sum_used_elsewhere": (lambda x: (torch.exp(x) / torch.exp(x).sum(-1, keepdim=True),
                                      torch.exp(x).sum(-1, keepdim=True)), XS),
    "without_keepdim": (lambda x: torch.exp(x) / torch.exp(x).sum(-1), X2),
    "reciprocal_exponent_broadcasts": (lambda x: torch.exp(x) * torch.exp(x).sum(-1, keepdim=True) ** MINUS_ONE_RANK5,
                                       XS),
    "sum_divided_by_exp": (lambda x: torch.exp(x).sum(-1, keepdim=True) / torch.exp(x), XS),
}


@pytest.mark.parametrize("case", SOFTMAX_NEAR_MISSES.values(), ids=SOFTMAX_NEAR_MISSES.keys())
def test_softmax_near_misses(case: tuple[Callable[[torch.Tensor], object], np.ndarray]) -> None:
    fn, x = case
    check_not_fused(export(fn, x), SoftmaxFusion(), x)


def test_softmax_dynamic_rank_and_max_without_keep_dims() -> None:
    def nodes(max_keepdims: int) -> list[onnx.NodeProto]:
        return [helper.make_node("ReduceMax", ["x"], ["m"], axes=[-1], keepdims=max_keepdims),
                helper.make_node("Sub", ["x", "m"], ["z"]), helper.make_node("Exp", ["z"], ["e"]),
                helper.make_node("ReduceSum", ["e", "axes"], ["s"]), helper.make_node("Div", ["e", "s"], ["y"])]

    consts = {"axes": np.array([-1], np.int64)}
    check_fused(onnx_model(nodes(1), XS, consts=consts), SoftmaxFusion(), {"Softmax": 1}, XS)
    check_not_fused(onnx_model(nodes(1), XS, consts=consts, x_shape=None), SoftmaxFusion(), XS)
    # ReduceMax without keepdims on a square input: x - max broadcasts along the wrong axis. Only the plain
    # exp/sum pattern applies, with the shifted value as its input.
    x2 = X2 * 3
    check_fused(onnx_model(nodes(0), x2, consts=consts), SoftmaxFusion(),
                {"Softmax": 1, "Subtract": 1, "ReduceMax": 1, "Constant": 1}, x2)


def test_softmax_integer_input_ir() -> None:
    x = parameter(Type.i32, [2, 8], "x").output(0)
    e = make("Exp", [x]).output(0)
    s = make("ReduceSum", [e, constant(np.array([1], np.int64))], keep_dims=True).output(0)
    model, n = fuse(Model([result(make("Divide", [e, s]).output(0))], [x.node]), SoftmaxFusion())
    assert n == 0 and "Softmax" not in ops(model)


# --- DepthToSpaceFusion -----------------------------------------------------------------------------------------

def _d2s(block: int, mode: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """DepthToSpace of an [N, C, D1..DK] input as Reshape -> Transpose -> Reshape (the op spec's definition)."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        n, c, *spatial = x.shape
        k = len(spatial)
        depth = c // block**k
        if mode == "depth_first":
            y = x.reshape(n, depth, *[block] * k, *spatial)
            order = [0, 1] + [a for i in range(k) for a in (k + 2 + i, 2 + i)]
        else:
            y = x.reshape(n, *[block] * k, depth, *spatial)
            order = [0, k + 1] + [a for i in range(k) for a in (k + 2 + i, 1 + i)]
        return y.permute(order).reshape(n, depth, *[d * block for d in spatial])
    return fn


def _arange(*shape: int) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


D2S: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray, str, int]] = {
    "depth_first_2d": (_d2s(2, "depth_first"), _arange(2, 8, 3, 4), "depth_first", 2),
    "blocks_first_2d": (_d2s(2, "blocks_first"), _arange(2, 8, 3, 4), "blocks_first", 2),
    "depth_first_block3": (_d2s(3, "depth_first"), _arange(1, 18, 2, 3), "depth_first", 3),
    "blocks_first_block3": (_d2s(3, "blocks_first"), _arange(1, 18, 2, 3), "blocks_first", 3),
    "depth_first_1d": (_d2s(2, "depth_first"), _arange(2, 6, 5), "depth_first", 2),
    "blocks_first_1d": (_d2s(3, "blocks_first"), _arange(2, 6, 5), "blocks_first", 3),
    "depth_first_3d": (_d2s(2, "depth_first"), _arange(1, 16, 2, 3, 2), "depth_first", 2),
    "blocks_first_3d": (_d2s(2, "blocks_first"), _arange(1, 16, 2, 3, 2), "blocks_first", 2),
}


@pytest.mark.parametrize("case", D2S.values(), ids=D2S.keys())
def test_depth_to_space(case: tuple[Callable[[torch.Tensor], object], np.ndarray, str, int]) -> None:
    fn, x, mode, block = case
    model = check_fused(export(fn, x), DepthToSpaceFusion(), {"DepthToSpace": 1}, x, exact=True)
    assert only(model, "DepthToSpace").attrs == {"mode": mode, "block_size": block}


@pytest.mark.parametrize("opset", [9, 10])
def test_depth_to_space_torch_pixel_shuffle(opset: int) -> None:
    """Below opset 11 torch writes PixelShuffle as Reshape -> Transpose -> Reshape (from 11 on, DepthToSpace CRD)."""
    proto = export(torch.nn.PixelShuffle(2), X4, opset)
    assert "DepthToSpace" not in {n.op_type for n in proto.graph.node}
    model = check_fused(proto, DepthToSpaceFusion(), {"DepthToSpace": 1}, X4, exact=True)
    assert only(model, "DepthToSpace").attrs == {"mode": "depth_first", "block_size": 2}


def test_depth_to_space_dynamic_batch() -> None:
    """The reshape targets are computed from Shape(x) (the batch does not fold): the shape arithmetic goes too."""
    proto = export(_d2s(2, "blocks_first"), X4, dynamic={0: "batch"})
    assert "Shape" in {n.op_type for n in proto.graph.node}
    check_fused(proto, DepthToSpaceFusion(), {"DepthToSpace": 1}, [X4, X4[:1]], exact=True)


def test_depth_to_space_dynamic_batch_minus_one() -> None:
    """view(n, -1, 2h, 2w) with a dynamic n: inference leaves the -1 dynamic; the fusion solves it, since the
    target reads n from Shape(x)."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, -1, h * 2, w * 2)

    proto = export(fn, X4, dynamic={0: "batch"})
    check_fused(proto, DepthToSpaceFusion(), {"DepthToSpace": 1}, [X4, X4[:1]], exact=True)


def test_depth_to_space_integer_input() -> None:
    x = _arange(2, 8, 3, 4).astype(np.int32)
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"]),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 1, 4, 2, 5, 3]),
             helper.make_node("Reshape", ["b", "s2"], ["y"])]
    consts = {"s1": np.array([2, 2, 2, 2, 3, 4]), "s2": np.array([2, 2, 6, 8])}
    proto = onnx_model(nodes, x, consts=consts, x_type=TensorProto.INT32)
    check_fused(proto, DepthToSpaceFusion(), {"DepthToSpace": 1}, x, exact=True)


def _also(t: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(fn(t), t): the intermediate `t` is an output too."""
    return fn(t), t


def _chain(before: Sequence[int], perm: Sequence[int], after: Sequence[int]) -> Callable[[torch.Tensor], object]:
    return lambda x: x.reshape(*before).permute(*perm).reshape(*after)


D2S_NEAR_MISSES: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray]] = {
    "other_permutation": (_chain([2, 2, 2, 2, 3, 4], [0, 1, 2, 4, 3, 5], [2, 2, 6, 8]), X4),
    "blocks_not_interleaved": (_chain([2, 2, 2, 2, 3, 4], [0, 1, 2, 4, 5, 3], [2, 2, 6, 8]), X4),
    "output_not_depth_to_space": (_chain([2, 2, 2, 2, 3, 4], [0, 1, 4, 2, 5, 3], [2, 4, 3, 8]), X4),
    "blocks_differ": (_chain([2, 2, 4, 1, 3, 4], [0, 1, 4, 2, 5, 3], [2, 2, 12, 4]), X4),
    "transposed_used_elsewhere": (lambda x: _also(x.reshape(2, 2, 2, 2, 3, 4).permute(0, 1, 4, 2, 5, 3),
                                                  lambda t: t.reshape(2, 2, 6, 8)), X4),
    "shuffle_is_not_depth_to_space": (_chain([2, 2, 4, 3, 4], [0, 2, 1, 3, 4], [2, 8, 3, 4]), X4),
}


@pytest.mark.parametrize("case", D2S_NEAR_MISSES.values(), ids=D2S_NEAR_MISSES.keys())
def test_depth_to_space_near_misses(case: tuple[Callable[[torch.Tensor], object], np.ndarray]) -> None:
    fn, x = case
    check_not_fused(export(fn, x), DepthToSpaceFusion(), x)


def test_depth_to_space_dynamic_spatial_dims() -> None:
    """Only the batch may be dynamic: with dynamic H and W the chain's shapes cannot be checked."""
    check_not_fused(export(_d2s(2, "depth_first"), X4, dynamic={2: "h", 3: "w"}), DepthToSpaceFusion(), X4)


# --- ShuffleChannelsFusion --------------------------------------------------------------------------------------

def channel_shuffle(groups: int, flat: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """ShuffleNet's channel shuffle (torchvision.models.shufflenetv2.channel_shuffle), or with H*W flattened."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = x.view(b, groups, c // groups, h * w) if flat else x.view(b, groups, c // groups, h, w)
        return torch.transpose(y, 1, 2).contiguous().view(b, -1, h, w)
    return fn


SHUFFLE: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray, int, int]] = {
    "groups_2": (channel_shuffle(2), X4, 1, 2),
    "groups_4": (channel_shuffle(4), X4, 1, 4),
    "flattened_spatial": (channel_shuffle(2, flat=True), X4, 1, 2),
    "rank_3": (_chain([2, 3, 2, 5], [0, 2, 1, 3], [2, 6, 5]), _arange(2, 6, 5), 1, 3),
    "along_height": (_chain([2, 8, 3, 1, 4], [0, 1, 3, 2, 4], [2, 8, 3, 4]), X4, 2, 3),
    "along_width": (_chain([2, 8, 3, 2, 2], [0, 1, 2, 4, 3], [2, 8, 3, 4]), X4, 3, 2),
    "along_batch": (_chain([2, 1, 8, 3, 4], [1, 0, 2, 3, 4], [2, 8, 3, 4]), X4, 0, 2),
}


@pytest.mark.parametrize("case", SHUFFLE.values(), ids=SHUFFLE.keys())
def test_shuffle_channels(case: tuple[Callable[[torch.Tensor], object], np.ndarray, int, int]) -> None:
    fn, x, axis, group = case
    model = check_fused(export(fn, x), ShuffleChannelsFusion(), {"ShuffleChannels": 1}, x, exact=True)
    assert only(model, "ShuffleChannels").attrs == {"axis": axis, "group": group}


def test_shuffle_channels_dynamic_batch() -> None:
    proto = export(channel_shuffle(2), X4, dynamic={0: "batch"})
    check_fused(proto, ShuffleChannelsFusion(), {"ShuffleChannels": 1}, [X4, X4[:1]], exact=True)


def test_shuffle_channels_integer_input() -> None:
    x = _arange(2, 6, 5).astype(np.int32)
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"]),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["b", "s2"], ["y"])]
    proto = onnx_model(nodes, x, consts={"s1": np.array([2, 3, 2, 5]), "s2": np.array([2, 6, 5])},
                       x_type=TensorProto.INT32)
    check_fused(proto, ShuffleChannelsFusion(), {"ShuffleChannels": 1}, x, exact=True)


SHUFFLE_NEAR_MISSES: dict[str, tuple[Callable[[torch.Tensor], object], np.ndarray]] = {
    "reshape_not_a_split": (_chain([2, 3, 8, 4], [0, 2, 1, 3], [2, 8, 3, 4]), X4),
    "split_of_merged_axes": (_chain([2, 2, 12, 4], [0, 2, 1, 3], [2, 8, 3, 4]), _arange(2, 4, 6, 4)),
    "swap_not_adjacent": (_chain([2, 2, 4, 3, 4], [0, 3, 2, 1, 4], [2, 8, 3, 4]), X4),
    "rotation": (_chain([2, 2, 4, 3, 4], [0, 2, 3, 1, 4], [2, 8, 3, 4]), X4),
    "not_back_to_input_shape": (_chain([2, 2, 4, 3, 4], [0, 2, 1, 3, 4], [2, 8, 4, 3]), X4),
    "transposed_used_elsewhere": (lambda x: _also(x.view(2, 2, 4, 3, 4).transpose(1, 2),
                                                  lambda t: t.reshape(2, 8, 3, 4)), X4),
    "depth_to_space_is_not_a_shuffle": (_d2s(2, "depth_first"), X4),
}


def _batch_doubled(x: torch.Tensor) -> torch.Tensor:
    """[n, 8, h, w] -> [n, 2, 4, h, w] -> swap -> [2n, -1, h, w]: the element order of a shuffle, not its shape."""
    n, c, h, w = x.shape
    return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n * 2, -1, h, w)


def test_shuffle_channels_dynamic_batch_not_preserved() -> None:
    """With a dynamic batch the output is [?, ?, 3, 4]; the -1 is solved only when the target's first element is
    the input's batch (here it is 2 * batch)."""
    check_not_fused(export(_batch_doubled, X4, dynamic={0: "batch"}), ShuffleChannelsFusion(), X4)


@pytest.mark.parametrize("case", SHUFFLE_NEAR_MISSES.values(), ids=SHUFFLE_NEAR_MISSES.keys())
def test_shuffle_channels_near_misses(case: tuple[Callable[[torch.Tensor], object], np.ndarray]) -> None:
    fn, x = case
    check_not_fused(export(fn, x), ShuffleChannelsFusion(), x)


def test_shuffle_channels_dynamic_spatial_dims() -> None:
    check_not_fused(export(channel_shuffle(2), X4, dynamic={2: "h", 3: "w"}), ShuffleChannelsFusion(), X4)


# --- real models ------------------------------------------------------------------------------------------------

LN_OPS = {"ReduceMean": 2, "Subtract": 1, "Power": 1, "Add": 1, "Sqrt": 1, "Divide": 1, "Constant": 4}
"""What one torch LayerNorm decomposition (opset < 17) holds besides its affine Multiply and Add; MVNFusion
replaces it with one MVN and its axes Constant."""


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_bert_layer_norms_become_mvn(opset: int) -> None:
    """The zoo's BERT-style encoder (5 LayerNorms, eps 1e-12, dynamic batch and sequence): after ConstantFolding
    and MVNFusion every LayerNorm is an MVN followed by its gamma Multiply and beta Add, nothing else changes, and
    REF and OpenVINO equal ONNX Runtime on both input sets (the zoo's tolerance, 1e-4)."""
    from tests.models import zoo

    proto = onnx.load(zoo.export("bert", opset))
    folded = irforge.convert_model(proto, optimize=False)
    PassManager([ConstantFolding()], validate=True).run(folded)
    model, n = fuse(proto, MVNFusion())
    layer_norms = 5
    if opset >= 17:  # the exporter writes LayerNormalization, which the frontend maps to MVN already
        assert n == 0 and ops(model) == ops(folded) and ops(model)["MVN"] == layer_norms
    else:
        want = dict(ops(folded))
        for op, k in LN_OPS.items():
            want[op] -= k * layer_norms
        want["MVN"] = layer_norms
        want["Constant"] += layer_norms
        assert n == layer_norms and ops(model) == {k: v for k, v in want.items() if v}
    for mvn in (node for node in model.ops() if node.type == "MVN"):
        assert mvn.attrs == {"eps": pytest.approx(1e-12, rel=1e-6), "normalize_variance": True,
                             "eps_mode": "INSIDE_SQRT"}
        assert axes_of(mvn) == [2]
        (mul,) = [u for u, _ in mvn.outputs[0].uses]
        (add,) = [u for u, _ in mul.outputs[0].uses]
        assert (mul.type, add.type) == ("Multiply", "Add")
        assert mul.inputs[1].node.type == "Constant" and add.inputs[1].node.type == "Constant"
    spec = zoo.MODELS["bert"]
    for inputs in spec.input_sets():
        want_out = run_ort(proto, inputs)
        got_ref, got_ov = run_ref(model, inputs), run_openvino(model, list(inputs.values()))
        print(f"bert opset {opset}: REF {max(map(max_abs_err, got_ref, want_out)):.3g}, "
              f"OpenVINO {max(map(max_abs_err, got_ov, want_out)):.3g}")
        assert_close(got_ref, want_out, rtol=spec.rtol, atol=spec.atol, what="REF vs ONNX Runtime")
        assert_close(got_ov, want_out, rtol=spec.rtol, atol=spec.atol, what="OpenVINO vs ONNX Runtime")


def test_light_shufflenet_gets_shuffle_channels() -> None:
    """onnx's light ShuffleNet (v1, 16 channel shuffles written as Reshape -> Transpose -> Reshape with constant
    targets after folding): each becomes ShuffleChannels (group 4), no Transpose is left, and REF and OpenVINO
    equal ONNX Runtime on both outputs (onnx's tolerance for these models, rtol 1e-3)."""
    from tests.models.light import load

    case = load("shufflenet")
    folded = irforge.convert_model(case.proto, optimize=False)
    PassManager([ConstantFolding()], validate=True).run(folded)
    model, n = fuse(case.proto, ShuffleChannelsFusion())
    want = dict(ops(folded))
    want["Reshape"] -= 2 * 16
    want["Transpose"] -= 16
    want["Constant"] -= 3 * 16
    want["ShuffleChannels"] = 16
    assert n == 16 and ops(model) == {k: v for k, v in want.items() if v}
    assert {(s.attrs["axis"], s.attrs["group"]) for s in model.ops() if s.type == "ShuffleChannels"} == {(1, 4)}
    expected = run_ort(case.proto, case.inputs)
    inputs = list(case.inputs.values())
    for name, got in (("REF", run_ref(model, case.inputs)), ("OpenVINO", run_openvino(model, inputs))):
        print(f"shufflenet {name}: max abs err {[max_abs_err(g, w) for g, w in zip(got, expected)]}")
        assert_close(got, expected, rtol=case.rtol, atol=1e-7, what=f"{name} vs ONNX Runtime")


# --- all together -----------------------------------------------------------------------------------------------

def test_all_structure_fusions_on_one_model() -> None:
    def net(x: torch.Tensor) -> torch.Tensor:
        y = channel_shuffle(2)(x)
        y = F.normalize(y, dim=1, eps=BIG_EPS) + (y - _mean(y)) / torch.sqrt(_var(y) + EPS)
        y = _d2s(2, "depth_first")(y)
        return _exp_shifted(y, -1) / _exp_shifted(y, -1).sum(-1, keepdim=True)

    proto = export(net, X4)
    model = irforge.convert_model(proto, optimize=False)
    report = PassManager([ConstantFolding(), *(f() for f in STRUCTURE_FUSIONS)], validate=True).run(model)
    assert [r.count for r in report.records[1:]] == [1] * len(STRUCTURE_FUSIONS)
    assert ops(model) == {"ShuffleChannels": 1, "NormalizeL2": 1, "MVN": 1, "Add": 1, "DepthToSpace": 1,
                          "Softmax": 1, "Constant": 2}
    expected = run_ort(proto, {"x": X4})
    assert_close(run_ref(model, [X4]), expected, rtol=RTOL, atol=ATOL, what="REF")
    assert_close(run_openvino(model, [X4]), expected, rtol=RTOL, atol=ATOL, what="OpenVINO")


def test_pass_names_are_unique() -> None:
    names = [f.name for f in STRUCTURE_FUSIONS]
    assert len(set(names)) == len(names) and all(f.description for f in STRUCTURE_FUSIONS)
