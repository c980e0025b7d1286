"""Large inline ONNX tensors are mapped from the model file, not copied out of a parsed protobuf
(irforge/frontends/onnx/wire.py): the rewritten message is valid ONNX whose tensors equal the file's, the converted
Constants view the mapped file, and files the scanner does not understand are left to protobuf's own errors."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import irforge
from irforge.errors import ModelReadError
from irforge.frontends.onnx.converter import load_onnx
from irforge.frontends.onnx.external_data import ExternalData, uses_external_data
from irforge.frontends.onnx.wire import MIN_BYTES, rewrite
from irforge.ir.mapped import mapping_of

RNG = np.random.default_rng(0)
N = 256  # the weights below are at least MIN_BYTES; "bias" is not


def _all_tensors(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Initializers and attribute tensors of `graph` and its sub-graphs, by name."""
    out: dict[str, onnx.TensorProto] = {}
    for t in graph.initializer:
        out[t.name] = t
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                out[a.t.name or node.name] = a.t
            for t in a.tensors:
                out[t.name] = t
            if a.HasField("g"):
                out.update(_all_tensors(a.g))
    return out


def _nested_model() -> tuple[onnx.ModelProto, np.ndarray, np.ndarray]:
    """x[4, N] -> MatMul(w, an initializer) -> Add(a Constant node's value) -> If(cond; each branch multiplies by
    its own initializer) -> y; the weights are large enough to be mapped, plus one small bias kept inline."""
    w = RNG.standard_normal((N, N)).astype(np.float32)
    c = RNG.standard_normal((N,)).astype(np.float32)

    def branch(name: str, scale: np.ndarray) -> onnx.GraphProto:
        return h.make_graph([h.make_node("Mul", ["s", f"{name}_scale"], [f"{name}_out"])], name, [],
                            [h.make_tensor_value_info(f"{name}_out", T.FLOAT, [4, N])],
                            initializer=[numpy_helper.from_array(scale, f"{name}_scale")])

    graph = h.make_graph(
        [h.make_node("MatMul", ["x", "w"], ["m"]),
         h.make_node("Constant", [], ["c"], name="const", value=numpy_helper.from_array(c, "c_value")),
         h.make_node("Add", ["m", "c"], ["a"]),
         h.make_node("Add", ["a", "bias"], ["s"]),
         h.make_node("If", ["cond"], ["y"], then_branch=branch("then", np.full((N,), 2, np.float32) +
                                                                 RNG.standard_normal(N).astype(np.float32)),
                     else_branch=branch("else", RNG.standard_normal((4, N)).astype(np.float32)))],
        "nested", [h.make_tensor_value_info("x", T.FLOAT, [4, N]), h.make_tensor_value_info("cond", T.BOOL, [])],
        [h.make_tensor_value_info("y", T.FLOAT, [4, N])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.ones(3, np.float32)[:1], "bias")])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    return model, w, c


def test_rewritten_message_is_valid_onnx_with_the_same_tensors(tmp_path: Path) -> None:
    model, _, _ = _nested_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    data = rewrite(str(path))
    assert data is not None and len(data) < path.stat().st_size // 4
    loaded = onnx.load_from_string(data)
    rewritten = {n for n, t in _all_tensors(loaded.graph).items() if uses_external_data(t)}
    assert rewritten == {"w", "c_value", "then_scale", "else_scale"}  # "bias" is below MIN_BYTES: inline
    # onnx's own loader reads the references back from the same file
    onnx.load_external_data_for_model(loaded, str(tmp_path))
    want = {n: numpy_helper.to_array(t) for n, t in _all_tensors(model.graph).items()}
    got = {n: numpy_helper.to_array(t) for n, t in _all_tensors(loaded.graph).items()}
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_converted_constants_view_the_model_file(tmp_path: Path) -> None:
    model, w, c = _nested_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    proto = load_onnx(path)
    external = ExternalData(str(tmp_path))
    tensors = _all_tensors(proto.graph)
    for name in ("w", "c_value", "then_scale", "else_scale"):
        arr = external.to_array(tensors[name])
        assert not arr.flags.writeable
        # a view of the mapped file, or (not aligned for its type there) an array of its own: never a view of
        # bytes the parser holds
        assert mapping_of(arr) is not None or arr.base is None, name
    x = RNG.standard_normal((4, N)).astype(np.float32)
    core = irforge.Core()
    converted = irforge.convert_model(str(path))
    for cond in (True, False):
        want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"x": x, "cond": np.array(cond)})[0]
        for device in ("REF", "CPU"):
            got = core.compile_model(converted, device)([x, np.array(cond)])[0]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{device} cond={cond}")


def test_aligned_weights_stay_views_and_unaligned_ones_are_copied(tmp_path: Path) -> None:
    """Which tensors are views is decided by where protobuf put their bytes: find both kinds in one file."""
    tensors = [numpy_helper.from_array(RNG.standard_normal(300 + k).astype(np.float32), f"t{k}") for k in range(8)]
    nodes = [h.make_node("Identity", [f"t{k}"], [f"y{k}"]) for k in range(8)]
    graph = h.make_graph(nodes, "g", [], [h.make_tensor_value_info(f"y{k}", T.FLOAT, None) for k in range(8)],
                         initializer=tensors)
    path = tmp_path / "m.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(path))
    proto = load_onnx(path)
    external = ExternalData(str(tmp_path))
    kinds = set()
    for t, want in zip(proto.graph.initializer, tensors):
        arr = external.to_array(t)
        np.testing.assert_array_equal(arr, numpy_helper.to_array(want))
        assert not arr.flags.writeable and arr.flags.aligned
        kinds.add(mapping_of(arr) is not None)
    assert kinds == {True, False}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["float32", "float16", "int64", "int8", "uint8", "float64", "bool"]),
                          st.integers(0, 3000)), min_size=1, max_size=5),
       st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300))
def test_any_tensors_round_trip(tmp_path_factory: pytest.TempPathFactory, specs: list[tuple[str, int]],
                                doc: str) -> None:
    """Generated tensors of every size around MIN_BYTES and several types, with a doc string of any length in
    front of them (moving every offset): the values read through the rewrite equal onnx's."""
    folder = tmp_path_factory.mktemp("wire")
    arrays = {f"t{k}": RNG.integers(0, 100, n).astype(dtype) for k, (dtype, n) in enumerate(specs)}
    graph = h.make_graph([h.make_node("Identity", [n], [f"y_{n}"]) for n in arrays], "g", [],
                         [h.make_tensor_value_info(f"y_{n}", T.FLOAT, None) for n in arrays],
                         initializer=[numpy_helper.from_array(a, n) for n, a in arrays.items()], doc_string=doc)
    path = folder / "m.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], doc_string=doc), str(path))
    proto = load_onnx(path)
    external = ExternalData(str(folder))
    for t in proto.graph.initializer:
        assert uses_external_data(t) == (arrays[t.name].nbytes >= MIN_BYTES), t.name
        got = external.to_array(t)
        assert got.dtype == arrays[t.name].dtype
        np.testing.assert_array_equal(got, arrays[t.name])


def test_truncated_and_linked_files(tmp_path: Path) -> None:
    model, _, _ = _nested_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    data = path.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) - 1000])
    assert rewrite(str(cut)) is None  # left to protobuf
    with pytest.raises(ModelReadError, match="cut.onnx: not a valid ONNX model"):
        irforge.convert_model(str(cut))
    link = tmp_path / "link.onnx"
    link.symlink_to(path)
    assert rewrite(str(link)) is None  # read as a whole: external data may not go through a link
    x = RNG.standard_normal((4, N)).astype(np.float32)
    a = irforge.Core().compile_model(irforge.convert_model(str(link)), "REF")([x, np.array(True)])[0]
    b = irforge.Core().compile_model(irforge.convert_model(str(path)), "REF")([x, np.array(True)])[0]
    np.testing.assert_array_equal(a, b)


def test_converting_a_large_inline_model_holds_its_weights_once(tmp_path: Path) -> None:
    """64 MB of inline weights: converting and saving the IR peaks under 1.3x the weights above the imports (the
    whole file parsed by protobuf, then copied into Constants, peaked at 2x)."""
    n, layers = 1024, 16
    graph = h.make_graph(
        [h.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"], [f"h{i}"]) for i in range(layers)],
        "big", [h.make_tensor_value_info("x", T.FLOAT, [1, n])],
        [h.make_tensor_value_info(f"h{layers - 1}", T.FLOAT, [1, n])],
        initializer=[numpy_helper.from_array(RNG.standard_normal((n, n)).astype(np.float32), f"w{i}")
                     for i in range(layers)])
    path = tmp_path / "big.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(path))
    weights = path.stat().st_size
    small = tmp_path / "small.onnx"
    onnx.save(_nested_model()[0], str(small))
    code = textwrap.dedent(f"""
        import irforge
        def rss(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        irforge.save_model(irforge.convert_model({str(small)!r}), {str(tmp_path / "ir" / "small.xml")!r})
        base = rss("VmRSS")  # after the imports conversion needs
        irforge.save_model(irforge.convert_model({str(path)!r}), {str(tmp_path / "ir" / "big.xml")!r},
                           compress_to_fp16=False)
        print(rss("VmHWM") - base)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    growth = int(out.stdout.strip().splitlines()[-1])
    assert growth < 1.3 * weights, (growth / weights)
