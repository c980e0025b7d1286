"""The runtimes `irforge benchmark` measures (bench_measure.Engine): irforge itself, and for `--compare`
ONNX Runtime (on the .onnx file) and OpenVINO (on the same IR), in this process, with the same inputs, thread
count, streams, hint and number of requests."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from irforge.runtime.async_queue import AsyncInferQueue
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.device import PerfCount

PEERS = {"onnxruntime": "onnxruntime", "ort": "onnxruntime", "openvino": "openvino", "ov": "openvino"}


class IRForgeEngine:
    """An irforge compiled model: `nireq` requests with the inputs set once (benchmark_app's way); sync with one
    request, an AsyncInferQueue with several. Keeps each measured inference's perf counts when profiling."""

    def __init__(self, compiled: CompiledModel, inputs: Sequence[np.ndarray], nireq: int) -> None:
        self.label = f"irforge {compiled.device}"
        self.nireq = nireq
        self.compiled = compiled
        self.profiles: list[list[PerfCount]] = []
        self._profiling = bool(compiled.get_property("PERF_COUNT"))
        self._recording = False
        self.request = compiled.create_infer_request()
        self.request.set_input_tensors(list(inputs))
        self.queue: AsyncInferQueue | None = None
        if nireq > 1:
            self.queue = AsyncInferQueue(compiled, nireq)
            for request in self.queue:
                request.set_input_tensors(list(inputs))
            self.queue.set_callback(self._done)

    def _done(self, request: Any, done: Callable[[float], None]) -> None:
        if self._recording and self._profiling:
            self.profiles.append(request.get_profiling_info())
        done(request.latency / 1000.0)

    def infer(self) -> None:
        self.request.infer()
        if self._recording and self._profiling:
            self.profiles.append(self.request.get_profiling_info())

    def start(self, done: Callable[[float], None]) -> None:
        assert self.queue is not None
        self.queue.start_async(None, done)

    def wait_all(self) -> None:
        if self.queue is not None:
            self.queue.wait_all()

    def begin(self) -> None:
        self.profiles.clear()
        self._recording = True

    def outputs(self) -> list[np.ndarray]:
        self._recording = False
        return [np.array(v) for v in self.request.infer().values_list()]


class OpenVINOEngine:
    """OpenVINO's CPU plugin reading the IR file irforge benchmarks."""

    def __init__(self, xml_path: str, inputs: Sequence[np.ndarray], config: dict[str, Any], nireq: int) -> None:
        import openvino as ov

        self.label = "openvino"
        self.nireq = nireq
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(xml_path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self._set(self.request, inputs)
        self.queue = None
        if nireq > 1:
            self.queue = ov.AsyncInferQueue(self.compiled, nireq)
            for request in self.queue:
                self._set(request, inputs)
            self.queue.set_callback(lambda request, done: done(request.latency / 1000.0))

    @staticmethod
    def _set(request: Any, inputs: Sequence[np.ndarray]) -> None:
        import openvino as ov

        for i, arr in enumerate(inputs):
            request.set_input_tensor(i, ov.Tensor(np.ascontiguousarray(arr)))

    def infer(self) -> None:
        self.request.infer()

    def start(self, done: Callable[[float], None]) -> None:
        self.queue.start_async(userdata=done)

    def wait_all(self) -> None:
        if self.queue is not None:
            self.queue.wait_all()

    def begin(self) -> None:
        pass

    def outputs(self) -> list[np.ndarray]:
        self.request.infer()
        return [np.array(self.request.get_output_tensor(i).data) for i in range(len(self.compiled.outputs))]

    def properties(self) -> dict[str, Any]:
        return {k: str(self.compiled.get_property(k)) for k in
                ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT")}


class OnnxRuntimeEngine:
    """ONNX Runtime's CPU provider on the .onnx file. Streams are emulated as OpenVINO runs them: one session per
    stream with its share of the threads (intra_op_num_threads), `nireq` concurrent callers."""

    def __init__(self, onnx_model: str | bytes, input_names: Sequence[str], inputs: Sequence[np.ndarray],
                 output_names: Sequence[str], threads: int, streams: int, nireq: int) -> None:
        import onnxruntime as ort

        self.label = "onnxruntime"
        self.nireq = nireq
        share = max(1, threads // max(1, streams))

        def session(n_threads: int) -> Any:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = n_threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            return ort.InferenceSession(onnx_model, opts, providers=["CPUExecutionProvider"])

        self.sessions = [session(share if nireq > 1 else threads) for _ in range(streams if nireq > 1 else 1)]
        ort_inputs = [i.name for i in self.sessions[0].get_inputs()]
        names = [n if n in ort_inputs else ort_inputs[k] for k, n in enumerate(input_names)]
        self.feeds = dict(zip(names, inputs))
        ort_outputs = [o.name for o in self.sessions[0].get_outputs()]
        self._order = [ort_outputs.index(n) if n in ort_outputs else k for k, n in enumerate(output_names)]
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for s in self.sessions:
            self._free.put(s)
        self._slots = threading.Semaphore(nireq)
        self._pool = ThreadPoolExecutor(nireq, thread_name_prefix="ort-bench") if nireq > 1 else None
        self._errors: list[BaseException] = []

    def infer(self) -> None:
        self.sessions[0].run(None, self.feeds)

    def start(self, done: Callable[[float], None]) -> None:
        assert self._pool is not None
        self._slots.acquire()
        self._pool.submit(self._job, time.perf_counter(), done)

    def _job(self, started: float, done: Callable[[float], None]) -> None:
        try:
            session = self._free.get()
            try:
                session.run(None, self.feeds)
            finally:
                self._free.put(session)
            done(time.perf_counter() - started)
        except BaseException as e:
            self._errors.append(e)
        finally:
            self._slots.release()

    def wait_all(self) -> None:
        for _ in range(self.nireq):
            self._slots.acquire()
        for _ in range(self.nireq):
            self._slots.release()
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error

    def begin(self) -> None:
        pass

    def outputs(self) -> list[np.ndarray]:
        outs = self.sessions[0].run(None, self.feeds)
        return [np.asarray(outs[k]) for k in self._order]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def onnx_with_input_shapes(path: str, shapes: dict[str, tuple[int, ...]]) -> tuple[str | bytes, list[str]]:
    """The ONNX model for ONNX Runtime: the file itself when its inputs accept `shapes`, else a copy whose inputs
    have those static dims (intermediate shape annotations dropped, output dims left to ORT). Returns the model
    and the inputs changed."""
    import onnx

    proto = onnx.load(path)
    initializers = {t.name for t in proto.graph.initializer}
    changed = []
    for inp in proto.graph.input:
        if inp.name in initializers or inp.name not in shapes:
            continue
        dims = inp.type.tensor_type.shape.dim
        want = shapes[inp.name]
        fits = len(dims) == len(want) and all(not d.HasField("dim_value") or d.dim_value == w
                                             for d, w in zip(dims, want))
        if not fits:
            changed.append(inp.name)
            inp.type.tensor_type.shape.ClearField("dim")
            for w in want:
                inp.type.tensor_type.shape.dim.add().dim_value = int(w)
    if not changed:
        return path, []
    del proto.graph.value_info[:]
    for out in proto.graph.output:
        out.type.tensor_type.ClearField("shape")
    return proto.SerializeToString(), changed
