"""One copy of each weight (DESIGN.md, "Memory"): reading an IR maps its `.bin` and every Constant is a read-only
view into the mapping; a pass that rewrites a Constant gives it its own buffer and the file never changes; weights
given in memory are viewed, not copied; ONNX external data is mapped the same way; a read model can be saved
over its own files."""
from __future__ import annotations

import gc
import hashlib
import mmap
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import irforge
from irforge.errors import ModelReadError
from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.ir.xml_io import model_from_xml, model_to_xml

RNG = np.random.default_rng(0)


def _mapping(arr: np.ndarray) -> object | None:
    """The mmap (or other buffer owner) at the end of `arr`'s `.base` chain."""
    obj: object = arr
    while isinstance(obj, np.ndarray) and obj.base is not None:
        obj = obj.base
    if isinstance(obj, memoryview):
        obj = obj.obj
    return obj


def _constants(model: Model) -> dict[str, np.ndarray]:
    return {n.name: n.data for n in model.nodes() if n.type == "Constant" and n.data is not None}


def _dense_model(sizes: list[int] | None = None) -> tuple[Model, dict[str, np.ndarray]]:
    """x[1, n] -> MatMul(W_i) chain with distinct f32 weights (named w0, w1, ...) -> Relu."""
    sizes = sizes or [64, 64, 64]
    x = parameter(Type.f32, [1, sizes[0]], "x")
    v = x.output(0)
    weights = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        w = RNG.standard_normal((a, b)).astype(np.float32)
        weights[f"w{i}"] = w
        v = make("MatMul", [v, constant(w, name=f"w{i}")], name=f"mm{i}").output(0)
    return Model([result(make("Relu", [v], name="relu").output(0))], [x], "dense"), weights


def _run(model: Model, x: np.ndarray) -> np.ndarray:
    return irforge.Core().compile_model(model, "REF")([x])[0]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_constant_is_a_read_only_view_of_the_mapped_bin(tmp_path: Path) -> None:
    model, weights = _dense_model()
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    read = irforge.read_model(tmp_path / "m.xml")
    consts = _constants(read)
    for name, want in weights.items():
        got = consts[name]
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable
        assert isinstance(_mapping(got), mmap.mmap), name
        with pytest.raises(ValueError, match="read-only"):
            got[0, 0] = 1.0
        with pytest.raises(ValueError):
            got.flags.writeable = True
    x = RNG.standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_allclose(_run(read, x), _run(model, x), rtol=1e-6)


def test_mapping_goes_away_with_the_model(tmp_path: Path) -> None:
    model, _ = _dense_model()
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    read = irforge.read_model(tmp_path / "m.xml")
    ref = weakref.ref(_mapping(_constants(read)["w0"]))  # type: ignore[arg-type]
    assert ref() is not None
    del read
    gc.collect()
    assert ref() is None


def test_a_pass_that_rewrites_a_constant_gives_it_its_own_buffer(tmp_path: Path) -> None:
    """x @ W * s: the optimizer folds the scale into W; the folded weight is new memory, the .bin unchanged."""
    x = parameter(Type.f32, [1, 32], "x")
    w = RNG.standard_normal((32, 16)).astype(np.float32)
    s = RNG.uniform(0.5, 2.0, (1, 16)).astype(np.float32)
    mm = make("MatMul", [x.output(0), constant(w, name="w")], name="mm")
    mul = make("Multiply", [mm.output(0), constant(s, name="s")], name="mul")
    model = Model([result(mul.output(0))], [x], "scaled")
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    read = irforge.read_model(tmp_path / "m.xml")
    mapped_w = _constants(read)["w"]
    assert isinstance(_mapping(mapped_w), mmap.mmap)
    optimized = irforge.convert_model(read)  # the default passes, on the model as read (Constants mapped)
    ops = [n.type for n in optimized.nodes()]
    assert "Multiply" not in ops, ops  # folded: a rewritten Constant
    folded = [c for n, c in _constants(optimized).items() if c.shape == (32, 16) or c.shape == (16, 32)]
    assert folded and all(not isinstance(_mapping(c), mmap.mmap) for c in folded)
    np.testing.assert_array_equal(mapped_w, w)  # the mapped original is untouched
    xv = RNG.standard_normal((1, 32)).astype(np.float32)
    np.testing.assert_allclose(_run(optimized, xv), (xv @ w) * s, rtol=1e-5, atol=1e-5)
    irforge.Core().compile_model(irforge.read_model(tmp_path / "m.xml"), "CPU",
                                 {"INFERENCE_PRECISION_HINT": "f32"})([xv])
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before


def test_weights_given_in_memory_are_viewed_not_copied() -> None:
    model, weights = _dense_model()
    xml, blob = model_to_xml(model)
    blob = bytes(blob)
    for given in (blob, bytearray(blob), memoryview(blob), irforge.Tensor(np.frombuffer(blob, np.uint8))):
        read = irforge.Core().read_model(xml, given)
        got = _constants(read)["w1"]
        np.testing.assert_array_equal(got, weights["w1"])
        assert not got.flags.writeable
        owner = given.data if isinstance(given, irforge.Tensor) else given
        assert np.shares_memory(got, np.frombuffer(owner, np.uint8)), type(given).__name__


def test_misaligned_and_boolean_constants_get_their_own_buffer() -> None:
    x = parameter(Type.f32, [4], "x")
    c = constant(np.array([1.5, -2.0, 3.25, 4.0], np.float32), name="c")
    add = make("Add", [x.output(0), c], name="add")
    model = Model([result(add.output(0))], [x], "m")
    xml, blob = model_to_xml(model)
    assert b'offset="0"' in xml
    shifted = model_from_xml(xml.replace(b'offset="0"', b'offset="1"'), b"\0" + bytes(blob))
    got = _constants(shifted)["c"]
    np.testing.assert_array_equal(got, [1.5, -2.0, 3.25, 4.0])
    assert got.flags.aligned and not got.flags.writeable

    b = constant(np.array([True, False, True]), name="b")
    bmodel = Model([result(make("LogicalNot", [b], name="not").output(0))], [], "b")
    bxml, bblob = model_to_xml(bmodel)
    read = model_from_xml(bxml, bytes([2, 0, 255]))  # any non-zero byte is true
    got_b = _constants(read)["b"]
    assert got_b.dtype == np.bool_ and got_b.tolist() == [True, False, True] and not got_b.flags.writeable


def test_saving_a_read_model_over_its_own_files(tmp_path: Path) -> None:
    model, weights = _dense_model()
    path = tmp_path / "m.xml"
    irforge.save_model(model, path, compress_to_fp16=False)
    read = irforge.read_model(path)
    x = RNG.standard_normal((1, 64)).astype(np.float32)
    want = _run(read, x)
    irforge.save_model(read, path, compress_to_fp16=False)  # same files, from views into the old mapping
    irforge.save_model(read, path)  # and compressed to f16
    irforge.serialize(read, path)
    np.testing.assert_array_equal(_constants(read)["w0"], weights["w0"])  # the old inode stays mapped
    np.testing.assert_allclose(_run(read, x), want)
    again = irforge.read_model(path)
    np.testing.assert_allclose(_run(again, x), want, rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.xml"]


RSS_SCRIPT = textwrap.dedent("""
    import sys
    def rss_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    import irforge
    import irforge.ir.ops, irforge.ir.xml_io, irforge.runtime.core  # what read_model imports, loaded first
    before = rss_kb()
    model = irforge.read_model(sys.argv[1])
    print(rss_kb() - before)
""")


def test_reading_an_ir_costs_a_fraction_of_its_weights_in_memory(tmp_path: Path) -> None:
    """64 MB of weights: read_model grows the resident set by less than 10% of the .bin (measured in a fresh
    process, RSS from /proc/self/status)."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc (Linux)")
    x = parameter(Type.f32, [1, 2048], "x")
    v = x.output(0)
    for i in range(4):  # 4 x 2048 x 2048 f32 = 64 MiB, all distinct (the writer stores equal blobs once)
        w = np.random.default_rng(i).standard_normal((2048, 2048), np.float32)
        v = make("MatMul", [v, constant(w, name=f"w{i}")], name=f"mm{i}").output(0)
    irforge.save_model(Model([result(v)], [x], "big"), tmp_path / "big.xml", compress_to_fp16=False)
    bin_size = (tmp_path / "big.bin").stat().st_size
    assert bin_size >= 64 << 20
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "big.xml")], capture_output=True,
                         text=True, check=True)
    growth = int(out.stdout.strip().splitlines()[-1]) * 1024
    assert growth < 0.1 * bin_size, f"read_model: +{growth / 2**20:.1f} MiB RSS for a {bin_size / 2**20:.0f} MiB .bin"


# ---------------------------------------------------------------- ONNX external data
def _onnx_with_external_data(folder: Path, location: str = "weights.data") -> tuple[Path, dict[str, np.ndarray]]:
    w1 = RNG.standard_normal((16, 32)).astype(np.float32)
    w2 = RNG.standard_normal((32, 8)).astype(np.float32)
    b = RNG.standard_normal(8).astype(np.float64)
    graph = h.make_graph(
        [h.make_node("MatMul", ["x", "w1"], ["h"]), h.make_node("Relu", ["h"], ["r"]),
         h.make_node("MatMul", ["r", "w2"], ["m"]), h.make_node("Cast", ["b"], ["bf"], to=T.FLOAT),
         h.make_node("Add", ["m", "bf"], ["y"])],
        "ext", [h.make_tensor_value_info("x", T.FLOAT, [2, 16])], [h.make_tensor_value_info("y", T.FLOAT, [2, 8])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b, "b")])
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    path = folder / "m.onnx"
    onnx.save(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=location,
              size_threshold=0)
    assert (folder / location).is_file()
    return path, {"w1": w1, "w2": w2, "b": b}


def test_onnx_external_data_is_mapped_not_loaded(tmp_path: Path) -> None:
    path, values = _onnx_with_external_data(tmp_path)
    model = irforge.convert_model(str(path), optimize=False)
    consts = {next(iter(n.outputs[0].names), n.name): n.data for n in model.nodes() if n.type == "Constant"}
    for name, want in values.items():
        got = consts[name]
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable
        assert isinstance(_mapping(got), mmap.mmap), name
    x = RNG.standard_normal((2, 16)).astype(np.float32)
    want_y = np.maximum(x @ values["w1"], 0) @ values["w2"] + values["b"].astype(np.float32)
    optimized = irforge.convert_model(str(path))
    np.testing.assert_allclose(_run(optimized, x), want_y, rtol=1e-5, atol=1e-5)
    irforge.save_model(optimized, tmp_path / "out.xml")
    np.testing.assert_allclose(_run(irforge.read_model(tmp_path / "out.xml"), x), want_y, rtol=1e-2, atol=5e-2)


def test_onnx_external_data_outside_the_model_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    path, _ = _onnx_with_external_data(tmp_path / "model")
    (tmp_path / "elsewhere.data").write_bytes((tmp_path / "model" / "weights.data").read_bytes())
    (tmp_path / "model" / "weights.data").unlink()
    (tmp_path / "model" / "weights.data").symlink_to(tmp_path / "elsewhere.data")
    with pytest.raises(ModelReadError) as err:
        irforge.convert_model(str(path))
    message = str(err.value)
    assert "\n" not in message and "tensor name: w1" in message and str(path) in message
    (tmp_path / "model" / "weights.data").unlink()
    (tmp_path / "model" / "sub").mkdir()
    (tmp_path / "model" / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    proto = onnx.load(str(path), load_external_data=False)
    for t in proto.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "sub/up/elsewhere.data"  # a folder link leading out
    onnx.save(proto, str(path))
    with pytest.raises(ModelReadError, match="points outside the directory") as err:
        irforge.convert_model(str(path))
    assert "tensor name: w1" in str(err.value)
