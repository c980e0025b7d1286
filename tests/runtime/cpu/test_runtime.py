"""The CPU device as a device: configuration and properties, plans per input shape (dynamic models), runners in
parallel threads, per-runner thread counts, profiling and error messages."""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch

import irforge
from irforge.errors import GraphError, OptionError
from irforge.ir.graph import Output
from irforge.runtime.devices.cpu import CPUExecutable
from irforge.runtime.devices.cpu.config import available_cores, has_native_bf16, onednn_bf16_kernels
from tests.runtime.cpu.helpers import cpu_config, graph, op, randn
from tests.runtime.cpu.test_ops_compute import conv_attrs
from tests.util import in_threads

W1, W2 = randn(8, 3, 3, 3), randn(8, 8, 3, 3)
B1 = randn(1, 8, 1, 1)
FC = randn(8, 5)


def small_cnn(p: Output) -> Output:
    """conv-bias-relu -> conv + residual -> relu -> global pool -> fc (dynamic batch and size friendly)."""
    c1 = op("Relu", op("Add", op("Convolution", p, W1, **conv_attrs(2, 1, 1, (1, 1))), B1))
    c2 = op("Relu", op("Add", op("Convolution", c1, W2, **conv_attrs(2, 1, 1, (1, 1))), c1))
    pooled = op("ReduceMean", c2, np.array([2, 3], np.int64), keep_dims=False)
    return op("MatMul", pooled, FC)


def test_default_properties() -> None:
    model = graph(small_cnn, randn(1, 3, 8, 8))
    props = CPUExecutable(model, {}).properties
    assert props["INFERENCE_PRECISION_HINT"] == ("bf16" if has_native_bf16() else "f32")
    assert props["INFERENCE_NUM_THREADS"] == str(available_cores())
    assert props["PERFORMANCE_HINT"] == "LATENCY" and props["NUM_STREAMS"] == "1"


def test_given_properties_are_reported() -> None:
    model = graph(small_cnn, randn(1, 3, 8, 8))
    props = CPUExecutable(model, {"INFERENCE_PRECISION_HINT": "bfloat16", "INFERENCE_NUM_THREADS": "1",
                                  "PERFORMANCE_HINT": "throughput", "NUM_STREAMS": "3", "PERF_COUNT": "YES"}).properties
    assert dict(props) == {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": "1",
                           "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": "3"}


def test_bf16_hint_without_bf16_kernels_falls_back_to_f32_like_openvino(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Any) -> None:
    """Without bf16 kernels (AVX2) the bf16 hint runs and reports f32, as OpenVINO's CPU plugin does (checked on the
    same machine when OpenVINO is installed); IRFORGE_CPU_BF16=emulate keeps bf16 numerics; with kernels bf16 runs."""
    x = randn(1, 3, 8, 8)
    model = graph(small_cnn, x)
    monkeypatch.delenv("IRFORGE_CPU_BF16")
    compiled = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "bf16"})
    f32 = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})([x])[0]
    want = "bf16" if onednn_bf16_kernels() else "f32"
    assert compiled.get_property("INFERENCE_PRECISION_HINT") == want
    if want == "f32":
        np.testing.assert_array_equal(compiled([x])[0], f32)
        monkeypatch.setenv("IRFORGE_CPU_BF16", "emulate")
        emulated = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "bf16"})
        assert emulated.get_property("INFERENCE_PRECISION_HINT") == "bf16"
        assert not np.array_equal(emulated([x])[0], f32)
        try:
            import openvino as ov
        except ImportError:
            return
        if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            irforge.save_model(model, str(tmp_path / "m.xml"), compress_to_fp16=False)
            ov_compiled = ov.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "bf16"})
            assert ov_compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32


@pytest.mark.parametrize("key,value", [("INFERENCE_PRECISION_HINT", "f16"), ("INFERENCE_NUM_THREADS", "-2"),
                                       ("INFERENCE_NUM_THREADS", "many"), ("PERFORMANCE_HINT", "FAST"),
                                       ("NUM_STREAMS", "0")])
def test_bad_values_name_the_key(key: str, value: str) -> None:
    model = graph(small_cnn, randn(1, 3, 8, 8))
    with pytest.raises(OptionError, match=key):
        CPUExecutable(model, {key: value})


def test_core_reaches_the_cpu_device() -> None:
    x = randn(1, 3, 8, 8)
    model = graph(small_cnn, x)
    got = irforge.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    want = irforge.Core().compile_model(model, "REF")(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_dynamic_shapes_plan_once_per_shape() -> None:
    model = graph(small_cnn, randn(1, 3, 8, 8), shapes=[["?", 3, "?", "?"]])
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "1"}))
    assert not ex.plans  # nothing static to plan at compile time
    runner = ex.create_runner()
    ref = irforge.Core().compile_model(model, "REF")
    for shape in [(1, 3, 8, 8), (2, 3, 5, 7), (1, 3, 8, 8), (3, 3, 4, 4), (2, 3, 5, 7)]:
        x = randn(*shape)
        np.testing.assert_allclose(runner.run([x])[0], ref(x)[0], rtol=1e-4, atol=1e-4)
    assert sorted(k[0][0] for k in ex.plans) == [(1, 3, 8, 8), (2, 3, 5, 7), (3, 3, 4, 4)]


def test_static_model_is_planned_at_compile_time() -> None:
    model = graph(small_cnn, randn(2, 3, 8, 8))
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "2"}))
    assert list(ex.plans) == [(((2, 3, 8, 8),), 2)]
    ex.create_runner(threads=1).run([randn(2, 3, 8, 8)])
    assert sorted(ex.plans) == [(((2, 3, 8, 8),), 1), (((2, 3, 8, 8),), 2)]


def test_a_convolution_reading_its_own_residual_is_not_done_in_place() -> None:
    x = randn(1, 3, 8, 8)
    model = graph(small_cnn, x)
    runner = CPUExecutable(model, cpu_config()).create_runner(profile=True)
    got = runner.run([x])[0]
    np.testing.assert_allclose(got, irforge.Core().compile_model(model, "REF")(x)[0], rtol=1e-4, atol=1e-4)
    assert "onednn_conv+add+relu_f32" in [c.exec_type for c in runner.perf_counts()]


def test_runners_in_two_threads_give_the_sequential_outputs() -> None:
    model = graph(small_cnn, randn(2, 3, 16, 16), shapes=[["?", 3, 16, 16]])
    ex = CPUExecutable(model, cpu_config())
    inputs = [randn(2, 3, 16, 16) for _ in range(6)] + [randn(1, 3, 16, 16) for _ in range(6)]
    sequential = [ex.create_runner(threads=1).run([x])[0] for x in inputs]
    results: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        runner = ex.create_runner(threads=1)
        order = range(len(inputs)) if k == 0 else reversed(range(len(inputs)))
        outs = {i: runner.run([inputs[i]])[0] for _ in range(3) for i in order}
        results[k] = [outs[i] for i in range(len(inputs))]

    in_threads(work, 2)
    for k in range(2):
        for got, want in zip(results[k], sequential):
            np.testing.assert_array_equal(got, want)


def test_runner_sets_its_thread_count_in_the_calling_thread() -> None:
    model = graph(small_cnn, randn(1, 3, 8, 8))
    ex = CPUExecutable(model, cpu_config({"INFERENCE_NUM_THREADS": "2"}))
    seen: dict[str, int] = {}

    def work() -> None:
        ex.create_runner(threads=1).run([randn(1, 3, 8, 8)])
        seen["worker"] = torch.get_num_threads()
    before = torch.get_num_threads()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["worker"] == 1
    assert torch.get_num_threads() == before  # other threads keep their own count


def test_perf_counts_only_when_profiling() -> None:
    x = randn(1, 3, 8, 8)
    model = graph(small_cnn, x)
    ex = CPUExecutable(model, cpu_config())
    plain = ex.create_runner()
    plain.run([x])
    assert plain.perf_counts() == []
    prof = ex.create_runner(profile=True)
    prof.run([x])
    counts = prof.perf_counts()
    assert [c.exec_type for c in counts][:2] == ["onednn_conv+bias+relu_f32", "onednn_conv+add+relu_f32"]
    assert all(c.seconds >= 0 and c.node_name and c.node_type for c in counts)


def test_a_failing_reference_step_names_its_node() -> None:
    x = np.array([1.0, 2.0], np.float32)
    target = lambda p: op("Multiply", op("ShapeOf", op("NonZero", p)), np.array(3, np.int64))  # noqa: E731
    model = graph(lambda p: op("Reshape", p, target(p), special_zero=False), x)  # [3, 6]: 18 elements from 2
    with pytest.raises(GraphError, match="Reshape"):
        CPUExecutable(model, cpu_config()).create_runner().run([x])


def test_non_zero_feeds_data_dependent_shapes() -> None:
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 3.0]], np.float32)
    model = graph(lambda p: op("ShapeOf", op("NonZero", p, output_type="i64")), x)
    got = CPUExecutable(model, cpu_config()).create_runner().run([x])[0]
    np.testing.assert_array_equal(got, np.array([2, 3], np.int64))


def test_small_plans_run_on_one_thread_large_ones_on_the_threads_asked_for() -> None:
    from irforge.runtime.devices.cpu.executable import SMALL_PLAN_FLOPS, heavy_flops
    from irforge.runtime.devices.cpu.specialize import specialize

    small_x = randn(1, 3, 8, 8)
    small = CPUExecutable(graph(small_cnn, small_x), cpu_config({"INFERENCE_NUM_THREADS": "2"}))
    big_x = randn(1024, 256)
    w = randn(256, 320)
    big_model = graph(lambda p: op("Relu", op("MatMul", p, w)), big_x)
    assert heavy_flops(specialize(big_model, None)) == 2 * 1024 * 256 * 320 >= SMALL_PLAN_FLOPS
    big = CPUExecutable(big_model, cpu_config({"INFERENCE_NUM_THREADS": "2"}))
    assert [p.threads for p in small.plans.values()] == [1]
    assert [p.threads for p in big.plans.values()] == [2]
    seen: dict[str, int] = {}

    def work() -> None:  # in a fresh thread: what each runner leaves set is what it ran with
        small.create_runner().run([small_x])
        seen["small"] = torch.get_num_threads()
        big.create_runner().run([big_x])
        seen["big"] = torch.get_num_threads()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == {"small": 1, "big": 2}
    np.testing.assert_allclose(big.create_runner().run([big_x])[0], np.maximum(big_x @ w, 0), rtol=1e-4, atol=1e-4)


def test_heavy_flops_counts_every_convolution_kind() -> None:
    from irforge.runtime.devices.cpu.executable import heavy_flops
    from irforge.runtime.devices.cpu.specialize import specialize

    x = randn(1, 4, 6, 6)
    attrs = dict(strides=[1, 1], dilations=[1, 1], pads_begin=[1, 1], pads_end=[1, 1], auto_pad="explicit")

    def build(p: Output) -> Output:
        a = op("Convolution", p, randn(8, 4, 3, 3), **attrs)                    # 2 * (8*6*6) * (4*9)
        b = op("GroupConvolution", a, randn(2, 4, 4, 3, 3), **attrs)           # 2 * (8*6*6) * (4*9)
        c = op("ConvolutionBackpropData", b, randn(8, 3, 3, 3), **attrs, output_padding=[0, 0])  # 2 * 288 * 27
        return op("MatMul", op("Reshape", c, np.array([1, -1], np.int64), special_zero=False), randn(108, 5))
    model = graph(build, x)
    want = 2 * 288 * 36 + 2 * 288 * 36 + 2 * 288 * 27 + 2 * 5 * 108
    assert heavy_flops(specialize(model, None)) == want
