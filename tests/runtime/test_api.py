"""The runtime API (Core, CompiledModel, InferRequest, AsyncInferQueue) on every device that exists (REF, and CPU
as soon as irforge.runtime.devices.cpu imports), checked against ONNX Runtime on a small converted ONNX model;
streams, threads and error paths on a fake device that records what the runtime asks of it."""
from __future__ import annotations

import gc
import inspect
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import irforge
from irforge.errors import InferenceError, OptionError
from irforge.ir.graph import Model
from irforge.runtime import AsyncInferQueue, PerfCount
from irforge.runtime import host
from irforge.runtime.properties import plan_streams, parse_config, throughput_streams
from irforge.runtime.registry import register_device, unregister_device
from tests.util import in_threads, run_ort


DEVICES = ["REF", "CPU"]
RNG = np.random.default_rng(7)


def _onnx_model(batch: str | int = "N") -> onnx.ModelProto:
    """x[N,3,8,8] -> Conv(3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> + v = feat[N,4];
    v[N,4] @ M = proj[N,5]."""
    w = h.make_tensor("w", T.FLOAT, [4, 3, 3, 3], RNG.standard_normal(108).astype(np.float32).tolist())
    b = h.make_tensor("b", T.FLOAT, [4], RNG.standard_normal(4).astype(np.float32).tolist())
    m = h.make_tensor("m", T.FLOAT, [4, 5], RNG.standard_normal(20).astype(np.float32).tolist())
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             h.make_node("Relu", ["c"], ["r"], name="relu"),
             h.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             h.make_node("Flatten", ["g"], ["f"], name="flatten"),
             h.make_node("Add", ["f", "v"], ["feat"], name="add"),
             h.make_node("MatMul", ["v", "m"], ["proj"], name="matmul")]
    graph = h.make_graph(nodes, "small", [h.make_tensor_value_info("x", T.FLOAT, [batch, 3, 8, 8]),
                                          h.make_tensor_value_info("v", T.FLOAT, [batch, 4])],
                         [h.make_tensor_value_info("feat", T.FLOAT, [batch, 4]),
                          h.make_tensor_value_info("proj", T.FLOAT, [batch, 5])], [w, b, m])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def source() -> onnx.ModelProto:
    return _onnx_model()


@pytest.fixture(scope="module")
def model(source: onnx.ModelProto) -> Model:
    """Batch 2, static."""
    return irforge.convert_model(source, input_shape="x[2,3,8,8],v[2,4]")


def _feeds(n: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, 3, 8, 8)).astype(np.float32),
            "v": rng.standard_normal((n, 4)).astype(np.float32)}


def _compile(model: Model, device: str, config: Mapping[str, Any] | None = None) -> irforge.CompiledModel:
    """f32 inference on every device (CPU would pick bf16 on hosts with native bf16), so ORT's outputs apply."""
    return irforge.Core().compile_model(model, device, {"INFERENCE_PRECISION_HINT": "f32", **(config or {})})


def _close(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- devices and results

def test_available_devices_and_default() -> None:
    core = irforge.Core()
    assert "REF" in core.available_devices
    assert core.available_devices == ["CPU", "REF"]
    assert inspect.signature(core.compile_model).parameters["device_name"].default is None  # OpenVINO's: AUTO
    assert core.compile_model(Model([], [])).get_property("EXECUTION_DEVICES") == ["CPU"]
    assert isinstance(core.get_property("REF", "FULL_DEVICE_NAME"), str)
    assert core.get_property("REF", "INFERENCE_PRECISION_HINT") == "f32"
    with pytest.raises(OptionError, match=r"unknown device 'GPU' \(available: .*REF"):
        core.compile_model(Model([], []), "GPU")


@pytest.mark.parametrize("device", DEVICES)
def test_results_by_name_index_and_output(device: str, source: onnx.ModelProto, model: Model) -> None:
    compiled = _compile(model, device)
    feeds = _feeds()
    want = run_ort(source, feeds)
    res = compiled(feeds)
    _close([res["feat"], res["proj"]], want)
    assert res[0] is res["feat"] and res[1] is res["proj"]
    assert res[compiled.output(1)] is res["proj"] and res[compiled.outputs[0]] is res["feat"]
    assert list(res) == compiled.outputs and len(res) == 2  # keyed by port, as OpenVINO's OVDict
    assert res.names() == ({"feat"}, {"proj"}) and list(res.by_name()) == ["feat", "proj"]
    assert res.to_tuple() == (res[0], res[1]) and list(res.to_dict()) == compiled.outputs
    with pytest.raises(KeyError, match="no output 'nope'"):
        res["nope"]
    # positional, Output-keyed and single-array forms
    _close(compiled([feeds["x"], feeds["v"]]).values_list(), want)
    _close(compiled({compiled.input(1): feeds["v"], 0: feeds["x"]}).values_list(), want)


@pytest.mark.parametrize("device", DEVICES)
def test_infer_request_reuse_and_tensors(device: str, source: onnx.ModelProto, model: Model) -> None:
    compiled = _compile(model, device)
    request = compiled.create_infer_request()
    with pytest.raises(InferenceError, match="not completed an inference"):
        request.results
    with pytest.raises(InferenceError, match="missing input.*x, v"):
        request.infer()
    first, second = _feeds(seed=1), _feeds(seed=2)
    r1 = request.infer(first)
    kept = r1["feat"].copy()
    r2 = request.infer(second)
    _close(r2.values_list(), run_ort(source, second))
    np.testing.assert_array_equal(r1["feat"], kept)  # outputs belong to the caller: a later run leaves them alone
    assert request.results["proj"] is request.get_output_tensor(1).data is request.get_tensor("proj").data
    assert request.get_tensor("x").data is request.get_input_tensor(0).data
    np.testing.assert_array_equal(request.get_input_tensor(1).data, second["v"])
    assert request.get_output_tensor(1).shape == list(request.results["proj"].shape)
    # tensors set once, inference without inputs; in-place filling of a request's input array
    request.set_tensor("x", first["x"])
    request.set_input_tensor(1, first["v"])
    _close(request.infer().values_list(), run_ort(source, first))
    fresh = compiled.create_infer_request()
    fresh.get_input_tensor(0).data[...] = second["x"]
    fresh.get_tensor("v").data[...] = second["v"]
    _close(fresh.infer().values_list(), run_ort(source, second))
    with pytest.raises(InferenceError, match="set_output_tensor: expected an irforge.Tensor for output 'feat'"):
        request.set_tensor("feat", first["v"])
    with pytest.raises(InferenceError, match="no input or output 'zzz'"):
        request.get_tensor("zzz")


@pytest.mark.parametrize("device", DEVICES)
def test_start_async_wait_and_callback(device: str, source: onnx.ModelProto, model: Model) -> None:
    compiled = _compile(model, device)
    request = compiled.create_infer_request()
    seen: list[Any] = []
    request.set_callback(lambda userdata: seen.append((userdata, threading.current_thread().name)), "cb-data")
    feeds = _feeds(seed=3)
    request.start_async(feeds)
    for arr in feeds.values():
        arr[...] = 0  # start_async copied the inputs
    request.wait()
    _close(request.results.values_list(), run_ort(source, _feeds(seed=3)))
    assert seen == [("cb-data", "irforge-stream-0")]
    assert request.latency > 0
    request.start_async(_feeds(seed=4), userdata="second")
    assert request.wait_for(60_000)
    assert seen[-1][0] == "second"
    _close(request.results.values_list(), run_ort(source, _feeds(seed=4)))


@pytest.mark.parametrize("device", DEVICES)
def test_async_queue_gives_the_sequential_outputs(device: str, model: Model) -> None:
    """40 jobs through 3 requests on 2 streams x 1 thread give, bit for bit, what the same compiled model gives
    running them one after the other (and, within rounding, what a 1-thread LATENCY compilation gives)."""
    parallel = _compile(model, device, {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 2,
                                        "INFERENCE_NUM_THREADS": 2})
    assert parallel.get_property("STREAM_THREADS") == [1, 1]
    jobs = [_feeds(seed=100 + i) for i in range(40)]
    request = parallel.create_infer_request()
    want = [[np.array(v) for v in request.infer(f).values_list()] for f in jobs]
    single = _compile(model, device, {"INFERENCE_NUM_THREADS": 1})
    for f, w in zip(jobs, want):
        _close(w, single(f).values_list())
    queue = AsyncInferQueue(parallel, 3)
    assert len(queue) == 3 and len(list(queue)) == 3 and queue[2] is list(queue)[2]
    got: dict[int, list[np.ndarray]] = {}
    lock = threading.Lock()

    def done(request: Any, userdata: int) -> None:
        with lock:
            got[userdata] = [np.array(v) for v in request.results.values_list()]

    queue.set_callback(done)
    for i, f in enumerate(jobs):
        queue.start_async(f, i)
    queue.wait_all()
    assert queue.is_ready() and sorted(got) == list(range(40))
    assert queue.userdata[0] in range(40)
    for i in range(40):
        for g, w in zip(got[i], want[i]):
            np.testing.assert_array_equal(g, w, err_msg=f"job {i}")


@pytest.mark.parametrize("device", DEVICES)
def test_profiling_info(device: str, model: Model) -> None:
    core = irforge.Core()
    plain = _compile(model, device).create_infer_request()
    plain.infer(_feeds())
    assert plain.get_profiling_info() == []
    request = _compile(model, device, {"PERF_COUNT": True}).create_infer_request()
    request.infer(_feeds())
    info = request.get_profiling_info()
    assert info and all(isinstance(p, PerfCount) and p.seconds >= 0 for p in info)
    assert {"Parameter", "Result", "Constant"}.isdisjoint(p.node_type for p in info) or device != "REF"
    assert any(p.node_type in ("Convolution", "MatMul") or "conv" in p.exec_type.lower() for p in info)


# ---------------------------------------------------------------- input checking and dynamic shapes

@pytest.mark.parametrize("feeds, message", [
    ({"x": np.zeros((2, 3, 8, 8), np.float32)}, "missing input(s): v (f32[2,4])"),
    ({"x": np.zeros((2, 3, 8, 8), np.float32), "v": np.zeros((2, 4), np.float32), "w": 1},
     "unknown input 'w' (the model's inputs: x, v)"),
    ({"x": np.zeros((2, 3, 8, 8), np.float64), "v": np.zeros((2, 4), np.float32)},
     "input 'x' expects f32[2,3,8,8], got f64[2,3,8,8] (element type f64 instead of f32)"),
    ({"x": np.zeros((3, 8, 8), np.float32), "v": np.zeros((2, 4), np.float32)},
     "input 'x' expects f32[2,3,8,8], got f32[3,8,8] (rank 3 instead of 4)"),
    ({"x": np.zeros((2, 3, 8, 8), np.float32), "v": np.zeros((2, 5), np.float32)},
     "input 'v' expects f32[2,4], got f32[2,5] (dim 1 is 5 instead of 4)"),
    ([np.zeros((2, 3, 8, 8), np.float32)], "the model takes 2 input(s): 'x' (f32[2,3,8,8]), 'v' (f32[2,4]); got 1"),
])
def test_input_errors_name_input_expected_and_given(model: Model, feeds: Any, message: str) -> None:
    compiled = irforge.Core().compile_model(model, "REF")
    with pytest.raises(InferenceError) as e:
        compiled(feeds)
    assert str(e.value) == message
    with pytest.raises(InferenceError):
        compiled.create_infer_request().start_async(feeds)


@pytest.mark.parametrize("device", DEVICES)
def test_dynamic_shapes_within_and_outside_ranges(device: str, source: onnx.ModelProto) -> None:
    ranged = irforge.convert_model(source, input_shape="x[1..4,3,8,8],v[1..4,4]")
    assert str(ranged.inputs[0].shape) == "1..4,3,8,8"
    compiled = _compile(ranged, device)
    request = compiled.create_infer_request()
    for n in (1, 3, 4, 2):
        feeds = _feeds(n, seed=n)
        _close(request.infer(feeds).values_list(), run_ort(source, feeds))
    with pytest.raises(InferenceError, match=r"input 'x' expects f32\[1\.\.4,3,8,8\], got f32\[5,3,8,8\] "
                                             r"\(dim 0 is 5 outside 1\.\.4\)"):
        compiled(_feeds(5))
    unbounded = _compile(irforge.convert_model(source), device)
    feeds = _feeds(6, seed=6)
    _close(unbounded(feeds).values_list(), run_ort(source, feeds))


# ---------------------------------------------------------------- configuration and properties

def test_get_property_latency_and_throughput(model: Model) -> None:
    core = irforge.Core()
    cores = host.physical_cores()
    latency = core.compile_model(model, "REF")
    assert latency.get_property("PERFORMANCE_HINT") == "LATENCY"
    assert latency.get_property("NUM_STREAMS") == 1
    assert latency.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS") == 1
    assert latency.get_property("INFERENCE_NUM_THREADS") == cores
    assert latency.get_property("INFERENCE_PRECISION_HINT") == "f32"
    assert latency.get_property("PERF_COUNT") is False
    assert latency.get_property("EXECUTION_DEVICES") == ["REF"]
    assert "NUM_STREAMS" in latency.get_property("SUPPORTED_PROPERTIES")
    tput = core.compile_model(model, "REF", {"PERFORMANCE_HINT": "throughput"})
    assert tput.get_property("PERFORMANCE_HINT") == "THROUGHPUT"
    assert tput.get_property("NUM_STREAMS") == throughput_streams(cores, cores)
    assert tput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS") == tput.get_property("NUM_STREAMS")
    assert sum(tput.get_property("STREAM_THREADS")) <= max(cores, tput.get_property("NUM_STREAMS"))
    assert len(AsyncInferQueue(tput)) == tput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    explicit = core.compile_model(model, "REF", {"NUM_STREAMS": "3", "INFERENCE_NUM_THREADS": 7})
    assert explicit.get_property("NUM_STREAMS") == 3 and explicit.get_property("STREAM_THREADS") == [2, 2, 2]
    with pytest.raises(OptionError, match="get_property: unknown property 'NUM_STREAM'"):
        latency.get_property("NUM_STREAM")
    core.set_property("REF", {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 2})
    assert core.get_property("REF", "NUM_STREAMS") == 2
    assert core.compile_model(model, "REF").get_property("NUM_STREAMS") == 2
    assert core.compile_model(model, "REF", {"NUM_STREAMS": 1}).get_property("NUM_STREAMS") == 1


@pytest.mark.parametrize("threads, streams", [(1, 1), (2, 2), (3, 3), (4, 2), (6, 2), (8, 4), (12, 3), (16, 4),
                                              (32, 8)])
def test_throughput_streams_follow_openvino_formula(threads: int, streams: int) -> None:
    assert throughput_streams(threads, threads) == streams


def test_throughput_default_matches_openvino_on_this_machine(model: Model, tmp_path: Any) -> None:
    """OpenVINO's CPU plugin, THROUGHPUT hint, same IR: the same number of streams on this host (OpenVINO also
    weighs the model's memory-bandwidth pressure, which irforge does not; the tiny model here is compute bound)."""
    ov = pytest.importorskip("openvino")
    if host.physical_cores() > 4:
        pytest.skip("OpenVINO's bandwidth heuristic may differ from the plain formula on bigger hosts")
    irforge.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    compiled = ov.Core().compile_model(str(tmp_path / "m.xml"), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    mine = irforge.Core().compile_model(model, "REF", {"PERFORMANCE_HINT": "THROUGHPUT"})
    assert mine.get_property("NUM_STREAMS") == int(compiled.get_property("NUM_STREAMS"))
    assert mine.get_property("INFERENCE_NUM_THREADS") == int(compiled.get_property("INFERENCE_NUM_THREADS"))


@pytest.mark.parametrize("config, message", [
    ({"PERFORMANCE_HINT": "FAST"}, "config PERFORMANCE_HINT: expected LATENCY or THROUGHPUT, got 'FAST'"),
    ({"NUM_STREAMS": 0}, "config NUM_STREAMS: expected a positive integer or AUTO, got 0"),
    ({"NUM_STREAMS": "two"}, "config NUM_STREAMS: expected a positive integer or AUTO, got 'two'"),
    ({"NUM_STREAMS": True}, "config NUM_STREAMS: expected a positive integer or AUTO, got True"),
    ({"INFERENCE_NUM_THREADS": -1}, "config INFERENCE_NUM_THREADS: expected a non-negative integer"),
    ({"INFERENCE_PRECISION_HINT": "f8"}, "config INFERENCE_PRECISION_HINT: expected f32 or bf16, got 'f8'"),
    ({"PERF_COUNT": "maybe"}, "config PERF_COUNT: expected True/False (or YES/NO), got 'maybe'"),
    ({"NUM_STREAMZ": 2}, "config: unknown key 'NUM_STREAMZ' (accepted: PERFORMANCE_HINT, "
                         "INFERENCE_PRECISION_HINT, NUM_STREAMS, INFERENCE_NUM_THREADS, PERF_COUNT, CACHE_DIR); "
                         "did you mean NUM_STREAMS?"),
    ({"CACHE_DIR": 3}, "config CACHE_DIR: expected a directory path (empty: no cache), got 3"),
])
def test_config_errors_name_key_and_accepted_values(model: Model, config: Mapping[str, Any], message: str) -> None:
    with pytest.raises(OptionError) as e:
        irforge.Core().compile_model(model, "REF", config)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_config_values_accepted() -> None:
    cfg, given = parse_config({"PERFORMANCE_HINT": "throughput", "INFERENCE_PRECISION_HINT": "BF16",
                               "NUM_STREAMS": "AUTO", "INFERENCE_NUM_THREADS": np.int64(3), "PERF_COUNT": "YES"})
    assert (cfg.hint, cfg.precision, cfg.num_streams, cfg.num_threads, cfg.perf_count) == \
        ("THROUGHPUT", "bf16", None, 3, True)
    assert len(given) == 5
    assert parse_config({"INFERENCE_PRECISION_HINT": np.float32})[0].precision == "f32"
    assert parse_config({"INFERENCE_NUM_THREADS": 0})[0].num_threads is None  # 0: all cores
    assert plan_streams(parse_config({"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 5})[0], 2).shares == (5,)


def test_ref_rejects_bf16(model: Model) -> None:
    with pytest.raises(OptionError, match=r"REF device computes in the model's own element types \(accepted: f32\)"):
        irforge.Core().compile_model(model, "REF", {"INFERENCE_PRECISION_HINT": "bf16"})


# ---------------------------------------------------------------- streams on a fake device

class _FakeRunner:
    def __init__(self, owner: "_FakeExecutable", threads: int | None, profile: bool) -> None:
        self.owner, self.threads, self.profile = owner, threads, profile
        self.run_threads: set[str] = set()

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.run_threads.add(threading.current_thread().name)
        time.sleep(self.owner.delay)  # a kernel that releases the GIL
        if self.owner.fail:
            raise RuntimeError("kernel exploded")
        return [np.asarray(inputs[0]) * 2 + self.threads]

    def perf_counts(self) -> list[PerfCount]:
        return [PerfCount("double", "Multiply", "fake", 0.001)] if self.profile else []


class _FakeExecutable:
    delay = 0.02
    fail = False

    def __init__(self, model: Model, config: Mapping[str, str]) -> None:
        self.config = dict(config)
        self.runners: list[_FakeRunner] = []
        self.properties = {"INFERENCE_PRECISION_HINT": "f32", "FAKE_KNOB": "on"}
        _FakeExecutable.last = self  # type: ignore[attr-defined]

    def create_runner(self, profile: bool = False, threads: int | None = None) -> _FakeRunner:
        runner = _FakeRunner(self, threads, profile)
        self.runners.append(runner)
        return runner


@pytest.fixture
def fake() -> Iterator[type[_FakeExecutable]]:
    register_device("FAKE", _FakeExecutable, full_name="fake device")
    _FakeExecutable.fail = False
    yield _FakeExecutable
    unregister_device("FAKE")


def _one_input_model() -> Model:
    from irforge.ir.graph import make, parameter, result
    from irforge.ir.types import Type

    p = parameter(Type.f32, [2], "a")
    return Model([result(make("Relu", [p.output(0)]).output(0))], [p])


def test_throughput_streams_each_own_a_runner_and_thread(fake: type[_FakeExecutable]) -> None:
    core = irforge.Core()
    assert "FAKE" in core.available_devices and core.get_property("FAKE", "FULL_DEVICE_NAME") == "fake device"
    compiled = core.compile_model(_one_input_model(), "fake", {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 3,
                                                               "INFERENCE_NUM_THREADS": 7})
    exe = fake.last  # type: ignore[attr-defined]
    assert exe.config == {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": "3", "INFERENCE_NUM_THREADS": "7"}
    assert [r.threads for r in exe.runners] == [2, 2, 2]
    assert compiled.get_property("FAKE_KNOB") == "on"  # device properties are merged in
    queue = AsyncInferQueue(compiled)
    assert len(queue) == 3
    outputs: dict[int, np.ndarray] = {}
    queue.set_callback(lambda request, i: outputs.__setitem__(i, request.results[0].copy()))
    for i in range(12):
        queue.start_async([np.float32([i, -i])], i)
    queue.wait_all()
    assert sorted(outputs) == list(range(12))
    for i, out in outputs.items():  # each job ran on one of the runners: 2 * input + that runner's threads
        np.testing.assert_array_equal(out, np.float32([2 * i + 2, -2 * i + 2]), err_msg=f"job {i}")
    names = [r.run_threads for r in exe.runners]
    assert all(len(n) == 1 for n in names), names  # a runner only ever runs in its own stream thread
    assert set().union(*names) == {"irforge-stream-0", "irforge-stream-1", "irforge-stream-2"}


def test_sync_infer_runs_in_the_callers_thread(fake: type[_FakeExecutable]) -> None:
    compiled = irforge.Core().compile_model(_one_input_model(), "FAKE", {"INFERENCE_NUM_THREADS": 4})
    exe = fake.last  # type: ignore[attr-defined]
    np.testing.assert_array_equal(compiled(np.float32([1, 2]))[0], np.float32([6, 8]))
    assert exe.runners[0].threads == 4 and exe.runners[0].run_threads == {threading.current_thread().name}


def test_async_errors_reach_wait_and_wait_all(fake: type[_FakeExecutable]) -> None:
    compiled = irforge.Core().compile_model(_one_input_model(), "FAKE", {"PERF_COUNT": "YES"})
    request = compiled.create_infer_request()
    request.infer([np.float32([1, 1])])
    assert [p.node_name for p in request.get_profiling_info()] == ["double"]
    fake.fail = True
    request.start_async([np.float32([1, 1])])
    with pytest.raises(InferenceError, match="busy"):
        request.start_async([np.float32([1, 1])])
    with pytest.raises(RuntimeError, match="kernel exploded"):
        request.wait()
    request.wait()  # the error is reported once
    queue = AsyncInferQueue(compiled, 2)
    for i in range(4):
        queue.start_async([np.float32([i, i])], i)
    with pytest.raises(RuntimeError, match="kernel exploded"):
        queue.wait_all()
    fake.fail = False
    calls: list[int] = []

    def bad_callback(request: Any, userdata: int) -> None:
        calls.append(userdata)
        raise ValueError(f"callback {userdata} failed")

    queue.set_callback(bad_callback)
    queue.start_async([np.float32([0, 0])], 7)
    with pytest.raises(ValueError, match="callback 7 failed"):
        queue.wait_all()
    assert calls == [7] and queue.is_ready()


def test_stream_threads_end_with_the_compiled_model(fake: type[_FakeExecutable]) -> None:
    fake.delay = 0.0
    try:
        compiled = irforge.Core().compile_model(_one_input_model(), "FAKE", {"NUM_STREAMS": 2})
        request = compiled.create_infer_request()
        request.start_async([np.float32([1, 1])])
        request.wait()
        ours = [t for t in threading.enumerate() if t.name.startswith("irforge-stream")]
        assert ours
        del compiled, request
        gc.collect()
        for t in ours:
            t.join(timeout=5)
        assert not any(t.is_alive() for t in ours)
    finally:
        fake.delay = 0.02


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_model_call_from_many_threads(device: str, source: onnx.ModelProto, model: Model) -> None:
    compiled = _compile(model, device, {"PERFORMANCE_HINT": "THROUGHPUT"})
    jobs = [_feeds(seed=200 + i) for i in range(16)]
    got: dict[int, list[np.ndarray]] = {}

    def work(i: int) -> None:
        got[i] = compiled(jobs[i]).values_list()

    in_threads(work, len(jobs))
    for i, f in enumerate(jobs):
        _close(got[i], run_ort(source, f))
