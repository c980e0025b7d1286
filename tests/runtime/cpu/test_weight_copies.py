"""One copy of each weight after compiling (issue "Cold start and memory"): the pages of the mapped `.bin` a
weight was read from leave the resident set once its step holds the weight in its kernel's form, and a step inside
a compiled segment never makes the prepacked copy its eager function would use."""
from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest
import torch

import irforge
from irforge.ir.graph import Output
from irforge.ir.mapped import mapping_of, release
from irforge.runtime.devices.cpu import CPUExecutable
from tests.runtime.cpu.helpers import cpu_config, graph, op, randn
from tests.runtime.cpu.test_ops_compute import conv_attrs


def _resident_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    target = str(path.resolve())
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
                inside = len(head) >= 6 and head[5] == target
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total


def _convs(x: Output, channels: int, n: int) -> Output:
    for _ in range(n):
        x = op("Relu", op("Convolution", x, randn(channels, channels, 3, 3, scale=0.05), **conv_attrs(2, 1, 1, (1, 1))))
    return x


@pytest.fixture(autouse=True)
def _graph_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRFORGE_CPU_GRAPH", raising=False)


def test_release_drops_the_pages_and_keeps_the_bytes(tmp_path: Path) -> None:
    data = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)  # 4 MiB
    path = tmp_path / "w.bin"
    path.write_bytes(data.tobytes())
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = np.frombuffer(memoryview(mapped), np.float32)[1000:]  # not page-aligned at its start
    assert mapping_of(view) is mapped
    assert float(view.sum()) == pytest.approx(float(data[1000:].sum()), rel=1e-4)  # every page touched
    assert _resident_kib(path) >= 4000
    assert release([view]) >= view.nbytes
    assert _resident_kib(path) < 100
    np.testing.assert_array_equal(view, data[1000:])  # mapped back from the page cache, same bytes
    assert release([data, None, np.zeros(10, np.float32)]) == 0  # not mapped: left alone


def test_compiling_an_ir_leaves_its_weights_out_of_the_resident_set(tmp_path: Path) -> None:
    x = randn(1, 64, 8, 8)
    model = graph(lambda p: _convs(p, 64, 6), x)  # 6 x 147 KiB of weights
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    bin_kib = (tmp_path / "m.bin").stat().st_size // 1024
    read = irforge.read_model(tmp_path / "m.xml")
    compiled = irforge.Core().compile_model(read, "CPU", cpu_config())
    assert _resident_kib(tmp_path / "m.bin") < 0.1 * bin_kib
    got = compiled([x])[0]
    np.testing.assert_allclose(got, irforge.Core().compile_model(model, "REF")([x])[0], rtol=1e-4, atol=1e-4)
    assert _resident_kib(tmp_path / "m.bin") < 0.1 * bin_kib


@pytest.mark.parametrize("graph_on", [True, False])
def test_steps_of_a_compiled_segment_make_no_prepacked_copy(monkeypatch: pytest.MonkeyPatch, graph_on: bool
                                                            ) -> None:
    """The eager function of a convolution inside a compiled segment would run on weights reordered for oneDNN's
    eager primitive: they are made only when the step runs eagerly (IRFORGE_CPU_GRAPH=0 here)."""
    if not graph_on:
        monkeypatch.setenv("IRFORGE_CPU_GRAPH", "0")
    reorders: list[tuple[int, ...]] = []
    real = torch.ops.mkldnn._reorder_convolution_weight

    def counted(w: torch.Tensor, *args: object) -> torch.Tensor:
        reorders.append(tuple(w.shape))
        return real(w, *args)
    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_convolution_weight", counted)
    x = randn(1, 16, 8, 8)
    model = graph(lambda p: _convs(p, 16, 3), x)
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    runner = ex.create_runner()
    for _ in range(2):
        got = np.asarray(runner.run([x])[0])
    (plan,) = ex.plans.values()
    assert [s.state for s in plan.segments] == (["compiled"] if graph_on else [])
    assert len(reorders) == (0 if graph_on else 3)
    np.testing.assert_allclose(got, irforge.Core().compile_model(model, "REF")([x])[0], rtol=1e-4, atol=1e-4)


def _closure_tensors(fn: object, seen: set[int] | None = None) -> list[torch.Tensor]:
    """The torch tensors a step's function holds (through nested closures)."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return []
    seen.add(id(fn))
    if isinstance(fn, torch.Tensor):
        return [fn]
    found: list[torch.Tensor] = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            found += _closure_tensors(cell.cell_contents, seen)
        except ValueError:  # an empty cell
            continue
    return found


def test_a_weight_the_kernel_takes_as_is_stays_a_view_of_the_mapping(tmp_path: Path) -> None:
    """x @ W^T with W stored [N, K] (MatMul transpose_b, as Gemm(transB=1) converts): the linear kernel reads the
    mapped bytes themselves, no copy is made."""
    from irforge.ir.graph import Model, constant, make, parameter, result
    from irforge.ir.types import Type

    w = np.random.default_rng(1).standard_normal((256, 128)).astype(np.float32)
    x = parameter(Type.f32, [4, 128], "x")
    mm = make("MatMul", [x.output(0), constant(w, name="w")], transpose_b=True, name="mm")
    irforge.save_model(Model([result(make("Relu", [mm.output(0)]).output(0))], [x]), tmp_path / "m.xml",
                       compress_to_fp16=False)
    read = irforge.read_model(tmp_path / "m.xml")
    mapped = next(n.data for n in read.nodes() if n.type == "Constant" and n.data is not None and n.data.size > 1)
    assert isinstance(mapping_of(mapped), mmap.mmap)
    ex = CPUExecutable(read, cpu_config())
    xv = np.random.default_rng(2).standard_normal((4, 128)).astype(np.float32)
    got = np.asarray(ex.create_runner().run([xv])[0])
    np.testing.assert_allclose(got, np.maximum(xv @ w.T, 0), rtol=1e-4, atol=1e-4)
    (plan,) = ex.plans.values()
    start = mapped.__array_interface__["data"][0]
    held = [t for s in plan.steps for t in _closure_tensors(s.fn) if t.shape == (256, 128)]
    assert held and all(t.data_ptr() == start for t in held)


@pytest.mark.parametrize("graph_on", [True, False])
def test_a_large_linear_runs_on_onednn_without_an_eager_copy_when_compiled(monkeypatch: pytest.MonkeyPatch,
                                                                         graph_on: bool) -> None:
    """A linear layer of at least ONEDNN_MIN_MACS runs oneDNN's inner product: inside a traced segment as a
    oneDNN Graph partition (no prepacked eager weight made), eagerly on a weight prepacked on first use."""
    from irforge.runtime.devices.cpu.lowerings.matmul import ONEDNN_MIN_MACS

    if not graph_on:
        monkeypatch.setenv("IRFORGE_CPU_GRAPH", "0")
    packs: list[tuple[int, ...]] = []
    real = torch.ops.mkldnn._reorder_linear_weight

    def counted(w: torch.Tensor, *args: object) -> torch.Tensor:
        packs.append(tuple(w.shape))
        return real(w, *args)
    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", counted)
    rows, k, n = 8, 256, 512
    assert rows * k * n >= ONEDNN_MIN_MACS
    w = randn(k, n, scale=0.05)
    x = randn(2, 4, k)
    model = graph(lambda p: op("Relu", op("Add", op("MatMul", p, w), randn(n))), x)
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    runner = ex.create_runner()
    for _ in range(2):
        got = np.asarray(runner.run([x])[0])
    (plan,) = ex.plans.values()
    assert [s.exec_type for s in plan.steps] == ["onednn_linear+bias+relu_f32"]
    assert [s.state for s in plan.segments] == (["compiled"] if graph_on else [])
    assert packs == ([] if graph_on else [(n, k)])
    np.testing.assert_allclose(got, irforge.Core().compile_model(model, "REF")([x])[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_weights_are_read_from_the_mapping_and_leave_it_after_compiling(tmp_path: Path,
                                                                              transpose_b: bool) -> None:
    """ONNX's [K, N] MatMul weights (transpose_b false) and [N, K] ones are used as views of the mapped .bin, not
    copied; once the segment holding them is compiled (oneDNN Graph keeps its own copy), their pages leave the
    resident set again."""
    from irforge.ir.graph import Model, constant, make, parameter, result
    from irforge.ir.types import Type

    rng = np.random.default_rng(4)
    x = parameter(Type.f32, [8, 256], "x")
    v = x.output(0)
    weights = []
    for i in range(3):
        w = rng.standard_normal((256, 256)).astype(np.float32) * 0.05
        weights.append(w)
        v = make("Relu", [make("MatMul", [v, constant(w.T.copy() if transpose_b else w, name=f"w{i}")],
                               transpose_b=transpose_b).output(0)]).output(0)
    irforge.save_model(Model([result(v)], [x]), tmp_path / "m.xml", compress_to_fp16=False)
    bin_kib = (tmp_path / "m.bin").stat().st_size // 1024
    read = irforge.read_model(tmp_path / "m.xml")
    ex = CPUExecutable(read, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    xv = rng.standard_normal((8, 256)).astype(np.float32)
    got = np.asarray(ex.create_runner().run([xv])[0])
    want = xv
    for w in weights:
        want = np.maximum(want @ w, 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    (plan,) = ex.plans.values()
    assert [s.state for s in plan.segments] == ["compiled"]
    assert _resident_kib(tmp_path / "m.bin") < 0.1 * bin_kib
    mapped = {n.data.__array_interface__["data"][0] for n in read.nodes()
              if n.type == "Constant" and n.data is not None and n.data.size > 1}
    held = [t for s in plan.steps for t in _closure_tensors(s.fn) if t.numel() == 256 * 256]
    assert held and all(t.data_ptr() in mapped for t in held)
