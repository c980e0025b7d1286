"""CACHE_DIR on the CPU device's native executor (irforge/runtime/devices/cpu/native/cache.py): packed weights
written once and mapped back; stale, truncated, corrupted or foreign files rebuilt; processes sharing a
directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import irforge
from irforge.errors import OptionError
from irforge.ir.mapped import mapping_of
from tests.runtime.cpu.helpers import graph, op, randn
from tests.util import assert_close, run_ref

pytestmark = pytest.mark.native
F32 = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": "1"}


def _model_ir(tmp_path: Path, seed: int = 0) -> tuple[Path, np.ndarray, irforge.Model]:
    rng = np.random.default_rng(seed)
    x = randn(1, 8, 12, 12)

    def build(p):  # noqa: ANN001, ANN202
        y = p
        for _ in range(3):
            w = (rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32)
            y = op("Relu", op("Add", op("Convolution", y, w, strides=[1, 1], dilations=[1, 1], pads_begin=[1, 1],
                                        pads_end=[1, 1], auto_pad="explicit"),
                              rng.standard_normal((1, 8, 1, 1)).astype(np.float32)))
        return y

    model = graph(build, x)
    xml = tmp_path / f"m{seed}.xml"
    irforge.save_model(model, xml, compress_to_fp16=False)
    return xml, x, model


def _compile(xml: Path, cache: Path, config: dict[str, str] | None = None) -> irforge.CompiledModel:
    return irforge.Core().compile_model(irforge.read_model(xml), "CPU", {**F32, "CACHE_DIR": str(cache),
                                                                         **(config or {})})


def _packed_from_cache(compiled: irforge.CompiledModel) -> bool:
    (plan,) = compiled.executable.plans.values()
    packed = [b.array for b in plan.buffers if b.kind == "const" and b.array is not None and b.array.dtype == np.uint8]
    return bool(packed) and all(mapping_of(a) is not None for a in packed)


def test_the_second_compile_maps_the_packed_weights_back(tmp_path: Path) -> None:
    xml, x, model = _model_ir(tmp_path)
    cache = tmp_path / "cache"
    first = _compile(xml, cache)
    files = list(cache.glob("*.irfc"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) in ("0o644", "0o664", "0o600")
    assert not _packed_from_cache(first)
    second = _compile(xml, cache)
    assert _packed_from_cache(second)
    want = run_ref(model, [x])[0]
    assert_close(first([x])[0], want, rtol=1e-4, atol=1e-4)
    assert_close(second([x])[0], want, rtol=1e-4, atol=1e-4)
    assert list(cache.glob("*.irfc")) == files


def test_the_key_covers_shapes_and_the_weights_file(tmp_path: Path) -> None:
    """(Threads are in the key too; this model is small enough to run on one thread whatever is asked.)"""
    xml, x, _ = _model_ir(tmp_path)
    cache = tmp_path / "cache"
    _compile(xml, cache)
    model = irforge.read_model(xml)
    model.reshape({model.inputs[0].get_any_name(): [2, 8, 12, 12]})
    irforge.Core().compile_model(model, "CPU", {**F32, "CACHE_DIR": str(cache)})
    assert len(list(cache.glob("*.irfc"))) == 2
    other, _, _ = _model_ir(tmp_path, seed=1)
    os.replace(other.with_suffix(".bin"), xml.with_suffix(".bin"))  # same graph, other weights
    compiled = _compile(xml, cache)
    assert len(list(cache.glob("*.irfc"))) == 3 and not _packed_from_cache(compiled)


@pytest.mark.parametrize("damage", ["truncated", "header", "foreign", "empty"])
def test_a_damaged_or_foreign_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    xml, x, model = _model_ir(tmp_path)
    cache = tmp_path / "cache"
    _compile(xml, cache)
    (path,) = cache.glob("*.irfc")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "header":
        path.write_bytes(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # another model's file under this model's name
        other, _, _ = _model_ir(tmp_path, seed=2)
        other_cache = tmp_path / "other"
        _compile(other, other_cache)
        (foreign,) = other_cache.glob("*.irfc")
        path.write_bytes(foreign.read_bytes())
    compiled = _compile(xml, cache)
    assert not _packed_from_cache(compiled)
    assert_close(compiled([x])[0], run_ref(model, [x])[0], rtol=1e-4, atol=1e-4)
    assert path.read_bytes() == data  # rewritten whole
    assert _packed_from_cache(_compile(xml, cache))


def test_set_property_without_a_device_and_an_unwritable_directory(tmp_path: Path) -> None:
    xml, x, _ = _model_ir(tmp_path)
    core = irforge.Core()
    core.set_property({"CACHE_DIR": str(tmp_path / "c")})
    assert core.get_property("CPU", "CACHE_DIR") == str(tmp_path / "c")
    core.compile_model(irforge.read_model(xml), "CPU", F32)
    assert len(list((tmp_path / "c").glob("*.irfc"))) == 1
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OptionError, match=r"CACHE_DIR '.*file': cannot write"):
        core.compile_model(irforge.read_model(xml), "CPU", {**F32, "CACHE_DIR": str(blocker)})


_CHILD = """
import sys
import numpy as np
import irforge
model = irforge.read_model(sys.argv[1])
compiled = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": sys.argv[2],
                                                       "INFERENCE_NUM_THREADS": "1"})
x = np.load(sys.argv[3])
print(float(np.asarray(compiled([x])[0]).sum()))
"""


def test_processes_sharing_a_directory_all_succeed(tmp_path: Path) -> None:
    xml, x, model = _model_ir(tmp_path)
    np.save(tmp_path / "x.npy", x)
    cache = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(xml), str(cache), str(tmp_path / "x.npy")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    want = float(run_ref(model, [x])[0].sum())
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        assert abs(float(out) - want) <= 1e-3 * max(1.0, abs(want))
    assert len(list(cache.glob("*.irfc"))) == 1 and not list(cache.glob("*.tmp"))
