"""ONNX's integer ops (DynamicQuantizeLinear, ConvInteger, MatMulInteger) and ONNX Runtime's com.microsoft
DynamicQuantizeLSTM (irforge/frontends/onnx/ops/integer.py), one node at a time against ONNX Runtime.

REF and CPU compute what ONNX Runtime computes bit for bit (integer results exactly; DynamicQuantizeLinear's
scale, zero point and codes too). OpenVINO runs every Divide as a multiplication by the reciprocal, so its
DynamicQuantizeLinear may be one code off where x / scale lies within rounding of a tie, and its scale one ulp off.
DynamicQuantizeLSTM: ONNX Runtime quantizes X and each step's hidden state to u8 before its integer GEMMs, the
LSTMSequence irforge (and OpenVINO's frontend) makes of it runs in float on the dequantized weights. It is compared
with ONNX's float LSTM on the dequantized weights, and with ONNX Runtime's own kernel where that quantization loses
nothing (one step from a zero hidden state, X on the quantization grid)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import irforge
from irforge.errors import UnsupportedOpsError
from irforge.ir.graph import Model
from tests.models.harness import convert_to_ir
from tests.util import run_openvino, run_ort, run_ref

CPU_F32 = {"INFERENCE_PRECISION_HINT": "f32"}
ONNX_TYPE = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
             np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


# ---------------------------------------------------------------------------------------------------------- helpers
def _model(op: str, values: dict[str, np.ndarray | None], inputs: set[str], outputs: list[str], domain: str = "",
           **attrs: Any) -> onnx.ModelProto:
    """One `op` node reading `values` in order (None: an absent optional input): graph inputs for the names in
    `inputs`, initializers for the others."""
    node = helper.make_node(op, [k if v is not None else "" for k, v in values.items()], outputs, domain=domain,
                            **attrs)
    graph_inputs = [helper.make_tensor_value_info(k, ONNX_TYPE[v.dtype], list(v.shape)) for k, v in values.items()
                    if v is not None and k in inputs]
    inits = [numpy_helper.from_array(v, k) for k, v in values.items() if v is not None and k not in inputs]
    graph = helper.make_graph([node], op, graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outputs],
                              inits)
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def _feeds(values: dict[str, np.ndarray | None], inputs: set[str]) -> dict[str, np.ndarray]:
    return {k: v for k, v in values.items() if v is not None and k in inputs}


def _convert(proto: onnx.ModelProto, tmp: Path) -> Model:
    """The default pipeline, then the IR files written and read back (what the model tests run)."""
    return convert_to_ir(proto, tmp / "m.xml")


def _run_all(model: Model, feeds: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    values = list(feeds.values())
    cpu = irforge.Core().compile_model(model, "CPU", CPU_F32)(values).values_list()
    return {"REF": run_ref(model, values), "CPU": cpu}


def _check_integer(model: Model, feeds: dict[str, np.ndarray], want: list[np.ndarray], what: str) -> None:
    """REF and CPU exactly; OpenVINO exactly too, except where the IR computes in i32: its CPU plugin runs an i32
    Convolution/MatMul in f32, which rounds sums beyond 2^24 (1.4e-5 relative over 6912 products here)."""
    exact_on_openvino = not any(n.type in ("Convolution", "GroupConvolution", "MatMul")
                                and n.outputs[0].element_type.name == "i32" for n in model.nodes())
    for device, got in _run_all(model, feeds).items():
        _assert_same(got, want, f"{what} on {device}")
    got = run_openvino(model, list(feeds.values()))
    if exact_on_openvino:
        _assert_same(got, want, f"{what} on OpenVINO")
    else:
        np.testing.assert_allclose(got[0].astype(np.float64), want[0], rtol=1e-4, err_msg=f"{what} on OpenVINO")


def _check_path(model: Model, case: str, ops: tuple[str, ...], want: list[np.ndarray]) -> None:
    """The formulation `_integer_product` chose: one f32 product, two (split weights), or one on i32."""
    types = sorted(n.outputs[0].element_type.name for n in model.nodes() if n.type in ops)
    expected = {"split": ["f32", "f32"], "i32": ["i32"]}.get(case.split("_")[0], ["f32"])
    assert types == expected, f"{case}: {types}"
    if case.startswith(("split", "i32")):  # the cases are meant to exceed f32's integers
        assert np.abs(want[0]).max() > 1 << 24


def _assert_same(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what} output {i}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        np.testing.assert_array_equal(g, w, err_msg=f"{what} output {i}")


# ------------------------------------------------------------------------------------------- DynamicQuantizeLinear
def _dql(x: np.ndarray) -> onnx.ModelProto:
    return _model("DynamicQuantizeLinear", {"x": x}, {"x"}, ["y", "y_scale", "y_zero_point"])


def _check_dql(x: np.ndarray, tmp: Path, openvino: bool = False) -> None:
    proto = _dql(x)
    want = run_ort(proto, {"x": x})
    model = _convert(proto, tmp)
    for device, got in _run_all(model, {"x": x}).items():
        _assert_same(got, want, f"{device} x={x.tolist()}")
    if openvino:  # x * (1/scale): the scale within an ulp, codes within one step
        y, scale, zp = run_openvino(model, [x])
        np.testing.assert_allclose(scale, want[1], rtol=2.5e-7)
        assert abs(int(zp) - int(want[2])) <= 1
        assert np.max(np.abs(y.astype(np.int32) - want[0].astype(np.int32)), initial=0) <= 1


@pytest.mark.parametrize("values", [
    [0.0, 2.0, -3.0, -2.5, 1.34, 0.5],  # the ONNX example: -2.5 / scale = -127.49999 (f32), not the tie -127.5
    [1.0, 2.5, 3.0, 255.0],  # all positive: the range is stretched to 0, zero point 0
    [-1.0, -2.5, -3.0, -255.0],  # all negative: zero point 255
    [0.0, 0.0, 0.0],  # all zero: ONNX Runtime's scale 1 (the ONNX reference computes 1/255)
    [0.0], [7.0], [-7.0],  # one element
    [-0.0, 1e-30, -1e-30],  # tiny range
    [-1e30, 2e30, 0.5],  # huge range
    [0.5, 1.5, 2.5, -0.5, -1.5, 127.5, 255.0],  # ties of x / scale (scale 1) round to even
])
def test_dynamic_quantize_linear_cases(values: list[float], tmp_path: Path) -> None:
    _check_dql(np.array(values, np.float32), tmp_path, openvino=True)


def test_dynamic_quantize_linear_shapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for shape in [(2, 3), (2, 3, 4), (1, 3, 8, 8)]:
        _check_dql((rng.standard_normal(shape) * 3).astype(np.float32), tmp_path, openvino=True)


_FLOATS = st.one_of(
    st.floats(-1e6, 1e6, width=32),
    st.integers(-64, 64).map(lambda k: k / 4),  # multiples of 1/4: exact ties of x / scale are frequent
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 255.0]),
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=_FLOATS),
       sign=st.sampled_from(["any", "positive", "negative"]))
def test_dynamic_quantize_linear_matches_onnxruntime(x: np.ndarray, sign: str, tmp_path: Path) -> None:
    if sign != "any":
        x = np.abs(x) if sign == "positive" else -np.abs(x)
    _check_dql(x, tmp_path)


def test_dynamic_quantize_linear_keeps_the_division(tmp_path: Path) -> None:
    """The scale is span / 255 (not span * (1/255), which the pipeline makes of other divisions by a constant)."""
    model = _convert(_dql(np.zeros((2, 2), np.float32)), tmp_path)
    divisors = [n.inputs[1].constant_value() for n in model.nodes() if n.type == "Divide"]
    assert any(v is not None and v.item() == 255 for v in divisors), [n.type for n in model.nodes()]


# ---------------------------------------------------------------------------------------------------- ConvInteger
def _ints(rng: np.random.Generator, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, shape).astype(dtype)


CONV_CASES = {
    "u8u8": dict(xt=np.uint8, wt=np.uint8),
    "u8i8": dict(xt=np.uint8, wt=np.int8),
    "i8u8": dict(xt=np.int8, wt=np.uint8),
    "i8i8": dict(xt=np.int8, wt=np.int8),
    "no_zero_points": dict(xt=np.uint8, wt=np.int8, zps=False),
    "zero_zero_points": dict(xt=np.uint8, wt=np.uint8, zps="zero"),
    "runtime_weights": dict(xt=np.uint8, wt=np.uint8, runtime_w=True),
    "runtime_zero_points": dict(xt=np.uint8, wt=np.uint8, runtime_zp=True),
    "groups": dict(xt=np.uint8, wt=np.uint8, c=4, group=2),
    "depthwise": dict(xt=np.uint8, wt=np.int8, c=4, m=4, group=4),
    "strided_padded_dilated": dict(xt=np.uint8, wt=np.uint8, strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2]),
    "same_upper": dict(xt=np.uint8, wt=np.uint8, auto_pad="SAME_UPPER", strides=[2, 2]),
    "conv1d": dict(xt=np.uint8, wt=np.uint8, spatial=(9,), kernel=(3,)),
    # 64 channels x 3x3 of extreme values: sums beyond 2^24, the weights split in two f32 products
    "split": dict(xt=np.uint8, wt=np.uint8, c=64, extreme=True),
    "split_runtime_weights": dict(xt=np.uint8, wt=np.int8, c=64, extreme=True, runtime_w=True),
    "split_groups": dict(xt=np.int8, wt=np.uint8, c=128, m=4, group=2, extreme=True),
    # 768 channels x 3x3: even the halves exceed 2^24, the Convolution runs on i32
    "i32": dict(xt=np.uint8, wt=np.uint8, c=768, m=2, spatial=(3, 3), extreme=True),
}


def _conv_case(xt: type, wt: type, c: int = 3, m: int = 4, group: int = 1, zps: bool | str = True,
               runtime_w: bool = False, runtime_zp: bool = False, spatial: tuple[int, ...] = (6, 7),
               kernel: tuple[int, ...] = (3, 3), extreme: bool = False, **attrs: Any
               ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    rng = np.random.default_rng(c * 10 + m + group)
    x = _ints(rng, xt, (2, c, *spatial))
    w = _ints(rng, wt, (m, c // group, *kernel))
    xz, wz = (np.array(v, t) for v, t in ((rng.integers(0, 100), xt), (rng.integers(0, 100), wt)))
    if extreme:  # |x - x_zp| = |w - w_zp| = 255 everywhere but a few spots
        x[:], w[:] = np.iinfo(xt).max, np.iinfo(wt).min
        xz, wz = np.array(np.iinfo(xt).min, xt), np.array(np.iinfo(wt).max, wt)
        x.flat[::7], w.flat[::5] = np.iinfo(xt).min, np.iinfo(wt).max
    if zps == "zero":
        xz, wz = np.zeros((), xt), np.zeros((), wt)
    values: dict[str, np.ndarray | None] = {"x": x, "w": w, "x_zero_point": xz if zps else None,
                                            "w_zero_point": wz if zps else None}
    inputs = {"x"} | ({"w"} if runtime_w else set()) | ({"x_zero_point", "w_zero_point"} if runtime_zp else set())
    kwargs = {"group": group, **attrs} if group > 1 else dict(attrs)
    return _model("ConvInteger", values, inputs, ["y"], **kwargs), _feeds(values, inputs)


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_integer_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    proto, feeds = _conv_case(**CONV_CASES[case])
    want = run_ort(proto, feeds)
    assert want[0].dtype == np.int32
    model = _convert(proto, tmp_path)
    _check_path(model, case, ("Convolution", "GroupConvolution"), want)
    _check_integer(model, feeds, want, case)


def test_conv_integer_per_channel_weight_zero_point(tmp_path: Path) -> None:
    """ONNX allows a 1-D w_zero_point (one per output channel); ONNX Runtime does not: the ONNX reference checks."""
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(5)
    x, w = _ints(rng, np.uint8, (1, 3, 5, 5)), _ints(rng, np.uint8, (4, 3, 3, 3))
    proto = _model("ConvInteger", {"x": x, "w": w, "x_zero_point": np.array(7, np.uint8),
                                   "w_zero_point": np.array([0, 100, 200, 255], np.uint8)}, {"x"}, ["y"],
                   pads=[1, 1, 1, 1])
    want = ReferenceEvaluator(proto).run(None, {"x": x})
    _check_integer(_convert(proto, tmp_path), {"x": x}, want, "per-channel w_zero_point")


# -------------------------------------------------------------------------------------------------- MatMulInteger
MATMUL_CASES = {
    "u8u8": dict(at=np.uint8, bt=np.uint8),
    "u8i8": dict(at=np.uint8, bt=np.int8),
    "i8u8": dict(at=np.int8, bt=np.uint8),
    "i8i8": dict(at=np.int8, bt=np.int8),
    "no_zero_points": dict(at=np.uint8, bt=np.int8, zps=False),
    "per_column": dict(at=np.uint8, bt=np.uint8, zps="column"),
    "runtime_b": dict(at=np.uint8, bt=np.uint8, runtime_b=True),
    "batched": dict(at=np.uint8, bt=np.int8, a_shape=(2, 3, 5, 6)),
    "batched_both": dict(at=np.uint8, bt=np.uint8, a_shape=(2, 5, 6), b_batch=(2,), runtime_b=True),
    # K = 1024 of extreme values: sums beyond 2^24, the weights split in two f32 products
    "split": dict(at=np.uint8, bt=np.uint8, a_shape=(3, 1024), extreme=True),
    "split_runtime_b": dict(at=np.int8, bt=np.uint8, a_shape=(3, 1024), extreme=True, runtime_b=True),
    # K = 8192: even the halves exceed 2^24, the MatMul runs on i32
    "i32": dict(at=np.uint8, bt=np.int8, a_shape=(2, 8192), extreme=True),
}


def _matmul_case(at: type, bt: type, zps: bool | str = True, runtime_b: bool = False,
                 a_shape: tuple[int, ...] = (5, 6), b_batch: tuple[int, ...] = (), extreme: bool = False
                 ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    rng = np.random.default_rng(len(a_shape) + 7 * len(b_batch))
    k, n = a_shape[-1], 4
    a, b = _ints(rng, at, a_shape), _ints(rng, bt, (*b_batch, k, n))
    az, bz = _ints(rng, at, ()), _ints(rng, bt, (n,) if zps in ("column", "row") else ())
    if zps == "row":
        az = _ints(rng, at, (a_shape[-2],))
    if extreme:  # |a - a_zp| = |b - b_zp| = 255 everywhere but a few spots
        a[:], b[:] = np.iinfo(at).max, np.iinfo(bt).min
        az, bz = np.array(np.iinfo(at).min, at), np.array(np.iinfo(bt).max, bt)
        a.flat[::7], b.flat[::5] = np.iinfo(at).min, np.iinfo(bt).max
    values: dict[str, np.ndarray | None] = {"A": a, "B": b, "a_zero_point": az if zps else None,
                                            "b_zero_point": bz if zps else None}
    inputs = {"A", "B"} if runtime_b else {"A"}
    return _model("MatMulInteger", values, inputs, ["Y"]), _feeds(values, inputs)


@pytest.mark.parametrize("case", list(MATMUL_CASES))
def test_matmul_integer_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    proto, feeds = _matmul_case(**MATMUL_CASES[case])
    want = run_ort(proto, feeds)
    model = _convert(proto, tmp_path)
    _check_path(model, case, ("MatMul",), want)
    _check_integer(model, feeds, want, case)


def test_matmul_integer_per_row_zero_point(tmp_path: Path) -> None:
    """ONNX allows a_zero_point per row of A (and b_zero_point per column); ONNX Runtime takes a scalar a_zero_point
    only."""
    proto, feeds = _matmul_case(np.uint8, np.int8, zps="row", a_shape=(5, 6))
    az, bz = (numpy_helper.to_array(t).astype(np.int32) for t in proto.graph.initializer[1:])
    b = numpy_helper.to_array(proto.graph.initializer[0]).astype(np.int32)
    want = [(feeds["A"].astype(np.int32) - az[:, None]) @ (b - bz)]  # (the ONNX reference rejects a 1-D per-row
    _check_integer(_convert(proto, tmp_path), feeds, want, "per-row")  # zero point: it broadcasts it as a row)


def test_dynamic_quantization_chain_matches_onnxruntime(tmp_path: Path) -> None:
    """What onnxruntime.quantization.quantize_dynamic writes: DynamicQuantizeLinear -> MatMulInteger -> Cast ->
    Mul by the two scales, bit for bit on REF and CPU."""
    rng = np.random.default_rng(9)
    b = _ints(rng, np.int8, (16, 8))
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
             helper.make_node("MatMulInteger", ["q", "B", "z"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["s", "b_scale"], ["scale"]),
             helper.make_node("Mul", ["accf", "scale"], ["y"])]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(b, "B"), numpy_helper.from_array(np.float32(0.0123), "b_scale")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    x = {"x": (rng.standard_normal((3, 16)) * 2).astype(np.float32)}
    want = run_ort(proto, x)
    for device, got in _run_all(_convert(proto, tmp_path), x).items():
        _assert_same(got, want, device)


# --------------------------------------------------------------------------------------------- DynamicQuantizeLSTM
HIDDEN, INPUT = 4, 3


def _lstm_params(rng: np.random.Generator, dirs: int, signed: bool, per_channel: bool) -> dict[str, np.ndarray]:
    """W [dirs, INPUT, 4H], R [dirs, H, 4H] (8-bit), B and the quantization parameters (ONNX Runtime's checks:
    int8 weights have zero points 0; per-column u8 zero points are all one value)."""
    qt = np.int8 if signed else np.uint8
    out: dict[str, np.ndarray] = {}
    for name, k in (("W", INPUT), ("R", HIDDEN)):
        out[name] = _ints(rng, qt, (dirs, k, 4 * HIDDEN))
        cols = (dirs, 4 * HIDDEN) if per_channel else (dirs,)
        out[f"{name}_scale"] = rng.uniform(0.002, 0.01, cols).astype(np.float32)
        if signed:
            out[f"{name}_zero_point"] = np.zeros(cols, qt)
        elif per_channel:
            out[f"{name}_zero_point"] = np.full(cols, rng.integers(100, 150), qt)
        else:
            out[f"{name}_zero_point"] = rng.integers(100, 150, cols).astype(qt)
    out["B"] = (rng.standard_normal((dirs, 8 * HIDDEN)) * 0.3).astype(np.float32)
    return out


def _dq_lstm(p: dict[str, np.ndarray], x: np.ndarray, direction: str, initial_c: np.ndarray | None,
             seq_lens: np.ndarray | None) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    values: dict[str, np.ndarray | None] = {"X": x, "W": p["W"], "R": p["R"], "B": p["B"], "sequence_lens": seq_lens,
                                            "initial_h": None, "initial_c": initial_c, "P": None}
    for k in ("W_scale", "W_zero_point", "R_scale", "R_zero_point"):
        values[k] = p[k]
    return (_model("DynamicQuantizeLSTM", values, {"X"}, ["Y", "Y_h", "Y_c"], domain="com.microsoft",
                   hidden_size=HIDDEN, direction=direction), {"X": x})


def _float_lstm(p: dict[str, np.ndarray], x: np.ndarray, direction: str, initial_c: np.ndarray | None,
                seq_lens: np.ndarray | None) -> onnx.ModelProto:
    """ONNX's LSTM on the dequantized weights, transposed to its [dirs, 4H, K] layout."""
    def deq(name: str) -> np.ndarray:
        scale, zp = p[f"{name}_scale"], p[f"{name}_zero_point"].astype(np.float32)
        if scale.ndim == 1:
            scale, zp = scale[:, None], zp[:, None]
        w = (p[name].astype(np.float32) - zp[:, None, :]) * scale[:, None, :]
        return np.ascontiguousarray(np.swapaxes(w, 1, 2))

    values: dict[str, np.ndarray | None] = {"X": x, "W": deq("W"), "R": deq("R"), "B": p["B"],
                                            "sequence_lens": seq_lens, "initial_h": None, "initial_c": initial_c}
    return _model("LSTM", values, {"X"}, ["Y", "Y_h", "Y_c"], hidden_size=HIDDEN, direction=direction)


LSTM_CASES = {
    "forward_u8": dict(direction="forward"),
    "reverse_i8": dict(direction="reverse", signed=True),
    "bidirectional_u8_per_channel": dict(direction="bidirectional", per_channel=True),
    "bidirectional_i8_per_channel_initial_c": dict(direction="bidirectional", signed=True, per_channel=True,
                                                   initial_c=True),
    "short_sequences": dict(direction="bidirectional", seq_lens=True),
}


def _lstm_case(direction: str, signed: bool = False, per_channel: bool = False, initial_c: bool = False,
               seq_lens: bool = False, steps: int = 5, batch: int = 3, grid: bool = False
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, np.ndarray | None]:
    dirs = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(steps * 10 + dirs + 2 * signed + 4 * per_channel)
    p = _lstm_params(rng, dirs, signed, per_channel)
    if grid:  # multiples of 1/16 in [-1/2, 7/16]: x / scale = 17 k, ONNX Runtime's u8 codes hold X exactly
        x = rng.integers(-8, 8, (steps, batch, INPUT)).astype(np.float32) / 16
        x.flat[:2] = (-0.5, 0.4375)
    else:
        x = rng.standard_normal((steps, batch, INPUT)).astype(np.float32)
    c0 = rng.standard_normal((dirs, batch, HIDDEN)).astype(np.float32) if initial_c else None
    lens = np.array([steps, 2, 1][:batch], np.int32) if seq_lens else None
    return p, x, c0, lens


@pytest.mark.parametrize("case", list(LSTM_CASES))
def test_dynamic_quantize_lstm_is_lstm_on_dequantized_weights(case: str, tmp_path: Path) -> None:
    p, x, c0, lens = _lstm_case(**LSTM_CASES[case])
    proto, feeds = _dq_lstm(p, x, LSTM_CASES[case]["direction"], c0, lens)
    want = run_ort(_float_lstm(p, x, LSTM_CASES[case]["direction"], c0, lens), feeds)
    model = _convert(proto, tmp_path)
    for device, got in {**_run_all(model, feeds), "OpenVINO": run_openvino(model, [x])}.items():
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"{case} on {device} output {i}")


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_dynamic_quantize_lstm_matches_onnxruntime_where_quantization_is_exact(direction: str,
                                                                                tmp_path: Path) -> None:
    """One step from a zero hidden state with X on ONNX Runtime's u8 grid: its activation quantization is exact
    there, and its kernel agrees with the LSTMSequence to float rounding (its sigmoid/tanh approximations)."""
    p, x, c0, _ = _lstm_case(direction, per_channel=direction == "bidirectional", initial_c=True, steps=1,
                             grid=True)
    proto, feeds = _dq_lstm(p, x, direction, c0, None)
    want = run_ort(proto, feeds)
    model = _convert(proto, tmp_path)
    for device, got in {**_run_all(model, feeds), "OpenVINO": run_openvino(model, [x])}.items():
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"{direction} on {device} output {i}")


def test_dynamic_quantize_lstm_refuses_peepholes() -> None:
    p, x, _, _ = _lstm_case("forward")
    proto, _ = _dq_lstm(p, x, "forward", None, None)
    proto.graph.initializer.append(numpy_helper.from_array(np.ones((1, 3 * HIDDEN), np.float32), "P"))
    proto.graph.node[0].input[7] = "P"
    with pytest.raises(UnsupportedOpsError, match="peephole"):
        irforge.convert_model(proto)
