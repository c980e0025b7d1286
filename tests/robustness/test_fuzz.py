"""Robustness fuzzer, part of the normal suite: mutated ONNX models, IR files, `.npy` inputs and option texts (fixed
seeds; seeded mutators in fuzz_mutators.py, hypothesis with derandomize=True for the options) fed to `irforge
convert`, `inspect` and `infer` in-process. Every run must succeed (exit 0) or fail with exactly one
`irforge <command>: error: ...` line and no traceback; a failed run must leave nothing in its output folder; an IR
that `convert` wrote must read back. About 2,400 mutations and 5,000 command runs, 30-40 s on two cores.

A failure names the seed model, the mutation index and what was mutated; rerun one case with
`pytest tests/robustness/test_fuzz.py -k NAME`. Crashes it found, now fixed and kept fixed by these seeds (and by
tests beside it): a `.npy` header numpy's parser rejects with SyntaxError/TokenError (`infer`), an IR Result that no
edge feeds (IndexError in `inspect`), an If whose branch attribute is not a graph (AttributeError), an ONNX graph
without outputs (written as an IR without a Result that no reader takes)."""
from __future__ import annotations

import contextlib
import random
import resource
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from irforge.mo.convert import convert
from irforge.ir.xml_io import model_to_xml
from tests.robustness.fuzz_mutators import mutate_bytes, mutate_ir, mutate_npy, mutate_onnx
from tests.robustness.helpers import EXAMPLE, check_outcome, files_under, run_cli

SEED = 20260907
MEMORY_HEADROOM = 6 << 30  # allocations past this much more address space fail at once (MemoryError)


@dataclass
class Seed:
    """A model to mutate, the inputs `infer` gets for it, and whether `infer` runs on its mutations."""

    model: onnx.ModelProto
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    infer: bool = True


def _init(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def _conv_net() -> Seed:
    rng = np.random.default_rng(0)
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1], group=1),
             h.make_node("Relu", ["c"], ["r"], name="relu"),
             h.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
             h.make_node("Gemm", ["f", "w2", "b2"], ["g"], name="fc", transB=1, alpha=1.0),
             h.make_node("Softmax", ["g"], ["y"], name="softmax", axis=1)]
    inits = [_init("w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32)), _init("b", np.ones(4, np.float32)),
             _init("w2", rng.standard_normal((3, 16)).astype(np.float32)), _init("b2", np.zeros(3, np.float32))]
    g = h.make_graph(nodes, "conv_net", [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 5, 5])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 3])], inits)
    return Seed(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]),
                {"x": rng.standard_normal((1, 2, 5, 5)).astype(np.float32)})


def _shape_net() -> Seed:
    i64 = lambda v: np.array(v, np.int64)  # noqa: E731
    nodes = [h.make_node("Shape", ["x"], ["s"], name="shape"),
             h.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
             h.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq"),
             h.make_node("Concat", ["n1", "rest"], ["target"], name="concat", axis=0),
             h.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
             h.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 1]),
             h.make_node("ReduceMean", ["t"], ["m"], name="mean", axes=[2], keepdims=0),
             h.make_node("Slice", ["m", "starts", "ends", "axes1"], ["y"], name="slice")]
    inits = [_init("zero", i64(0)), _init("axes0", i64([0])), _init("rest", i64([8, 3])),
             _init("starts", i64([1])), _init("ends", i64([3])), _init("axes1", i64([1]))]
    g = h.make_graph(nodes, "shape_net", [h.make_tensor_value_info("x", T.FLOAT, ["n", 4, 6])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    return Seed(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]),
                {"x": np.arange(2 * 24, dtype=np.float32).reshape(2, 4, 6)})


def _misc_net() -> Seed:
    nodes = [h.make_node("Add", ["a", "b"], ["s"], name="add"),
             h.make_node("Mul", ["s", "k"], ["m"], name="mul"),
             h.make_node("Split", ["m", "split"], ["p0", "p1"], name="split", axis=1),
             h.make_node("Concat", ["p1", "p0"], ["c"], name="concat", axis=1),
             h.make_node("Pad", ["c", "pads"], ["pd"], name="pad", mode="constant"),
             h.make_node("Greater", ["pd", "zero"], ["gt"], name="greater"),
             h.make_node("Where", ["gt", "pd", "zero"], ["w"], name="where"),
             h.make_node("Cast", ["w"], ["a/b"], name="cast", to=T.FLOAT),
             h.make_node("Neg", ["a"], ["a:b"], name="neg")]
    inits = [_init("k", np.full((1, 3), 2, np.float32)), _init("split", np.array([1, 2], np.int64)),
             _init("pads", np.array([0, 1, 0, 1], np.int64)), _init("zero", np.zeros(1, np.float32))]
    g = h.make_graph(nodes, "misc_net", [h.make_tensor_value_info(n, T.FLOAT, [2, 3]) for n in "ab"],
                     [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("a/b", "a:b")], inits)
    rng = np.random.default_rng(1)
    return Seed(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]),
                {n: rng.standard_normal((2, 3)).astype(np.float32) for n in "ab"})


def _size_net() -> Seed:
    """The ops whose output size is a value (ConstantOfShape, Expand, Tile, Range), at harmless sizes."""
    nodes = [h.make_node("ConstantOfShape", ["shape"], ["c"], name="cos", value=h.make_tensor("v", T.FLOAT, [1], [1])),
             h.make_node("Expand", ["x", "shape"], ["e"], name="expand"),
             h.make_node("Tile", ["e", "reps"], ["t"], name="tile"),
             h.make_node("Range", ["start", "limit", "delta"], ["r"], name="range"),
             h.make_node("Add", ["t", "c"], ["s"], name="add"),
             h.make_node("ReduceSum", ["s"], ["y0"], name="sum", keepdims=0),
             h.make_node("Add", ["y0", "r"], ["y"], name="add2")]
    inits = [_init("shape", np.array([2, 3], np.int64)), _init("reps", np.array([1, 1], np.int64)),
             _init("start", np.array(0, np.float32)), _init("limit", np.array(3, np.float32)),
             _init("delta", np.array(1, np.float32))]
    g = h.make_graph(nodes, "size_net", [h.make_tensor_value_info("x", T.FLOAT, [1, 3])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    return Seed(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), {"x": np.ones((1, 3), np.float32)})


def _if_net() -> Seed:
    then = h.make_graph([h.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [],
                        [h.make_tensor_value_info("t", T.FLOAT, [2])])
    other = h.make_graph([h.make_node("Neg", ["x"], ["e"], name="else_neg")], "else", [],
                         [h.make_tensor_value_info("e", T.FLOAT, [2])])
    g = h.make_graph([h.make_node("If", ["cond"], ["y"], name="if", then_branch=then, else_branch=other)], "if_net",
                     [h.make_tensor_value_info("cond", T.BOOL, []), h.make_tensor_value_info("x", T.FLOAT, [2])],
                     [h.make_tensor_value_info("y", T.FLOAT, [2])])
    return Seed(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]),
                {"cond": np.array(True), "x": np.array([-1, 2], np.float32)})


SEEDS = {"conv_net": _conv_net, "shape_net": _shape_net, "misc_net": _misc_net, "size_net": _size_net,
         "if_net": _if_net}
ONNX_RUNS = {"conv_net": 200, "shape_net": 200, "misc_net": 200, "size_net": 160, "if_net": 120}
IR_RUNS = {"conv_net": 260, "shape_net": 220, "misc_net": 220, "size_net": 160, "if_net": 160}
MOBILENET_RUNS = 50
NPY_RUNS = 120


@contextlib.contextmanager
def memory_ceiling(headroom: int = MEMORY_HEADROOM) -> Iterator[None]:
    """Cap this process's address space at its current size plus `headroom` while fuzzing, so a mutation that
    asks for gigabytes fails at once (MemoryError, which `irforge` reports in one line) instead of filling the
    shared machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = size + headroom if hard == resource.RLIM_INFINITY else min(hard, size + headroom)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Fuzzer:
    """Runs commands on mutated files under `root` and checks each outcome."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.runs = 0
        self.outcomes: dict[str, list[int]] = {}  # command -> [successes, failures]

    def check(self, index: int, what: str, command: str, *argv: str, out_dir: Path | None = None,
              must_succeed: bool = False) -> int:
        self.runs += 1
        code, _, err = run_cli(command, *argv)
        self.outcomes.setdefault(command, [0, 0])[code != 0] += 1
        context = f"{self.name} #{index} [{what}]: irforge {command} {' '.join(argv)}"
        try:
            check_outcome(code, err, command)
            if must_succeed:
                assert code == 0, err
            if code != 0 and out_dir is not None:
                assert files_under(out_dir) == [], f"a failed run left {files_under(out_dir)}"
        except AssertionError as e:
            raise AssertionError(f"{context}\n{e}") from None
        return code

    def write_inputs(self, inputs: dict[str, np.ndarray]) -> list[str]:
        args = []
        for name, value in inputs.items():
            path = self.root / f"in_{name}.npy"
            np.save(path, value)
            args += ["--input", f"{name}={path}"]
        return args


@pytest.mark.parametrize("name", list(SEEDS))
def test_fuzz_onnx(tmp_path: Path, name: str) -> None:
    """Structured (3 in 4) and byte-level (1 in 4) mutations of a small ONNX model: convert, read back, infer."""
    seed = SEEDS[name]()
    rng = random.Random(f"{SEED}-onnx-{name}")
    fuzz = Fuzzer(tmp_path, name)
    input_args = fuzz.write_inputs(seed.inputs)
    original = seed.model.SerializeToString()
    with memory_ceiling():
        for i in range(ONNX_RUNS[name]):
            if rng.random() < 0.25:
                data, what = mutate_bytes(rng, original)
            else:
                mutated, what = mutate_onnx(rng, seed.model)
                data = mutated.SerializeToString()
            path = tmp_path / f"{name}.onnx"
            path.write_bytes(data)
            out = tmp_path / f"out{i}"
            if fuzz.check(i, what, "convert", str(path), "-o", str(out), out_dir=out) == 0:
                fuzz.check(i, what, "inspect", str(out / f"{name}.xml"), must_succeed=True)
            if seed.infer:
                res = tmp_path / f"res{i}"
                fuzz.check(i, what, "infer", str(path), *input_args, "-d", "REF", "-o", str(res), out_dir=res)
                shutil.rmtree(res, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
    assert fuzz.outcomes["convert"][0] >= ONNX_RUNS[name] // 10, "the mutations hardly ever convert"


def test_fuzz_onnx_mobilenet(tmp_path: Path) -> None:
    """Structured mutations of the bundled MobileNet (convert and read back only: it is 224x224)."""
    model = onnx.load(str(EXAMPLE))
    rng = random.Random(f"{SEED}-mobilenet")
    fuzz = Fuzzer(tmp_path, "mobilenet")
    with memory_ceiling():
        for i in range(MOBILENET_RUNS):
            mutated, what = mutate_onnx(rng, model)
            path = tmp_path / "mobilenet.onnx"
            path.write_bytes(mutated.SerializeToString())
            out = tmp_path / f"out{i}"
            if fuzz.check(i, what, "convert", str(path), "-o", str(out), out_dir=out) == 0:
                fuzz.check(i, what, "inspect", str(out / "mobilenet.xml"), must_succeed=True)
            shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("name", list(SEEDS))
def test_fuzz_ir(tmp_path: Path, name: str) -> None:
    """Mutated IR (xml attributes, ports, edges, dims, element types; truncated or garbled .bin): inspect and
    infer."""
    seed = SEEDS[name]()
    xml, blob = model_to_xml(convert(seed.model)[0])
    rng = random.Random(f"{SEED}-ir-{name}")
    fuzz = Fuzzer(tmp_path, f"{name} IR")
    input_args = fuzz.write_inputs(seed.inputs)
    with memory_ceiling():
        for i in range(IR_RUNS[name]):
            new_xml, new_blob, what = mutate_ir(rng, xml, blob)
            path = tmp_path / "m.xml"
            path.write_bytes(new_xml)
            path.with_suffix(".bin").write_bytes(new_blob)
            fuzz.check(i, what, "inspect", str(path))
            res = tmp_path / f"res{i}"
            fuzz.check(i, what, "infer", str(path), *input_args, "-d", "REF", "-o", str(res), out_dir=res)
            shutil.rmtree(res, ignore_errors=True)


def test_fuzz_npy_inputs(tmp_path: Path) -> None:
    """Mutated `.npy` inputs (header shape/dtype/version edits, byte mutations) to infer."""
    seed = _conv_net()
    xml, blob = model_to_xml(convert(seed.model)[0])
    (tmp_path / "m.xml").write_bytes(xml)
    (tmp_path / "m.bin").write_bytes(blob)
    path = tmp_path / "x.npy"
    np.save(path, seed.inputs["x"][0, 0, :1, :4].reshape(1, 4))  # a (1, 4) header the mutator edits
    small = path.read_bytes()
    np.save(path, seed.inputs["x"])
    good = path.read_bytes()
    rng = random.Random(f"{SEED}-npy")
    fuzz = Fuzzer(tmp_path, "npy")
    with memory_ceiling():
        for i in range(NPY_RUNS):
            data, what = mutate_npy(rng, small if rng.random() < 0.5 else good)
            path.write_bytes(data)
            res = tmp_path / f"res{i}"
            fuzz.check(i, what, "infer", str(tmp_path / "m.xml"), "--input", f"x={path}", "-d", "REF", "-o", str(res),
                       out_dir=res)
            shutil.rmtree(res, ignore_errors=True)


_OPTION_ALPHABET = "[](){},.:?-+>=x nchwNCHW0123456789eE_/\\\x1b\u202e"
_TEXT_OPTIONS = ["--input-shape", "--input", "--output", "--mean-values", "--scale-values", "--scale", "--layout",
                 "--source-layout", "--target-layout", "-b", "-n", "--report", "--disable-pass"]


@settings(derandomize=True, max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(options=st.lists(st.tuples(st.sampled_from(_TEXT_OPTIONS), st.text(_OPTION_ALPHABET, max_size=24)),
                        min_size=1, max_size=3))
def test_fuzz_convert_options(tmp_path: Path, options: list[tuple[str, str]]) -> None:
    """Random option texts (hypothesis, derandomized) on a small model: success or one line, nothing left. Runs
    in tmp_path, and --report values are kept inside it (no separators), so nothing lands elsewhere."""
    path = tmp_path / "m.onnx"
    if not path.exists():
        path.write_bytes(_shape_net().model.SerializeToString())
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(tmp_path / "rep", ignore_errors=True)
    argv = ["convert", str(path), "-o", str(out)]
    for flag, value in options:
        if flag == "--report":
            value = str(tmp_path / "rep" / (value.replace("/", "_").replace("\\", "_") or "_"))
        argv += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
    with contextlib.chdir(tmp_path):
        code, _, err = run_cli(*argv)
    check_outcome(code, err, "convert")
    if code:
        assert files_under(out) == [] and files_under(tmp_path / "rep") == [], argv
