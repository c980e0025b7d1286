"""Hypothesis case generators for the differential test of the CPU lowerings against REF
(test_lowering_differential.py): one generator per op type the CPU device lowers.

A generator draws a `Case`: the runtime inputs (NumPy arrays, possibly non-contiguous views: channels-last,
strided, transposed, reversed), a function building the graph on their Parameters (the op, sometimes inside the
small pattern the CPU fuses it in: a bias/activation/residual chain after a convolution or a linear layer, a layer
norm's scale and shift), and the tolerance of the comparison. Generators draw every form the op's spec allows:
ranks 0 to 6 where the op takes them, NumPy broadcasting between ranks, empty dimensions, constant and scalar
operands, absent optional inputs, every element type the op takes (the lowering may decline some: the CPU then runs
REF's kernel, and the case checks that it declines rather than computes something else).

Values stay finite unless the op's rule for NaN/inf is the point (Convert); tests/runtime/cpu/test_nan.py holds the
NaN rule. Register a generator with `@generates("OpType", ...)`; `GENERATORS` maps op type -> generator."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from irforge.errors import GraphError
from irforge.ir.graph import Output, constant, make
from irforge.ir.types import Type

Draw = Callable[[st.SearchStrategy[Any]], Any]
Build = Callable[..., Output | Sequence[Output]]

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32), "f16": np.dtype(np.float16), "bf16": BF16, "i64": np.dtype(np.int64),
    "i32": np.dtype(np.int32), "i8": np.dtype(np.int8), "u8": np.dtype(np.uint8), "boolean": np.dtype(np.bool_),
}
FLOATS = ("f32", "f16", "bf16")
INTS = ("i64", "i32", "i8", "u8")
NUMERIC = FLOATS + INTS
ALL = NUMERIC + ("boolean",)
MAX_ELEMENTS = 256  # per drawn tensor: the whole file runs in CI's budget


@dataclass
class Case:
    """`inputs` feed the graph's Parameters in order; `build(*parameter outputs)` returns the graph's outputs.
    Floating outputs must satisfy |cpu - ref| <= atol * max(1, max|ref|) + rtol * |ref| (NaN where REF has NaN);
    everything else must be equal. `label` says what was drawn (shown when a case fails). `extra` flags:
    `may_reject` (the op's spec may refuse the drawn combination: the example is discarded), `ref_dtype_bug` and
    `ref_bf16_lowest` (known REF deviations the comparison allows for; see the generators that set them)."""

    inputs: list[np.ndarray]
    build: Build
    rtol: float = 0.0
    atol: float = 0.0
    label: str = ""
    allowed_off: int = 0  # elements allowed beyond the tolerance but within `loose` (FakeQuantize ties)
    loose: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


GENERATORS: dict[str, Callable[[Draw, str], Case]] = {}


def generates(*type_names: str) -> Callable[[Callable[[Draw, str], Case]], Callable[[Draw, str], Case]]:
    def deco(fn: Callable[[Draw, str], Case]) -> Callable[[Draw, str], Case]:
        for t in type_names:
            assert t not in GENERATORS, f"two generators for {t}"
            GENERATORS[t] = fn
        return fn
    return deco


# ---------------------------------------------------------------- building blocks
def node(type_name: str, *inputs: Output | np.ndarray, **attrs: Any) -> Any:
    """A new node; NumPy arrays (and the NumPy scalars 0-d arithmetic returns) become Constants."""
    return make(type_name, [constant(np.asarray(i)) if isinstance(i, (np.ndarray, np.generic)) else i
                            for i in inputs], **attrs)


def op(type_name: str, *inputs: Output | np.ndarray, **attrs: Any) -> Output:
    return node(type_name, *inputs, **attrs).output(0)


def ints(*v: int, dtype: Any = np.int64) -> np.ndarray:
    return np.array(v, dtype)


def rng(draw: Draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))


def chance(draw: Draw, one_in: int) -> bool:
    return draw(st.integers(0, one_in - 1)) == 0


def weighted(draw: Draw, options: Sequence[tuple[Any, int]]) -> Any:
    """One of the options, each with its weight: the forms a lowering declines are drawn now and then, the fast
    path's forms mostly."""
    k = draw(st.integers(0, sum(w for _, w in options) - 1))
    for value, w in options:
        if k < w:
            return value
        k -= w
    raise AssertionError


def tol(et: str, f32: float = 1e-5) -> dict[str, float]:
    """The tolerance of a float result computed in `et`: `f32` relative for f32, about one ulp of f16/bf16."""
    r = {"f32": f32, "f16": max(f32, 2e-3), "bf16": max(f32, 1.6e-2)}.get(et, 0.0)
    return dict(rtol=r, atol=r)


def size_ok(shape: Sequence[int], limit: int = MAX_ELEMENTS) -> bool:
    return math.prod(shape) <= limit


def shape(draw: Draw, min_rank: int = 0, max_rank: int = 6, max_side: int = 4, empty: bool = True,
          min_side: int = 1, limit: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """A shape of rank min_rank..max_rank; one dimension is empty (0) now and then when `empty`."""
    rank = draw(st.integers(min_rank, max_rank))
    dims = [draw(st.integers(min_side, max_side)) for _ in range(rank)]
    while not size_ok(dims, limit):
        k = dims.index(max(dims))
        dims[k] = max(min_side, dims[k] // 2)
    if empty and rank and chance(draw, 12):
        dims[draw(st.integers(0, rank - 1))] = 0
    return tuple(dims)


def broadcast_shapes(draw: Draw, n: int, max_rank: int = 6, empty: bool = True
                     ) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """`n` mutually broadcastable input shapes of ranks 0..max_rank and their result shape."""
    got = draw(mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_rank,
                                             min_side=0 if empty and chance(draw, 8) else 1, max_side=3))
    if not size_ok(got.result_shape) or any(not size_ok(s) for s in got.input_shapes):
        got = draw(mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, min_side=1, max_side=3))
    return tuple(tuple(s) for s in got.input_shapes), tuple(got.result_shape)


def values(r: np.random.Generator, et: str, shp: Sequence[int], lo: float = -4.0, hi: float = 4.0,
           full_range: bool = False, ties: bool = True) -> np.ndarray:
    """Random values of element type `et`: floats uniform in [lo, hi) (sometimes, when `ties`, whole numbers and
    halves), integers in [lo, hi] or over the type's whole range, booleans half true."""
    dt = DTYPES[et]
    shp = tuple(shp)
    if et == "boolean":
        return np.asarray(r.random(shp) < 0.5)
    if et in FLOATS:
        x = np.asarray(r.uniform(lo, hi, shp))
        if ties and r.random() < 0.2:
            x = np.round(x * 2) / 2  # ties and exact zeros
        return x.astype(dt)
    info = np.iinfo(dt)
    if full_range:
        a, b = int(info.min), int(info.max)
    else:
        a, b = max(int(info.min), int(math.floor(lo))), min(int(info.max), int(math.ceil(hi)))
    return np.asarray(r.integers(a, b, shp, endpoint=True, dtype=np.int64)).astype(dt)


def present(draw: Draw, x: np.ndarray) -> np.ndarray:
    """`x` with the same values in another memory layout (what a caller may hand the device): C-contiguous,
    channels-last, strided (every other element of a larger buffer), transposed, reversed (negative strides) or
    Fortran order."""
    kinds = ["c", "c", "strided", "fortran", "reversed"]
    if x.ndim >= 3:
        kinds.append("channels_last")
    if x.ndim >= 2:
        kinds.append("transposed")
    kind = draw(st.sampled_from(kinds)) if x.ndim else "c"
    if kind == "c" or x.size == 0 and kind != "strided":
        return x
    if kind == "channels_last":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    if kind == "transposed":
        return np.ascontiguousarray(x.T).T
    if kind == "fortran":
        return np.asfortranarray(x)
    if kind == "reversed":
        return np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])[(slice(None, None, -1),) * x.ndim]
    axis = draw(st.integers(0, x.ndim - 1))
    big_shape = list(x.shape)
    big_shape[axis] *= 2
    big = np.zeros(big_shape, x.dtype)
    index = [slice(None)] * x.ndim
    index[axis] = slice(None, None, 2)
    big[tuple(index)] = x
    return big[tuple(index)]


def scalar_const(v: float | int | bool, et: str, rank: int = 0) -> np.ndarray:
    return np.array(v, DTYPES[et]).reshape((1,) * rank)


def identity_conv(x: Output, channels: int) -> Output:
    """A 1x1 convolution with identity weights: the same values, computed by oneDNN into a channels-last tensor
    (exact: each output is one product by 1 plus products by 0), so the op after it reads channels-last memory and
    runs inside a traced segment."""
    w = np.eye(channels, dtype=np.float32).reshape(channels, channels, 1, 1)
    return op("Convolution", x, w, strides=[1, 1], dilations=[1, 1], pads_begin=[0, 0], pads_end=[0, 0],
              auto_pad="explicit")


def source(draw: Draw, p: Output, x: np.ndarray, et: str) -> Output:
    """What the op reads instead of the Parameter itself, now and then: the value multiplied by one (a fresh
    tensor the op may overwrite in place) or, for f32 4-D data with channels, the output of an identity 1x1
    convolution (channels-last memory, a traced segment)."""
    k = draw(st.integers(0, 5))
    if k == 0 and et in NUMERIC:
        return op("Multiply", p, scalar_const(1, et))
    if k == 1 and et == "f32" and x.ndim == 4 and 0 < x.shape[1] <= 8 and x.size:
        return identity_conv(p, x.shape[1])
    return p


# ---------------------------------------------------------------- unary element-wise
_DOMAINS: dict[str, tuple[float, float]] = {
    "Log": (0.01, 10.0), "Sqrt": (0.0, 10.0), "Asin": (-0.99, 0.99), "Acos": (-0.99, 0.99), "Atanh": (-0.99, 0.99),
    "Acosh": (1.0, 10.0), "Tan": (-1.4, 1.4), "Exp": (-10.0, 10.0), "Sinh": (-8.0, 8.0), "Cosh": (-8.0, 8.0),
    "SoftPlus": (-30.0, 30.0), "Mish": (-10.0, 10.0), "Sigmoid": (-10.0, 10.0), "Tanh": (-6.0, 6.0),
}
FLOAT_UNARY = ("Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
               "Cosh", "Asinh", "Acosh", "Atanh", "Floor", "Ceiling", "SoftPlus", "SoftSign", "Mish", "HSwish",
               "HSigmoid")
EXACT_UNARY = ("Relu", "Abs", "Negative", "Sign")


def _unary_input(draw: Draw, ets: Sequence[str], lo: float = -6.0, hi: float = 6.0, full_range: bool = False,
                 max_rank: int = 6) -> tuple[str, np.ndarray]:
    et = draw(st.sampled_from(list(ets)))
    x = values(rng(draw), et, shape(draw, max_rank=max_rank), lo, hi, full_range=full_range)
    return et, present(draw, x)


@generates(*FLOAT_UNARY)
def unary_float(draw: Draw, t: str) -> Case:
    lo, hi = _DOMAINS.get(t, (-6.0, 6.0))
    # integers: the lowering declines (REF's rounding rules), the CPU must give REF's result
    et, x = _unary_input(draw, FLOATS * 3 + ("i32", "i64"), lo, hi)
    return Case([x], lambda p: op(t, source(draw, p, x, et)), **tol(et), label=f"{t} {et}{list(x.shape)}")


@generates(*EXACT_UNARY)
def unary_exact(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, NUMERIC, full_range=True)
    if et in FLOATS:
        x = present(draw, values(rng(draw), et, x.shape))
    return Case([x], lambda p: op(t, source(draw, p, x, et)), label=f"{t} {et}{list(x.shape)}")


@generates("LogicalNot")
def logical_not(draw: Draw, t: str) -> Case:
    _, x = _unary_input(draw, ("boolean",))
    pre = chance(draw, 3)
    return Case([x], lambda p: op(t, op("LogicalNot", op("LogicalNot", p)) if pre else p),
                label=f"LogicalNot {list(x.shape)}")


@generates("Round")
def round_(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(FLOATS + ("i32",)))
    r = rng(draw)
    shp = shape(draw)
    x = values(r, et, shp, -8, 8)
    if et in FLOATS:
        x = (np.round(r.uniform(-16, 16, shp)) / 2).astype(DTYPES[et])  # halves: every tie
    mode = draw(st.sampled_from(["half_to_even", "half_away_from_zero"]))
    x = present(draw, x)
    return Case([x], lambda p: op(t, source(draw, p, x, et), mode=mode), label=f"Round {mode} {et}{list(shp)}")


@generates("Clamp")
def clamp(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS * 3 + INTS)  # (integers: the reference kernel)
    lo = draw(st.sampled_from([-3.0, -1.5, -0.25, 0.0, 1.0]))
    hi = lo + draw(st.sampled_from([0.0, 0.5, 1.0, 2.75, 10.0]))
    # REF's Clamp returns f32 for bf16 data (np.clip promotes ml_dtypes' bf16; reported): its values are compared
    return Case([x], lambda p: op(t, source(draw, p, x, et), min=lo, max=hi), **tol(et, 0.0),
                label=f"Clamp [{lo}, {hi}] {et}{list(x.shape)}", extra={"ref_dtype_bug": et == "bf16"})


@generates("Gelu")
def gelu(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS)
    mode = draw(st.sampled_from(["ERF", "TANH"]))
    return Case([x], lambda p: op(t, source(draw, p, x, et), approximation_mode=mode), **tol(et),
                label=f"Gelu {mode} {et}{list(x.shape)}")


@generates("Elu")
def elu(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS)
    alpha = draw(st.sampled_from([1.0, 0.5, 2.0, 0.0]))
    return Case([x], lambda p: op(t, source(draw, p, x, et), alpha=alpha), **tol(et), label=f"Elu {alpha} {et}")


@generates("Swish")
def swish(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS)
    form = draw(st.sampled_from(["none", "const", "const1", "runtime"]))
    beta = np.array(draw(st.sampled_from([1.0, 0.5, 1.702, -1.0])), DTYPES[et])
    if form == "runtime":
        return Case([x, beta], lambda p, b: op(t, source(draw, p, x, et), b), **tol(et),
                    label=f"Swish runtime beta {et}")
    extra = [] if form == "none" else [np.array(1.0 if form == "const1" else beta, DTYPES[et])]
    return Case([x], lambda p: op(t, source(draw, p, x, et), *extra), **tol(et), label=f"Swish {form} {et}")


@generates("PRelu")
def prelu(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS + ("i32",))
    r = rng(draw)
    # a slope of higher rank than the data is left out: REF's kernel then returns the slope's rank, not the data's
    # (reported; the spec wants the data's shape)
    kinds = ["scalar", "one", "broadcast"] if x.ndim else ["scalar"]
    if x.ndim >= 2:
        kinds.append("channel")
    kind = draw(st.sampled_from(kinds))
    if kind == "scalar":
        sshape: tuple[int, ...] = ()
    elif kind == "one":
        sshape = (1,)
    elif kind == "channel":
        sshape = (x.shape[1],)
    else:
        k = draw(st.integers(0, x.ndim))
        sshape = tuple(d if chance(draw, 2) else 1 for d in x.shape[x.ndim - k:])
    slope = values(r, et, sshape, -1, 1) if et in FLOATS else values(r, et, sshape, -2, 2)
    if draw(st.booleans()):
        return Case([x, slope], lambda p, s: op(t, source(draw, p, x, et), s), **tol(et),
                    label=f"PRelu runtime slope{list(sshape)} {et}{list(x.shape)}")
    return Case([x], lambda p: op(t, source(draw, p, x, et), slope), **tol(et),
                label=f"PRelu slope{list(sshape)} {et}{list(x.shape)}")


@generates("Selu", "HardSigmoid")
def two_param(draw: Draw, t: str) -> Case:
    et, x = _unary_input(draw, FLOATS)
    rank = draw(st.integers(0, 1))
    a = scalar_const(draw(st.sampled_from([0.2, 1.67326, 0.5])), et, rank)
    b = scalar_const(draw(st.sampled_from([0.5, 1.0507, 2.0])), et, rank)
    if chance(draw, 5):
        return Case([x, a], lambda p, pa: op(t, p, pa, b), **tol(et), label=f"{t} runtime alpha {et}")
    return Case([x], lambda p: op(t, source(draw, p, x, et), a, b), **tol(et), label=f"{t} {et}{list(x.shape)}")


# ---------------------------------------------------------------- binary element-wise
ARITHMETIC = ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "SquaredDifference")
COMPARISONS = ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual")
LOGICAL = ("LogicalAnd", "LogicalOr", "LogicalXor")


def _operands(draw: Draw, t: str, et: str, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    r = rng(draw)
    out = []
    for s in shapes:
        if t in ("Divide", "FloorMod", "Mod") and et in FLOATS:
            v = values(r, et, s, -6, 6)
        elif t == "Power" and et in FLOATS:
            v = values(r, et, s, 0.1, 3) if not out else values(r, et, s, -3, 3)
        elif t == "Power":
            v = values(r, et, s, 0, 3)
        elif t in ("Divide", "FloorMod", "Mod"):
            v = values(r, et, s, -20, 20)
        else:
            v = values(r, et, s, full_range=chance(draw, 2))
        out.append(v)
    if t in ("Divide", "FloorMod", "Mod"):  # no zero divisors (integer division by zero is undefined)
        d = out[1]
        one = np.array(1, d.dtype)
        out[1] = np.where(d == 0, one, d).astype(d.dtype)
    return out


@generates(*ARITHMETIC, "Divide", "Power", "FloorMod", "Mod", *COMPARISONS, *LOGICAL)
def binary(draw: Draw, t: str) -> Case:
    if t in LOGICAL:
        et = "boolean"
    elif t in COMPARISONS:
        et = draw(st.sampled_from(ALL))
    else:
        et = draw(st.sampled_from(FLOATS * 2 + INTS))
    if t in ("Add", "Multiply", "Subtract") and et == "f32" and chance(draw, 5):
        return _affine_chain(draw, t)
    (sa, sb), out = broadcast_shapes(draw, 2)
    a, b = _operands(draw, t, et, [sa, sb])
    form = draw(st.sampled_from(["rr", "rr", "rr", "rc", "cr", "rs", "sr"]))  # runtime/constant/scalar constant
    if form in ("rs", "sr"):
        s = b if form == "rs" else a
        rank = draw(st.integers(0, min(2, len(out))))
        one = s.reshape(-1)[:1].reshape((1,) * rank) if s.size else values(rng(draw), et, (1,) * rank, 1, 3)
        if form == "rs":
            b = one
        else:
            a = one
        form = form.replace("s", "c")
    label = f"{t} {et} {list(a.shape)} {list(b.shape)} {form}"
    pre = chance(draw, 3)  # a fresh first operand: the in-place forms

    def lead(p: Output) -> Output:
        return op("Multiply", p, scalar_const(1, et)) if pre and et != "boolean" else p
    rt = 1e-6 if t in ("Divide", "FloorMod", "Mod") else (1e-5 if t == "Power" else 0.0)
    tols = tol(et, rt) if et in FLOATS and t not in COMPARISONS else {}
    if form == "rr":
        xa, xb = present(draw, a), present(draw, b)
        return Case([xa, xb], lambda p, q: op(t, lead(p), q), **tols, label=label)
    if form == "rc":
        xa = present(draw, a)
        return Case([xa], lambda p: op(t, lead(p), b), **tols, label=label)
    xb = present(draw, b)
    return Case([xb], lambda q: op(t, a, lead(q)), **tols, label=label)


_CHAIN_ACTS = ("Relu", "Sigmoid", "Tanh", "HSwish", "HSigmoid", "Swish", "Clamp", "Gelu", "PRelu", "Elu")


def activation(draw: Draw, x: Output, names: Sequence[str] = _CHAIN_ACTS) -> tuple[Output, str]:
    name = draw(st.sampled_from(list(names)))
    if name == "Clamp":
        return op("Clamp", x, min=-0.5, max=1.5), name
    if name == "Gelu":
        mode = draw(st.sampled_from(["ERF", "TANH"]))
        return op("Gelu", x, approximation_mode=mode), f"Gelu {mode}"
    if name == "PRelu":
        return op("PRelu", x, np.array([0.25], np.float32)), name
    if name == "Elu":
        return op("Elu", x, alpha=1.0), name
    return op(name, x), name


def _affine_chain(draw: Draw, t: str) -> Case:
    """Per-channel Multiply / Add / Subtract chain then an activation (torch_affine: one addcmul pass)."""
    shp = shape(draw, 3, 5, empty=False)
    r = rng(draw)
    x = present(draw, values(r, "f32", shp))
    c = shp[1]
    vshape = draw(st.sampled_from([(1, c) + (1,) * (len(shp) - 2), (c,) + (1,) * (len(shp) - 2), ()]))
    first = values(r, "f32", vshape, 0.5, 2)
    second = values(r, "f32", vshape, -1, 1)
    swap = draw(st.booleans())

    def build(p: Output) -> Output:
        y = op(t, p, first) if t == "Subtract" or not swap else op(t, first, p)
        y = op(draw(st.sampled_from(["Add", "Multiply", "Subtract"])), y, second) if draw(st.booleans()) else y
        return activation(draw, y)[0]
    return Case([x], build, rtol=1e-5, atol=1e-5, label=f"affine chain from {t} f32{list(shp)} const{list(vshape)}")


@generates("Select")
def select(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(ALL))
    (sc, sa, sb), _ = broadcast_shapes(draw, 3)
    r = rng(draw)
    cond = values(r, "boolean", sc)
    a, b = values(r, et, sa, full_range=True), values(r, et, sb, full_range=True)
    consts = [draw(st.booleans()) for _ in range(3)]
    if all(consts):
        consts[draw(st.integers(0, 2))] = False
    arrays = [cond, a, b]
    runtime = [present(draw, v) for v, c in zip(arrays, consts) if not c]

    def build(*ps: Output) -> Output:
        it = iter(ps)
        return op(t, *[v if c else next(it) for v, c in zip(arrays, consts)])
    return Case(runtime, build, label=f"Select {et} {list(sc)} {list(sa)} {list(sb)} consts {consts}")


# ---------------------------------------------------------------- conversion, shapes
@generates("Convert", "ConvertLike")
def convert(draw: Draw, t: str) -> Case:
    src = draw(st.sampled_from(ALL))
    dst = draw(st.sampled_from(ALL))
    r = rng(draw)
    shp = shape(draw)
    if src in FLOATS:
        big = {"f16": 6e4, "bf16": 1e20, "f32": 1e20}[src]
        x = values(r, src, shp, -300, 300).astype(np.float64)
        pick = r.random(shp)
        x = np.where(pick < 0.1, r.uniform(-big, big, shp), x)  # beyond every integer type's range
        x = np.where(pick > 0.97, np.array([np.nan, np.inf, -np.inf])[r.integers(0, 3, shp)], x)
        x = x.astype(DTYPES[src])
    else:
        x = values(r, src, shp, full_range=True)
    x = present(draw, x)
    if t == "Convert":
        return Case([x], lambda p: op(t, p, destination_type=Type.from_dtype(DTYPES[dst])),
                    label=f"Convert {src}{list(shp)} -> {dst}")
    like = np.zeros((2,), DTYPES[dst])
    return Case([x], lambda p: op(t, p, like), label=f"ConvertLike {src}{list(shp)} -> {dst}")


@generates("ShapeOf")
def shape_of(draw: Draw, t: str) -> Case:
    """ShapeOf of a value whose shape the data decides (NonZero): the only ShapeOf a plan runs (static ones fold)."""
    et = draw(st.sampled_from(ALL))
    x = present(draw, values(rng(draw), et, shape(draw), -1, 1))
    out_type = draw(st.sampled_from([Type.i64, Type.i32]))
    static = chance(draw, 4)

    def build(p: Output) -> Output:
        return op(t, p if static else op("NonZero", p), output_type=out_type)
    return Case([x], build, label=f"ShapeOf({'x' if static else 'NonZero(x)'}) {et}{list(x.shape)} {out_type}")


# ---------------------------------------------------------------- data movement
def _movement_input(draw: Draw, min_rank: int = 0, max_rank: int = 6, empty: bool = True
                    ) -> tuple[str, np.ndarray]:
    et = draw(st.sampled_from(ALL))
    x = values(rng(draw), et, shape(draw, min_rank, max_rank, empty=empty), full_range=True)
    return et, present(draw, x)


def _reshape_target(draw: Draw, shp: Sequence[int]) -> list[int]:
    """A shape of the same size: the dims grouped into products, ones inserted."""
    dims = list(shp)
    out: list[int] = []
    i = 0
    while i < len(dims):
        n = draw(st.integers(1, max(1, len(dims) - i)))
        out.append(int(math.prod(dims[i:i + n])))
        i += n
    for _ in range(draw(st.integers(0, 2))):
        if len(out) < 6:
            out.insert(draw(st.integers(0, len(out))), 1)
    return out


@generates("Reshape")
def reshape(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw)
    target = _reshape_target(draw, x.shape)
    special_zero = draw(st.booleans()) and 0 not in target  # (a 0 would read as "copy this dimension")
    spec = list(target)
    if special_zero:
        for i in range(min(len(spec), x.ndim)):
            if spec[i] == x.shape[i] and draw(st.booleans()):
                spec[i] = 0
    if x.size and spec and chance(draw, 2):
        k = draw(st.integers(0, len(spec) - 1))
        if spec[k] != 0:
            spec[k] = -1
    index_type = draw(st.sampled_from([np.int64, np.int32]))
    return Case([x], lambda p: op(t, source(draw, p, x, et), np.array(spec, index_type), special_zero=special_zero),
                label=f"Reshape {et}{list(x.shape)} -> {spec} special_zero={special_zero}")


@generates("Squeeze")
def squeeze(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(ALL))
    shp = list(shape(draw, 0, 6, max_side=3))
    for i in range(len(shp)):
        if chance(draw, 2):
            shp[i] = 1
    x = present(draw, values(rng(draw), et, shp, full_range=True))
    ones = [i for i, d in enumerate(shp) if d == 1]
    form = draw(st.sampled_from(["none", "list", "scalar"] if ones else ["none", "list"]))
    if form == "none":
        return Case([x], lambda p: op(t, source(draw, p, x, et)), label=f"Squeeze {et}{shp}")
    axes = [a - len(shp) if draw(st.booleans()) else a for a in ones if draw(st.booleans())]
    if form == "scalar":
        axes_arr = np.array(ones[0], np.int64)
    else:
        axes_arr = np.array(axes, draw(st.sampled_from([np.int64, np.int32])))
    return Case([x], lambda p: op(t, source(draw, p, x, et), axes_arr), label=f"Squeeze {et}{shp} axes {axes_arr}")


@generates("Unsqueeze")
def unsqueeze(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 0, 5)
    n = draw(st.integers(1, 2))
    out_rank = x.ndim + n
    axes = draw(st.lists(st.integers(0, out_rank - 1), min_size=n, max_size=n, unique=True))
    axes = [a - out_rank if draw(st.booleans()) else a for a in axes]
    arr = np.array(axes[0] if n == 1 and chance(draw, 3) else axes, np.int64)
    return Case([x], lambda p: op(t, source(draw, p, x, et), arr), label=f"Unsqueeze {et}{list(x.shape)} {arr}")


@generates("Transpose")
def transpose(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw)
    perm = draw(st.permutations(range(x.ndim)))
    order = np.array([], np.int64) if chance(draw, 5) else np.array(perm, draw(st.sampled_from([np.int64, np.int32])))
    return Case([x], lambda p: op(t, source(draw, p, x, et), order), label=f"Transpose {et}{list(x.shape)} {order}")


@generates("Concat")
def concat(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(ALL))
    base = list(shape(draw, 1, 6, max_side=3))
    axis = draw(st.integers(0, len(base) - 1))
    n = draw(st.integers(1, 4))
    r = rng(draw)
    parts = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(st.integers(0, 3))
        parts.append(values(r, et, s, full_range=True))
    consts = [draw(st.booleans()) and n > 1 for _ in parts]
    if all(consts):
        consts[0] = False
    runtime = [present(draw, v) for v, c in zip(parts, consts) if not c]
    a = axis - len(base) if draw(st.booleans()) else axis

    def build(*ps: Output) -> Output:
        it = iter(ps)
        return op(t, *[v if c else next(it) for v, c in zip(parts, consts)], axis=a)
    return Case(runtime, build, label=f"Concat {et} {[list(v.shape) for v in parts]} axis {a} consts {consts}")


@generates("Split", "VariadicSplit")
def split(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 1, 6)
    axis = draw(st.integers(0, x.ndim - 1))
    dim = x.shape[axis]
    a = np.array(axis - x.ndim if draw(st.booleans()) else axis, draw(st.sampled_from([np.int64, np.int32])))
    if t == "Split":
        n = draw(st.sampled_from([k for k in range(1, 5) if dim % k == 0]))
        return Case([x], lambda p: list(node(t, source(draw, p, x, et), a, num_splits=n).outputs),
                    label=f"Split {et}{list(x.shape)} axis {a} into {n}")
    lengths: list[int] = []
    left = dim
    while left > 0 and len(lengths) < 3:
        k = draw(st.integers(0, left))
        lengths.append(k)
        left -= k
    lengths.append(left)
    if chance(draw, 2):
        lengths[draw(st.integers(0, len(lengths) - 1))] = -1
    arr = np.array(lengths, np.int64)
    return Case([x], lambda p: list(node(t, source(draw, p, x, et), a, arr).outputs),
                label=f"VariadicSplit {et}{list(x.shape)} axis {a} lengths {lengths}")


@generates("Broadcast")
def broadcast(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(ALL))
    mode = draw(st.sampled_from(["numpy", "bidirectional", "explicit"]))
    r = rng(draw)
    if mode == "explicit":
        out = list(shape(draw, 1, 5, max_side=3))
        axes = sorted(draw(st.lists(st.integers(0, len(out) - 1), max_size=len(out), unique=True)))
        xs = [out[a] if draw(st.booleans()) else 1 for a in axes]
        x = present(draw, values(r, et, xs, full_range=True))
        return Case([x], lambda p: op(t, p, np.array(out, np.int64), np.array(axes, np.int64), mode=mode),
                    label=f"Broadcast explicit {et}{xs} -> {out} axes {axes}")
    (sx, st_), res = broadcast_shapes(draw, 2, max_rank=5)
    if mode == "numpy":
        st_ = res  # the target is the result: the input broadcasts to it
        if len(sx) > len(st_):
            sx = sx[len(sx) - len(st_):]
    x = present(draw, values(r, et, sx, full_range=True))
    target = np.array(st_, draw(st.sampled_from([np.int64, np.int32])))
    return Case([x], lambda p: op(t, source(draw, p, x, et), target, mode=mode),
                label=f"Broadcast {mode} {et}{list(sx)} -> {list(st_)}")


@generates("Tile")
def tile(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 0, 5, empty=True)
    reps = draw(st.lists(st.integers(0, 3), min_size=0, max_size=x.ndim + 1))
    out = np.broadcast_shapes(x.shape, (1,) * len(reps)) if reps else x.shape
    if not size_ok([int(d) * (max(reps) if reps else 1) for d in out], 1024):
        reps = [1] * len(reps)
    arr = np.array(reps, np.int64)
    return Case([x], lambda p: op(t, source(draw, p, x, et), arr), label=f"Tile {et}{list(x.shape)} {reps}")


@generates("Pad")
def pad(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 0, 5)
    mode = weighted(draw, [("constant", 4), ("edge", 2), ("reflect", 2), ("symmetric", 1)])
    pb, pe = [], []
    for d in x.shape:
        if mode == "constant":
            lo = -d
        else:
            lo = 0
        hi = {"constant": 2, "edge": 2 if d else 0, "reflect": max(0, min(2, d - 1)), "symmetric": min(2, d)}[mode]
        b = draw(st.integers(lo, hi))
        e = draw(st.integers(max(lo, -d - b) if mode == "constant" else lo, hi))
        pb.append(b)
        pe.append(e)
    index_type = draw(st.sampled_from([np.int64, np.int32]))
    extra = []
    if mode == "constant" and draw(st.booleans()):
        extra = [values(rng(draw), et, (), -3, 3, full_range=True)]
    return Case([x], lambda p: op(t, source(draw, p, x, et), np.array(pb, index_type), np.array(pe, index_type),
                                  *extra, pad_mode=mode),
                label=f"Pad {mode} {et}{list(x.shape)} {pb} {pe} value {extra}",
                extra={"may_reject": mode in ("reflect", "symmetric")})  # (no reflection of an empty axis)


@generates("ShuffleChannels")
def shuffle_channels(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 1, 6)
    axis = draw(st.integers(0, x.ndim - 1))
    dim = x.shape[axis]
    group = draw(st.sampled_from([g for g in range(1, 5) if dim % g == 0] if dim else [1]))
    a = axis - x.ndim if draw(st.booleans()) else axis
    return Case([x], lambda p: op(t, source(draw, p, x, et), axis=a, group=group),
                label=f"ShuffleChannels {et}{list(x.shape)} axis {a} group {group}")


# ---------------------------------------------------------------- indexing
@generates("Slice")
def slice_(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 1, 6)
    n = draw(st.integers(1, x.ndim))
    axes = draw(st.lists(st.integers(0, x.ndim - 1), min_size=n, max_size=n, unique=True))
    start, stop, step = [], [], []
    for a in axes:
        d = x.shape[a]
        s = draw(st.sampled_from([1, 1, 2, 3, -1, -2]))
        start.append(draw(st.integers(-d - 2, d + 2)))
        stop.append(draw(st.sampled_from([draw(st.integers(-d - 2, d + 2)), 2 ** 31 - 1, -(2 ** 31)])))
        step.append(s)
    it = draw(st.sampled_from([np.int64, np.int32]))
    with_axes = draw(st.booleans()) or axes != list(range(n))
    ax = [a - x.ndim if draw(st.booleans()) else a for a in axes]
    extra = [np.array(ax, it)] if with_axes else []
    return Case([x], lambda p: op(t, source(draw, p, x, et), np.array(start, it), np.array(stop, it),
                                  np.array(step, it), *extra),
                label=f"Slice {et}{list(x.shape)} start {start} stop {stop} step {step} axes {ax if extra else None}")


@generates("StridedSlice")
def strided_slice(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 1, 5)
    n = draw(st.integers(1, x.ndim + 1))
    begin, end, stride = [], [], []
    masks: dict[str, list[int]] = {k: [] for k in ("begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask",
                                                   "ellipsis_mask")}
    ellipsis = draw(st.integers(-1, n - 1)) if chance(draw, 3) else -1
    for i in range(n):
        d = x.shape[min(i, x.ndim - 1)]
        begin.append(draw(st.integers(-d - 1, d + 1)))
        end.append(draw(st.integers(-d - 1, d + 1)))
        stride.append(draw(st.sampled_from([1, 1, 2, -1])))
        masks["begin_mask"].append(int(chance(draw, 3)))
        masks["end_mask"].append(int(chance(draw, 3)))
        masks["new_axis_mask"].append(int(chance(draw, 6)))
        shrink = chance(draw, 5)
        masks["shrink_axis_mask"].append(int(shrink))
        if shrink:
            begin[-1] = draw(st.integers(-d, d - 1)) if d else 0
        masks["ellipsis_mask"].append(int(i == ellipsis))
    for k in masks:  # trailing zeros of a mask may be left off
        while masks[k] and masks[k][-1] == 0 and draw(st.booleans()):
            masks[k].pop()
    with_stride = draw(st.booleans()) or any(s != 1 for s in stride)
    extra = [np.array(stride, np.int64)] if with_stride else []
    return Case([x], lambda p: op(t, source(draw, p, x, et), np.array(begin, np.int64), np.array(end, np.int64),
                                  *extra, **masks),
                label=f"StridedSlice {et}{list(x.shape)} begin {begin} end {end} stride {stride} {masks}",
                extra={"may_reject": True})


@generates("Gather")
def gather(draw: Draw, t: str) -> Case:
    et, x = _movement_input(draw, 1, 5)
    axis = draw(st.integers(0, x.ndim - 1))
    d = x.shape[axis]
    r = rng(draw)
    # no empty index tensor: REF's Gather fails on one (its flat reshape to (-1, 0); reported)
    ishape = shape(draw, 0, 3, max_side=3, empty=False)
    it = draw(st.sampled_from(["i64", "i32"]))
    bad = d == 0 or chance(draw, 6)  # out of range: zeros (REF's rule), or the reference path
    idx = values(r, it, ishape, -d - 2 if bad else -d, d + 1 if bad else max(d - 1, 0)) if d or bad else \
        np.zeros(ishape, DTYPES[it])
    a = np.array(axis - x.ndim if draw(st.booleans()) else axis, np.int64)
    batch_dims = 0
    if chance(draw, 6) and x.ndim > 1 and len(ishape) >= 1:
        batch_dims = 1  # the lowering declines: the reference path
        ishape = (x.shape[0],) + ishape[1:]
        idx = values(r, it, ishape, 0, max(x.shape[max(axis, 1)] - 1, 0))
        a = np.array(max(axis, 1), np.int64)
    if draw(st.booleans()):
        return Case([x, idx], lambda p, i: op(t, source(draw, p, x, et), i, a, batch_dims=batch_dims),
                    label=f"Gather {et}{list(x.shape)} runtime idx {it}{list(idx.shape)} axis {a} b{batch_dims}",
                    extra={"may_reject": bad})
    return Case([x], lambda p: op(t, source(draw, p, x, et), idx, a, batch_dims=batch_dims),
                label=f"Gather {et}{list(x.shape)} const idx {idx.tolist()} axis {a} b{batch_dims}",
                extra={"may_reject": bad})


@generates("GatherElements")
def gather_elements(draw: Draw, t: str) -> Case:
    """Indices of the data's rank (each dim up to the data's, any size along the axis), negative ones included,
    constant (the native executor's precomputed offsets) or a runtime input (the reference kernel)."""
    et, x = _movement_input(draw, 1, 4, empty=False)
    axis = draw(st.integers(0, x.ndim - 1))
    d = x.shape[axis]
    ishape = tuple(draw(st.integers(1, 4)) if k == axis else draw(st.integers(1, n)) for k, n in enumerate(x.shape))
    it = draw(st.sampled_from(["i64", "i32"]))
    idx = values(rng(draw), it, ishape, -d, d - 1)
    a = axis - x.ndim if draw(st.booleans()) else axis
    if draw(st.booleans()):
        return Case([x, idx], lambda p, i: op(t, source(draw, p, x, et), i, axis=a),
                    label=f"GatherElements {et}{list(x.shape)} runtime idx {it}{list(ishape)} axis {a}")
    return Case([x], lambda p: op(t, source(draw, p, x, et), idx, axis=a),
                label=f"GatherElements {et}{list(x.shape)} const idx {idx.tolist()} axis {a}")


# ---------------------------------------------------------------- reductions, normalizations
REDUCTIONS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2")


def _axes(draw: Draw, rank: int, allow_empty: bool = True) -> np.ndarray:
    if rank == 0:
        return np.array([], np.int64)
    axes = draw(st.lists(st.integers(0, rank - 1), min_size=0 if allow_empty else 1, max_size=rank, unique=True))
    axes = [a - rank if draw(st.booleans()) else a for a in axes]
    if len(axes) == 1 and chance(draw, 3):
        return np.array(axes[0], np.int64)
    return np.array(axes, draw(st.sampled_from([np.int64, np.int32])))


@generates(*REDUCTIONS, "ReduceLogicalAnd", "ReduceLogicalOr")
def reduction(draw: Draw, t: str) -> Case:
    logical = t.startswith("ReduceLogical")
    et = "boolean" if logical else draw(st.sampled_from(FLOATS * 2 + ("i32", "i64")))
    shp = shape(draw)
    lo, hi = (0.5, 1.5) if t == "ReduceProd" else (-3.0, 3.0)
    if et == "f16" and t in ("ReduceL2", "ReduceSum", "ReduceMean") and chance(draw, 3):
        lo, hi = 200.0, 300.0  # squares and sums beyond f16's range mid-way, finite results
    x = present(draw, values(rng(draw), et, shp, lo, hi))
    axes = _axes(draw, len(shp))
    keep = draw(st.booleans())
    n = max(1, math.prod(shp[int(a)] for a in np.atleast_1d(axes)) if axes.size else 1)
    tols = tol(et, 1e-6 * n + 1e-6) if et in FLOATS else {}
    if et == "bf16":  # REF sums bf16 in bf16 (a rounding per addition; reported), the CPU in f32
        tols = dict(rtol=1.6e-2, atol=max(1.6e-2, 4e-3 * n))
    return Case([x], lambda p: op(t, source(draw, p, x, et), axes, keep_dims=keep), **tols,
                label=f"{t} {et}{list(shp)} axes {axes.tolist()} keep {keep}")


@generates("Softmax", "LogSoftmax")
def softmax(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(FLOATS * 2))
    shp = shape(draw, 1, 6)
    scale = draw(st.sampled_from([1.0, 5.0, 30.0]))
    x = present(draw, values(rng(draw), et, shp, -scale, scale))
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    return Case([x], lambda p: op(t, source(draw, p, x, et), axis=axis), **tol(et),
                label=f"{t} {et}{list(shp)} axis {axis}")


@generates("MVN")
def mvn(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(("f32", "f32", "f32", "f16")))
    shp = shape(draw, 1, 6)
    x = present(draw, values(rng(draw), et, shp, -3, 3))
    rank = len(shp)
    layer = chance(draw, 2)
    if layer:  # trailing axes: a layer norm, with its scale and shift absorbed
        k = draw(st.integers(1, rank))
        axes = np.array(list(range(rank - k, rank)) if draw(st.booleans()) else list(range(-k, 0)), np.int64)
    else:
        axes = _axes(draw, rank)
    variance = draw(st.booleans()) or layer
    mode = draw(st.sampled_from(["INSIDE_SQRT", "OUTSIDE_SQRT"])) if not layer else "INSIDE_SQRT"
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.1]))
    r = rng(draw)
    trailing = tuple(shp[rank - len(np.atleast_1d(axes)):]) if layer else ()
    weight = values(r, et, trailing, 0.5, 2) if layer and draw(st.booleans()) else None
    bias = values(r, et, trailing, -1, 1) if layer and draw(st.booleans()) else None

    def build(p: Output) -> Output:
        y = op(t, source(draw, p, x, et), axes, eps=eps, normalize_variance=variance, eps_mode=mode)
        if weight is not None:
            y = op("Multiply", y, weight)
        if bias is not None:
            y = op(draw(st.sampled_from(["Add", "Subtract"])), y, bias)
        return y
    return Case([x], build, **tol(et, 1e-4),
                label=f"MVN {et}{list(shp)} axes {axes.tolist()} var {variance} {mode} eps {eps} "
                      f"w {weight is not None} b {bias is not None}")


@generates("BatchNormInference")
def batch_norm(draw: Draw, t: str) -> Case:
    et = weighted(draw, [("f32", 5), ("f16", 1)])
    shp = shape(draw, 2, 5, empty=True)
    r = rng(draw)
    x = present(draw, values(r, et, shp))
    c = shp[1]
    gamma, beta, mean = values(r, et, (c,), 0.5, 2), values(r, et, (c,)), values(r, et, (c,))
    var = values(r, et, (c,), 0.1, 3)
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    if weighted(draw, [(False, 6), (True, 1)]):
        return Case([x, gamma], lambda p, g: op(t, p, g, beta, mean, var, epsilon=eps), **tol(et),
                    label=f"BatchNorm runtime gamma {et}{list(shp)}")
    return Case([x], lambda p: op(t, source(draw, p, x, et), gamma, beta, mean, var, epsilon=eps), **tol(et),
                label=f"BatchNorm {et}{list(shp)} eps {eps}")


@generates("NormalizeL2")
def normalize_l2(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(("f32", "f32", "f16")))
    shp = shape(draw, 1, 6)
    x = present(draw, values(rng(draw), et, shp))
    axes = _axes(draw, len(shp))
    eps = draw(st.sampled_from([1e-12, 1e-6, 0.5]))
    mode = draw(st.sampled_from(["add", "max"]))
    return Case([x], lambda p: op(t, source(draw, p, x, et), axes, eps=eps, eps_mode=mode), **tol(et),
                label=f"NormalizeL2 {et}{list(shp)} axes {axes.tolist()} eps {eps} {mode}")


@generates("LRN")
def lrn(draw: Draw, t: str) -> Case:
    et = weighted(draw, [("f32", 5), ("f16", 1)])
    shp = shape(draw, weighted(draw, [(3, 5), (2, 1)]), 5, empty=False)
    x = present(draw, values(rng(draw), et, shp))
    rank = len(shp)
    axes = _axes(draw, rank, allow_empty=False) if weighted(draw, [(False, 4), (True, 1)]) else ints(1)
    size = weighted(draw, [(3, 2), (1, 1), (5, 1), (2, 1)])
    alpha, beta, bias = draw(st.sampled_from([1e-4, 0.5])), draw(st.sampled_from([0.75, 0.5])), \
        draw(st.sampled_from([1.0, 2.0]))
    return Case([x], lambda p: op(t, source(draw, p, x, et), axes, alpha=alpha, beta=beta, bias=bias, size=size),
                **tol(et), label=f"LRN {et}{list(shp)} axes {axes.tolist()} size {size} a {alpha} b {beta} k {bias}")


# ---------------------------------------------------------------- pooling, resizing
def _window(draw: Draw, nsp: int, dilation: bool) -> dict[str, Any]:
    k = [draw(st.integers(1, 3)) for _ in range(nsp)]
    a: dict[str, Any] = dict(
        kernel=k, strides=[draw(st.integers(1, 3)) for _ in range(nsp)],
        pads_begin=[draw(st.integers(0, kk - 1)) for kk in k], pads_end=[draw(st.integers(0, kk - 1)) for kk in k],
        auto_pad=draw(st.sampled_from(["explicit", "explicit", "same_upper", "same_lower", "valid"])),
        rounding_type=draw(st.sampled_from(["floor", "ceil"])))
    if dilation:
        a["dilations"] = [draw(st.integers(1, 2)) for _ in range(nsp)]
    return a


@generates("MaxPool", "AvgPool")
def pool(draw: Draw, t: str) -> Case:
    nsp = draw(st.integers(1, 3))
    et = draw(st.sampled_from(("f32", "f32", "f32", "bf16", "f16") + (("i32",) if t == "MaxPool" else ())))
    shp = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(draw(st.integers(1, 7)) for _ in range(nsp))
    x = present(draw, values(rng(draw), et, shp, -4, 4))
    a = _window(draw, nsp, dilation=t == "MaxPool" or chance(draw, 4))
    if t == "AvgPool":
        a["exclude-pad"] = draw(st.booleans())
        if "dilations" in a:
            a["dilations"] = [1] * nsp
    indices = t == "MaxPool" and chance(draw, 4)
    if t == "MaxPool":
        a["index_element_type"] = draw(st.sampled_from([Type.i64, Type.i32]))

    def build(p: Output) -> Output | list[Output]:
        n = node(t, source(draw, p, x, et), **a)
        return list(n.outputs) if indices else n.output(0)
    # REF computes a bf16 MaxPool in f32: a window wholly in the padding gives f32's lowest, which is -inf in bf16
    # (reported); the CPU gives bf16's lowest finite value, as OpenVINO's reference (numeric_limits<T>::lowest)
    return Case([x], build, **tol(et, 1e-5 if t == "AvgPool" else 0.0),
                label=f"{t} {et}{list(shp)} {a} indices {indices}",
                extra={"may_reject": True, "ref_bf16_lowest": et == "bf16" and t == "MaxPool"})


@generates("Interpolate")
def interpolate(draw: Draw, t: str) -> Case:
    et = weighted(draw, [("f32", 6), ("f16", 1), ("u8", 1)])
    rank = draw(st.integers(1, 5))
    shp = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    x = present(draw, values(rng(draw), et, shp, -4, 4))
    n_axes = draw(st.integers(1, rank))
    axes = sorted(draw(st.lists(st.integers(0, rank - 1), min_size=n_axes, max_size=n_axes, unique=True)))
    mode = weighted(draw, [("nearest", 6), ("linear", 1), ("linear_onnx", 1)])
    by_sizes = draw(st.booleans())
    ctm = draw(st.sampled_from(["half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn",
                                "align_corners"]))
    nearest = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"]))
    if by_sizes:
        arg = np.array([draw(st.integers(1, 8)) for _ in axes], np.int64)
    else:
        arg = np.array([draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 0.75])) for _ in axes], np.float32)
    with_axes = draw(st.booleans()) or axes != list(range(rank))
    extra = [np.array(axes, np.int64)] if with_axes else []
    if not with_axes:
        arg = arg[:rank]
    attrs = dict(mode=mode, shape_calculation_mode="sizes" if by_sizes else "scales",
                 coordinate_transformation_mode=ctm, nearest_mode=nearest)
    return Case([x], lambda p: op(t, source(draw, p, x, et), arg, *extra, **attrs), **tol(et, 1e-5),
                label=f"Interpolate {et}{list(shp)} {arg.tolist()} axes {axes} {attrs}", extra={"may_reject": True})


# ---------------------------------------------------------------- convolutions
CONVOLUTIONS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData")


def _post_ops(draw: Draw, y: Output, c: int, nsp: int, residual: Output | None) -> tuple[Output, list[str]]:
    """The chain a convolution or linear layer absorbs: scale, bias, activation, residual Add, Relu."""
    parts = []
    chan = (1, c) + (1,) * nsp
    r = rng(draw)
    if chance(draw, 4):
        y = op("Multiply", y, values(r, "f32", draw(st.sampled_from([chan, chan[1:], ()])), 0.5, 1.5))
        parts.append("scale")
    if draw(st.booleans()):
        y = op(draw(st.sampled_from(["Add", "Add", "Subtract"])), y, values(r, "f32", draw(st.sampled_from(
            [chan, chan[1:]])), -1, 1))
        parts.append("bias")
    if draw(st.booleans()):
        y, name = activation(draw, y)
        parts.append(name)
    if residual is not None:
        y = op("Add", y, residual) if draw(st.booleans()) else op("Add", residual, y)
        parts.append("residual")
        if draw(st.booleans()):
            y = op("Relu", y)
            parts.append("Relu")
    return y, parts


@generates(*CONVOLUTIONS)
def convolution(draw: Draw, t: str) -> Case:
    grouped = t.startswith("Group")
    backprop = t.endswith("BackpropData")
    nsp = weighted(draw, [(2, 5), (1, 3), (3, 1)])  # 3-D: the reference kernel
    groups = draw(st.integers(1, 3)) if grouped else 1
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k = [draw(st.integers(1, 3)) for _ in range(nsp)]
    sizes = [draw(st.integers(1, 6)) for _ in range(nsp)]
    n = draw(st.integers(1, 2))
    et = weighted(draw, [("f32", 8), ("f16", 1), ("bf16", 1)])  # (f16, bf16: the reference kernel)
    r = rng(draw)
    x = present(draw, values(r, et, (n, cin) + tuple(sizes), -2, 2))
    if grouped:
        wshape = (groups, cin // groups, cout // groups) if backprop else (groups, cout // groups, cin // groups)
    else:
        wshape = (cin, cout) if backprop else (cout, cin)
    w = values(r, et, wshape + tuple(k), -1, 1)
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    auto_pad = weighted(draw, [("explicit", 5), ("same_upper", 1), ("same_lower", 1), ("valid", 1)])
    attrs: dict[str, Any] = dict(strides=strides, dilations=dil, auto_pad=auto_pad,
                                 pads_begin=[draw(st.integers(0, 2)) for _ in range(nsp)],
                                 pads_end=[draw(st.integers(0, 2)) for _ in range(nsp)])
    extra: list[np.ndarray] = []
    if backprop:
        attrs["output_padding"] = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dil)] \
            if draw(st.booleans()) else []
        if weighted(draw, [(False, 3), (True, 1)]):  # output_shape (with auto_pad: the reference kernel)
            extra = [np.array([draw(st.integers(1, 12)) for _ in range(nsp)], np.int64)]
    runtime_w = weighted(draw, [(False, 9), (True, 1)])
    residual = not backprop and chance(draw, 3)
    label = f"{t} {et} x{list(x.shape)} w{list(w.shape)} {attrs} out_shape {extra} runtime_w {runtime_w}"

    def build(p: Output, *rest: Output) -> Output:
        wv = rest[0] if runtime_w else w
        y = op(t, p, wv, *extra, **attrs)
        if et != "f32":
            return y
        return _post_ops(draw, y, cout, nsp, rest[-1] if residual else None)[0]
    inputs = [x] + ([w] if runtime_w else [])
    if residual:
        try:
            probe = op(t, constant(np.zeros(x.shape, x.dtype)), constant(w), *[constant(e) for e in extra], **attrs)
        except GraphError:
            reject()  # a geometry the spec refuses
        rshape = probe.shape.to_shape()
        if not size_ok(rshape, 4096):
            residual = False
        else:
            inputs.append(present(draw, values(r, et, rshape, -2, 2)))
    return Case(inputs, build, **tol(et, 1e-4), label=label, extra={"may_reject": True})


# ---------------------------------------------------------------- matrix products, attention
@generates("MatMul")
def matmul(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(("f32",) * 6 + ("f16", "bf16", "i32", "i64", "i8", "u8")))
    r = rng(draw)
    m, kdim, nn = draw(st.integers(0, 4)) if chance(draw, 10) else draw(st.integers(1, 4)), \
        draw(st.integers(1, 6)), draw(st.integers(1, 5))
    (ba, bb), _ = broadcast_shapes(draw, 2, max_rank=3, empty=False)
    ra, rb = draw(st.sampled_from([1, 2, 2, 2])), draw(st.sampled_from([1, 2, 2, 2]))
    a_shape = tuple(ba) + (m, kdim) if ra == 2 else (kdim,)
    b_shape = tuple(bb) + (kdim, nn) if rb == 2 else (kdim,)
    if ra == 1:
        a_shape = (kdim,)
    if rb == 1:
        b_shape = (kdim,)
    ta, tb = draw(st.booleans()), draw(st.booleans())
    lo, hi = (-2, 2) if et in FLOATS else (-5, 5)
    a = values(r, et, a_shape, lo, hi)
    b = values(r, et, b_shape, lo, hi)
    if ta and a.ndim >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    if tb and b.ndim >= 2:
        b = np.ascontiguousarray(np.swapaxes(b, -1, -2))
    form = draw(st.sampled_from(["rr", "rc", "rc", "cr"]))
    linear = form == "rc" and b.ndim == 2 and et == "f32" and a.ndim >= 2
    post = linear and draw(st.booleans())
    residual = post and chance(draw, 2)
    tols = tol(et, 1e-5) if et in FLOATS else {}
    label = f"MatMul {et} a{list(a.shape)} b{list(b.shape)} ta {ta} tb {tb} {form} post {post}"

    def product(p: Output, q: Output) -> Output:
        return op(t, p, q, transpose_a=ta, transpose_b=tb)
    if form == "rr":
        return Case([present(draw, a), present(draw, b)], product, **tols, label=label)
    if form == "cr":
        return Case([present(draw, b)], lambda q: product(constant(a), q), **tols, label=label)
    xa = present(draw, a)
    if not post:
        return Case([xa], lambda p: product(p, constant(b)), **tols, label=label)
    out_shape = op(t, constant(a), constant(b), transpose_a=ta, transpose_b=tb).shape.to_shape()
    extra = [present(draw, values(r, et, out_shape, -2, 2))] if residual else []

    def build(p: Output, *res: Output) -> Output:
        y = product(p, constant(b))
        y, _ = _post_ops_linear(draw, y, out_shape[-1], res[0] if res else None)
        return y
    return Case([xa] + extra, build, **tols, label=label + f" residual {residual}")


def _post_ops_linear(draw: Draw, y: Output, n: int, residual: Output | None) -> tuple[Output, list[str]]:
    r = rng(draw)
    parts = []
    if draw(st.booleans()):
        y = op("Add", y, values(r, "f32", draw(st.sampled_from([(n,), (1, n), ()])), -1, 1))
        parts.append("bias")
    if draw(st.booleans()):
        y, name = activation(draw, y)
        parts.append(name)
    if residual is not None:
        y = op("Add", y, residual)
        parts.append("residual")
        if draw(st.booleans()):
            y, name = activation(draw, y)
            parts.append(name)
    return y, parts


@generates("ScaledDotProductAttention")
def attention(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(("f32",) * 6 + ("f16", "bf16")))
    rank = draw(st.integers(2, 5))
    batch = tuple(draw(st.integers(1, 3)) for _ in range(rank - 2))
    L, S = draw(st.integers(0, 5)) if chance(draw, 12) else draw(st.integers(1, 5)), draw(st.integers(1, 5))
    E, Ev = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    r = rng(draw)
    kb = tuple(1 if chance(draw, 5) else d for d in batch)  # broadcast batch dims: the lowering declines
    q = values(r, et, batch + (L, E), -2, 2)
    k, v = values(r, et, kb + (S, E), -2, 2), values(r, et, kb + (S, Ev), -2, 2)
    causal = chance(draw, 4)
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "float"]))
    scale_kind = draw(st.sampled_from(["none", "none", "scalar", "one", "runtime"]))
    inputs = [present(draw, q), present(draw, k), present(draw, v)]
    mask: np.ndarray | None = None
    mask_runtime = False
    if mask_kind != "none" or scale_kind != "none":
        full = batch + (L, S)
        mrank = draw(st.sampled_from(sorted({0, 1, 2, min(4, rank), rank})))
        mshape = tuple(d if draw(st.booleans()) else 1 for d in full[len(full) - mrank:]) if mrank else ()
        if mask_kind == "bool":
            mask = r.random(mshape) < 0.7
        elif mask_kind == "float":
            mask = values(r, et, mshape, -3, 1)
            if chance(draw, 3):  # masked-out keys: a large negative number or -inf (a row of -inf only: NaN)
                low = draw(st.sampled_from([-30.0, -np.inf]))
                mask = np.where(r.random(mshape) < 0.4, np.float32(low), mask.astype(np.float32)).astype(mask.dtype)
        else:  # a scale needs the mask input: OpenVINO's placeholder is an all-zero additive mask
            mask = np.zeros(mshape, DTYPES[et])
        mask_runtime = mask_kind != "none" and draw(st.booleans())
        if mask_runtime:
            inputs.append(present(draw, mask))
    scale = None
    if scale_kind != "none":
        scale = scalar_const(draw(st.sampled_from([0.3, 1.0, 0.125])), et, 0 if scale_kind == "scalar" else 1)
        if scale_kind == "runtime":
            inputs.append(scale)
    label = (f"SDPA {et} q{list(q.shape)} k{list(k.shape)} v{list(v.shape)} causal {causal} mask {mask_kind}"
             f"{list(mask.shape) if mask is not None else ''} runtime {mask_runtime} scale {scale_kind}")

    def build(*ps: Output) -> Output:
        args: list[Any] = list(ps[:3])
        rest = list(ps[3:])
        if mask is not None:
            args.append(rest.pop(0) if mask_runtime else mask)
        if scale is not None:
            args.append(rest.pop(0) if scale_kind == "runtime" else scale)
        return op(t, *args, causal=causal)
    return Case(inputs, build, **tol(et, 1e-5), label=label)


# ---------------------------------------------------------------- quantization
@generates("FakeQuantize")
def fake_quantize(draw: Draw, t: str) -> Case:
    et = draw(st.sampled_from(("f32",) * 4 + ("f16", "bf16")))
    shp = shape(draw, 0, 5)
    r = rng(draw)
    x = present(draw, values(r, et, shp, -3, 3))
    levels = draw(st.sampled_from([256, 256, 255, 16, 2]))
    kind = draw(st.sampled_from(["tensor", "tensor", "channel", "broadcast"] if len(shp) >= 2 else ["tensor"]))
    if kind == "tensor":
        rshape: tuple[int, ...] = (1,) * draw(st.integers(0, len(shp)))
    elif kind == "channel":
        rshape = (1, shp[1]) + (1,) * (len(shp) - 2)
    else:
        rshape = tuple(d if draw(st.booleans()) else 1 for d in shp)
    lo = -values(r, "f32", rshape, 0.5, 2.5)
    if chance(draw, 3):
        lo = np.zeros(rshape, np.float32)  # unsigned
    hi = lo + values(r, "f32", rshape, 1, 4)
    same = draw(st.booleans())
    olo, ohi = (lo, hi) if same else (lo * 2, hi * 0.5)
    consts = [c.astype(DTYPES[et]) for c in (lo, hi, olo, ohi)]
    width = np.abs(consts[3].astype(np.float64) - consts[2].astype(np.float64))
    step = float(np.max(width, initial=0.0)) / (levels - 1)
    return Case([x], lambda p: op(t, source(draw, p, x, et), *consts, levels=levels), **tol(et, 1e-6),
                label=f"FakeQuantize {et}{list(shp)} levels {levels} {kind}{list(rshape)} same {same}",
                allowed_off=max(1, x.size // 100), loose=step * 1.001)


# ---------------------------------------------------------------- recurrent sequences
_GATES = {"LSTMSequence": 4, "GRUSequence": 3, "RNNSequence": 1}


def _recurrent_form(draw: Draw, family: str, attrs: dict[str, Any]) -> bool:
    """Draws into `attrs` the form of a recurrent op of `family` (LSTM, GRU, RNN): GRU's linear_before_reset
    (returned), clipping and non-default activations now and then (the lowerings decline both; RNN's relu runs
    on torch's relu kernels)."""
    lbr = family == "GRU" and weighted(draw, [(True, 4), (False, 1)])
    if family == "GRU":
        attrs["linear_before_reset"] = lbr
    if weighted(draw, [(False, 8), (True, 1)]):
        attrs["clip"] = 0.5
    if weighted(draw, [(False, 6), (True, 1)]):
        attrs["activations"] = {"LSTM": ["tanh", "sigmoid", "relu"], "GRU": ["tanh", "sigmoid"],
                                "RNN": [draw(st.sampled_from(["relu", "sigmoid"]))]}[family]
    return lbr


@generates("LSTMSequence", "GRUSequence", "RNNSequence")
def sequence(draw: Draw, t: str) -> Case:
    """X [batch, seq, input], H0 (and C0) [batch, dirs, hidden], lengths [batch], W/R/B per direction."""
    batch, seq, inp, hidden = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
                               draw(st.integers(1, 4)))
    direction = draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    dirs = 2 if direction == "bidirectional" else 1
    gates = _GATES[t] * hidden
    r = rng(draw)
    et = weighted(draw, [("f32", 8), ("f16", 1)])
    attrs: dict[str, Any] = dict(direction=direction, hidden_size=hidden)
    lbr = _recurrent_form(draw, t[:-8], attrs)
    x = present(draw, values(r, et, (batch, seq, inp), -2, 2))
    h0 = values(r, et, (batch, dirs, hidden), -1, 1)
    c0 = values(r, et, (batch, dirs, hidden), -1, 1)
    w = values(r, et, (dirs, gates, inp), -0.8, 0.8)
    rr = values(r, et, (dirs, gates, hidden), -0.8, 0.8)
    b = values(r, et, (dirs, gates + (hidden if lbr else 0)), -0.5, 0.5)
    lens_kind = weighted(draw, [("full", 4), ("short", 1), ("runtime", 2)])
    lens = np.full((batch,), seq, np.int32 if chance(draw, 2) else np.int64)
    if lens_kind != "full" and seq > 1:
        lens = r.integers(1, seq, (batch,), endpoint=True).astype(lens.dtype)
        if lens_kind == "runtime" and chance(draw, 2):
            lens[:] = seq  # runtime lengths, all full: the fused kernel on this call
    states_runtime = draw(st.booleans())
    lstm = t == "LSTMSequence"
    inputs = [x] + ([h0] + ([c0] if lstm else []) if states_runtime else []) + \
        ([lens] if lens_kind == "runtime" else [])
    label = f"{t} {et} x{list(x.shape)} h{hidden} {attrs} lens {lens_kind} {lens.tolist()} states_rt {states_runtime}"

    def build(p: Output, *rest: Output) -> list[Output]:
        it = iter(rest)
        hs: Any = next(it) if states_runtime else h0
        cs: Any = (next(it) if states_runtime else c0) if lstm else None
        ls: Any = next(it) if lens_kind == "runtime" else lens
        args = [p, hs] + ([cs] if lstm else []) + [ls, w, rr, b]
        return list(node(t, *args, **attrs).outputs)
    return Case(inputs, build, **tol(et, 1e-5), label=label)


# ---------------------------------------------------------------- recurrent cells
_CELL_GATES = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}


@generates("LSTMCell", "GRUCell", "RNNCell")
def recurrent_cell(draw: Draw, t: str) -> Case:
    """X [batch, input], H (and C) [batch, hidden], W/R/B in OpenVINO's gate order; LSTMCell-1 now and then."""
    batch, inp, hidden = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    gates = _CELL_GATES[t] * hidden
    r = rng(draw)
    et = weighted(draw, [("f32", 8), ("f16", 1)])
    attrs: dict[str, Any] = dict(hidden_size=hidden)
    lbr = _recurrent_form(draw, t[:-4], attrs)
    version = "opset1" if t == "LSTMCell" and chance(draw, 3) else None  # LSTMCell-1 with its defaults
    x = present(draw, values(r, et, (batch, inp), -2, 2))
    h = values(r, et, (batch, hidden), -1, 1)
    c = values(r, et, (batch, hidden), -1, 1)
    w = values(r, et, (gates, inp), -0.8, 0.8)
    rr = values(r, et, (gates, hidden), -0.8, 0.8)
    b = values(r, et, (gates + (hidden if lbr else 0),), -0.5, 0.5)
    states_runtime = draw(st.booleans())
    lstm = t == "LSTMCell"
    inputs = [x] + ([h] + ([c] if lstm else []) if states_runtime else [])
    label = f"{t} {version or ''} {et} x{list(x.shape)} h{hidden} {attrs} states_rt {states_runtime}"

    def build(p: Output, *rest: Output) -> list[Output]:
        it = iter(rest)
        hs: Any = next(it) if states_runtime else h
        cs: Any = (next(it) if states_runtime else c) if lstm else None
        args = [p, hs] + ([cs] if lstm else []) + [w, rr, b]
        return list(node(t, *args, version=version, **attrs).outputs)
    return Case(inputs, build, **tol(et, 1e-5), label=label)


# ---------------------------------------------------------------- control flow
def _body(inputs: Sequence[tuple[str, Sequence[int]]], build: Callable[..., Sequence[Output]]) -> Any:
    """A body Model over Parameters of (element type, shape) whose Results are `build(*parameter outputs)`."""
    from irforge.ir.graph import Model, parameter, result

    params = [parameter(Type(et), list(shp), f"p{i}") for i, (et, shp) in enumerate(inputs)]
    return Model([result(o) for o in build(*[q.output(0) for q in params])], params)


@generates("If")
def if_op(draw: Draw, t: str) -> Case:
    """cond ? relu(x) * w + k : x - w (same shape), or a branch that squeezes a unit axis (the exporters' rank-changing
    If); the condition a runtime input or a constant (then the plan inlines the branch); `w` an outer constant the
    body receives as an input (bound at plan time), `x` a runtime value."""
    from irforge.ir.ops.control_flow import InputDesc, OutputDesc

    r = rng(draw)
    shp = shape(draw, 1, 4, empty=False)
    squeeze = draw(st.booleans()) and shp[0] == 1
    x = present(draw, values(r, "f32", shp))
    w = values(r, "f32", shp)
    k = np.float32(r.uniform(-2, 2))
    cond_runtime = draw(st.booleans())
    cond = np.array(draw(st.booleans()))
    then_b = _body([("f32", shp), ("f32", shp)], lambda a, b: [op("Add", op("Multiply", op("Relu", a), b), k)])
    if squeeze:
        else_b = _body([("f32", shp)], lambda a: [op("Squeeze", a, ints(0))])
    else:
        else_b = _body([("f32", shp), ("f32", shp)], lambda a, b: [op("Subtract", a, b)])
    label = f"If x{list(shp)} cond {bool(cond)} runtime {cond_runtime} squeeze-else {squeeze}"

    def build(*ps: Output) -> list[Output]:
        c = ps[0] if cond_runtime else constant(cond)
        xs = ps[-1]
        n = node("If", c, xs, w, then_inputs=(InputDesc(1, 0), InputDesc(2, 1)),
                 else_inputs=(InputDesc(1, 0),) + (() if squeeze else (InputDesc(2, 1),)),
                 then_outputs=(OutputDesc(0, 0),), else_outputs=(OutputDesc(0, 0),))
        n.bodies = [then_b, else_b]
        n.infer()
        return [n.output(0)]
    inputs = ([cond] if cond_runtime else []) + [x]
    return Case(inputs, build, **tol("f32"), label=label, extra={"may_reject": squeeze and bool(cond)})


@generates("Loop", "TensorIterator")
def iterating(draw: Draw, t: str) -> Case:
    """v <- v * a + x_i (x sliced along axis 1, forwards or backwards) with `a` an outer constant; outputs: the last
    v and every v concatenated. Loop: trip count and initial condition runtime or constant (0 and false included),
    the body's condition `sum(v) < limit` or always true. A known count of 1-16 iterations is unrolled at plan time,
    which the comparison covers too."""
    from irforge.ir.ops.control_flow import InputDesc, OutputDesc, Slicing

    r = rng(draw)
    # up to 16 known iterations are unrolled into the plan (UnrollSmallLoops); more run the op's lowering
    n, steps = draw(st.integers(1, 3)), weighted(draw, [(draw(st.integers(1, 4)), 1), (draw(st.integers(17, 20)), 1)])
    x = values(r, "f32", (n, steps, 2), -1, 1)
    v0 = values(r, "f32", (n, 1, 2), -1, 1)
    a = values(r, "f32", (n, 1, 2), 0.5, 1.0)
    stride = draw(st.sampled_from([1, -1]))
    start, end = (0, -1) if stride > 0 else (-1, 0)
    cut = Slicing(1, start, stride, 1, end)
    loop = t == "Loop"
    trips = np.array(draw(st.integers(0, steps + 1)), np.int64)
    go = np.array(draw(st.sampled_from([True, True, False])))
    while_cond = loop and draw(st.booleans())
    runtime_trips = loop and draw(st.booleans())
    limit = np.float32(r.uniform(-1, 3))

    def body_ops(xi: Output, v: Output, av: Output, *rest: Output) -> list[Output]:
        nv = op("Add", op("Multiply", v, av), xi)
        outs = [nv, op("Multiply", nv, np.float32(2))]
        if loop:
            keep = op("Less", op("ReduceSum", nv, ints(0, 1, 2), keep_dims=False), limit) if while_cond \
                else constant(np.array(True))
            outs.append(keep)
        return outs
    body = _body([("f32", (n, 1, 2)), ("f32", (n, 1, 2)), ("f32", (n, 1, 2))], body_ops)
    label = f"{t} x{list(x.shape)} stride {stride} trips {int(trips)} rt {runtime_trips} go {bool(go)} " \
            f"while {while_cond}"

    def build(px: Output, pv: Output, *rest: Output) -> list[Output]:
        descs = (InputDesc(2 if loop else 0, 0, cut), InputDesc(3 if loop else 1, 1, back_edge=0),
                 InputDesc(4 if loop else 2, 2))
        outs = (OutputDesc(0, 0), OutputDesc(1, 1, cut))
        if loop:
            tc = rest[0] if runtime_trips else trips
            nd = node("Loop", tc, go, px, pv, a, input_descriptions=descs, output_descriptions=outs,
                      special_body_ports=(-1, 2))
        else:
            nd = node("TensorIterator", px, pv, a, input_descriptions=descs, output_descriptions=outs)
        nd.bodies = [body]
        nd.infer()
        return [nd.output(0), nd.output(1)]
    inputs = [x, v0] + ([trips] if runtime_trips else [])
    return Case(inputs, build, **tol("f32"), label=label)


# ---------------------------------------------------------------- inputs reaching the op as views
def through_view(draw: Draw, case: Case) -> Case:
    """Now and then, one runtime input of `case` reaches the graph through a view the device makes: a Transpose
    of a Parameter holding the transposed data, or a step-2 Slice of a Parameter twice as long whose other
    elements are poison (NaN, the type's maximum, True). The values are the case's own, so REF's results do not
    change; the op reads strided memory."""
    eligible = [i for i, x in enumerate(case.inputs) if x.ndim >= 1 and x.size > 0]
    if not eligible or not chance(draw, 4):
        return case
    i = draw(st.sampled_from(eligible))
    x = case.inputs[i]
    kind = draw(st.sampled_from(["transpose", "slice"] if x.ndim >= 2 else ["slice"]))
    if kind == "transpose":
        perm = list(draw(st.permutations(range(x.ndim))))
        fed = np.ascontiguousarray(np.transpose(x, perm))
        inverse = np.argsort(perm).astype(np.int64)

        def wrap(p: Output) -> Output:
            return op("Transpose", p, inverse)
        how = f"Transpose{perm}"
    else:
        axis = draw(st.integers(0, x.ndim - 1))
        big = list(x.shape)
        big[axis] *= 2
        if x.dtype.kind in "fV":
            poison: Any = np.nan
        elif x.dtype == np.bool_:
            poison = True
        else:
            poison = np.iinfo(x.dtype).max
        fed = np.full(big, poison, x.dtype)
        index: list[Any] = [slice(None)] * x.ndim
        index[axis] = slice(0, None, 2)
        fed[tuple(index)] = x

        def wrap(p: Output) -> Output:
            return op("Slice", p, ints(0), ints(big[axis]), ints(2), ints(axis))
        how = f"Slice axis {axis} step 2"
    inputs = list(case.inputs)
    inputs[i] = fed
    inner = case.build

    def build(*ps: Output) -> Output | Sequence[Output]:
        args = list(ps)
        args[i] = wrap(args[i])
        return inner(*args)
    return Case(inputs, build, case.rtol, case.atol, f"{case.label} (input {i} through {how})", case.allowed_off,
                case.loose, case.extra)


# ---------------------------------------------------------------- INT8 patterns (lowerings/quantized.py)
INT8_ENV = {"IRFORGE_CPU_INT8": "exact", "IRFORGE_CPU_INT8_MIN_MACS": "0"}  # set by the test: every layer INT8


def _fq(x: Output, lo: float, hi: float) -> Output:
    a, b = np.array(lo, np.float32), np.array(hi, np.float32)
    return op("FakeQuantize", x, a, b, a, b, levels=256)


def _grid_range(draw: Draw, unsigned: bool, s: float) -> tuple[float, float]:
    """A 256-level range with zero on a level: [0, s] or the signed [-s * 128 / 127, s] (irforge's and NNCF's)."""
    return (0.0, s) if unsigned else (-s * 128.0 / 127.0, s)


def _i8_weights(r: np.random.Generator, shape: tuple[int, ...], scale_shape: tuple[int, ...], qmax: int) -> Output:
    """i8 Const -> Convert(f32) -> Multiply(per-output-channel scale): the INT8 IR's weight form."""
    q = r.integers(-qmax, qmax, shape, endpoint=True).astype(np.int8)
    conv = make("Convert", [constant(q)], destination_type=Type.f32).output(0)
    return op("Multiply", conv, r.uniform(0.005, 0.02, scale_shape).astype(np.float32))


def int8_pattern(draw: Draw, t: str) -> Case:
    """FakeQuantize -> [MaxPool | data movement | Add/Multiply of two such values, Relu, FakeQuantize] -> a
    Convolution / GroupConvolution / MatMul with i8 weights -> [bias] [activation] [FakeQuantize]: the chains the
    INT8 lowerings (QuantizedConvolution, QuantizedMatMul, QuantizedBinary, QuantizedMaxPool, QuantizedMove,
    FakeQuantize to codes) take. Results within one step of the last FakeQuantize (a float output: within float
    rounding), except elements where REF's value lies within f32 rounding of a tie (rare: a few allowed)."""
    r = rng(draw)
    layer = draw(st.sampled_from(["Convolution", "GroupConvolution", "MatMul"]))
    middle = draw(st.sampled_from(["none", "MaxPool", "move", "binary"]))
    unsigned = draw(st.booleans())
    lo, hi = _grid_range(draw, unsigned, draw(st.sampled_from([1.0, 2.5, 4.0])))
    qmax = draw(st.sampled_from([127, 63]))
    if layer == "MatMul":
        k, n = draw(st.sampled_from([8, 16])), draw(st.integers(1, 6))
        x = values(r, "f32", shape(draw, 1, 3, max_side=3, empty=False) + (k,), -3, 3, ties=False)
    else:
        c = draw(st.sampled_from([4, 8]))
        x = values(r, "f32", (draw(st.integers(1, 2)), c, draw(st.integers(2, 6)), draw(st.integers(2, 6))), -3, 3,
                   ties=False)  # (a value exactly between two levels may round either way: REF rounds in f64)
    x = present(draw, x)
    second = values(r, "f32", x.shape, -3, 3, ties=False) if middle == "binary" else None
    bias, act, fq_out = draw(st.booleans()), draw(st.sampled_from(["none", "Relu", "Clamp", "HSwish", "Swish"] +
                                                                  (["Gelu", "Tanh"] if layer == "MatMul" else []))), \
        draw(st.booleans())
    move = draw(st.sampled_from(["Transpose", "Slice", "Concat", "Reshape"]))
    group = layer == "GroupConvolution"
    label = f"INT8 {middle}{'/' + move if middle == 'move' else ''} -> {layer} bias {bias} act {act} " \
            f"fq_out {fq_out} x{list(x.shape)} range [{lo:.3g}, {hi:.3g}] qmax {qmax}"

    def build(p: Output, *rest: Output) -> Output:
        y = _fq(p, lo, hi)
        if middle == "MaxPool" and layer != "MatMul":
            y = op("MaxPool", y, kernel=[2, 2], strides=[1, 1], pads_begin=[0, 0], pads_end=[0, 0],
                   rounding_type="floor", auto_pad="explicit")
        elif middle == "move":
            rank = len(x.shape)
            if move == "Transpose":  # swap two leading axes, keeping the layer's input axes
                perm = list(range(rank))
                if layer == "MatMul" and rank >= 3:
                    perm[0], perm[1] = 1, 0
                y = op("Transpose", y, np.array(perm, np.int64))
            elif move == "Slice":
                y = op("Slice", y, ints(0), ints(x.shape[-1]), ints(1 if layer == "MatMul" else 2), ints(-1))
            elif move == "Concat":
                y = op("Concat", y, y, axis=0)
            else:
                y = op("Reshape", y, np.array(x.shape, np.int64), special_zero=False)
        elif middle == "binary":
            other = _fq(rest[0], lo, hi)
            y = op(draw(st.sampled_from(["Add", "Multiply"])), y, other)
            if draw(st.booleans()):
                y = op("Relu", y)
            y = _fq(y, *_grid_range(draw, False, max(2 * hi, hi * hi, lo * lo) + 0.5))
        cin = int(y.shape.to_shape()[1]) if layer != "MatMul" else 0
        if layer == "MatMul":
            kk = int(y.shape.to_shape()[-1])
            tb = draw(st.booleans())
            w = _i8_weights(r, (n, kk) if tb else (kk, n), (n, 1) if tb else (1, n), qmax)
            y = op("MatMul", y, w, transpose_a=False, transpose_b=tb)
            chan: tuple[int, ...] = (n,)
        elif group:
            g = 2
            w = _i8_weights(r, (g, 2, cin // g, 3, 3), (g, 2, 1, 1, 1), qmax)
            y = op("GroupConvolution", y, w, strides=[1, 1], pads_begin=[1, 1], pads_end=[1, 1], dilations=[1, 1],
                   auto_pad="explicit")
            chan = (1, 2 * g, 1, 1)
        else:
            o = draw(st.integers(1, 6))
            w = _i8_weights(r, (o, cin, 3, 3), (o, 1, 1, 1), qmax)
            y = op("Convolution", y, w, strides=[1, 1], pads_begin=[1, 1], pads_end=[1, 1], dilations=[1, 1],
                   auto_pad="explicit")
            chan = (1, o, 1, 1)
        if bias:
            y = op("Add", y, values(r, "f32", chan, -0.2, 0.2))
        if act == "Clamp":
            y = op("Clamp", y, min=0.0, max=1.5)
        elif act == "Gelu":
            y = op("Gelu", y, approximation_mode="ERF")
        elif act != "none":
            y = op(act, y)
        if fq_out:
            y = _fq(y, *out_range)
            if then_layer:  # the FakeQuantize carried into a second INT8 layer: the first requantizes to its grid
                n2 = int(y.shape.to_shape()[-1 if layer == "MatMul" else 1])
                if layer == "MatMul":
                    y = op("MatMul", y, _i8_weights(r, (n2, 3), (1, 3), qmax), transpose_a=False, transpose_b=False)
                else:
                    y = op("Convolution", y, _i8_weights(r, (3, n2, 1, 1), (3, 1, 1, 1), qmax), strides=[1, 1],
                           pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1], auto_pad="explicit")
        return y
    out_range = _grid_range(draw, act in ("Relu", "Clamp"), 1.0)
    then_layer = fq_out and draw(st.booleans())
    out_step = (out_range[1] - out_range[0]) / 255
    inputs = [x] + ([present(draw, second)] if second is not None else [])
    return Case(inputs, build, rtol=1e-5, atol=1e-5, label=label, allowed_off=max(1, x.size // 100),
                loose=out_step * 1.001 if fq_out and not then_layer else 0.02)
