"""InferRequest: one inference's inputs, outputs, profiling and state, run synchronously (`infer`) or on the
compiled model's streams (`start_async` + `wait`), as in OpenVINO's API. Tensors are NumPy arrays."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from irforge.errors import InferenceError
from irforge.ir.graph import Output
from irforge.runtime.device import PerfCount
from irforge.runtime.inputs import check_input, input_index, output_index, prepare_inputs
from irforge.runtime.results import InferResult
from irforge.runtime.streams import Stream

if TYPE_CHECKING:
    from irforge.runtime.compiled_model import CompiledModel


class InferRequest:
    """Created by `CompiledModel.create_infer_request()`. Not meant to be shared between threads; create one
    request per concurrent inference (or use AsyncInferQueue)."""

    def __init__(self, compiled: "CompiledModel") -> None:
        self._compiled = compiled
        self._model = compiled.model
        self._params = compiled._params
        self._outs = compiled._outs
        self._inputs: list[np.ndarray | None] = [None] * len(self._params)
        self._outputs: list[np.ndarray] | None = None
        self._perf: list[PerfCount] = []
        self._error: BaseException | None = None
        self._busy = False
        self._done = threading.Event()
        self._done.set()
        self._callback: Callable[[Any], None] | None = None
        self._released: Callable[["InferRequest"], None] | None = None  # AsyncInferQueue's "idle again" hook
        self._userdata: Any = None
        self._started = 0.0
        self._latency_s = 0.0
        self._stream = -1

    # ---- model facts
    @property
    def compiled_model(self) -> "CompiledModel":
        return self._compiled

    @property
    def model_inputs(self) -> list[Output]:
        return list(self._params)

    @property
    def model_outputs(self) -> list[Output]:
        return list(self._outs)

    # ---- running
    def infer(self, inputs: Any = None) -> InferResult:
        """Run one inference now (in this thread, on an idle stream) and return its results. `inputs` as for
        `CompiledModel.__call__`; None reuses the tensors already set on this request."""
        self._check_idle()
        if inputs is not None:
            self._inputs = list(prepare_inputs(self._params, inputs))
        arrays = self._ready_inputs()
        self._busy = True
        try:
            self._started = time.perf_counter()
            self._compiled._executor.run_here(lambda stream: self._execute(stream, arrays))
        finally:
            self._busy = False
        return self.results

    def start_async(self, inputs: Any = None, userdata: Any = None, share_inputs: bool = False) -> None:
        """Queue one inference on the compiled model's streams and return at once; `wait()` for it. The inputs
        are copied unless `share_inputs` (then they must stay unchanged until the inference ends). `userdata`
        (when not None) is what the callback receives."""
        self._check_idle()
        if inputs is not None:
            arrays = prepare_inputs(self._params, inputs)
            self._inputs = list(arrays if share_inputs else [a.copy() for a in arrays])
        ready = self._ready_inputs()
        if userdata is not None:
            self._userdata = userdata
        self._error = None
        self._busy = True
        self._done.clear()
        self._started = time.perf_counter()
        try:
            self._compiled._executor.submit(lambda stream: self._async_job(stream, ready))
        except BaseException:
            self._busy = False
            self._done.set()
            raise

    def wait(self) -> None:
        """Block until the async inference (and its callback) finished; re-raise its error, if any."""
        self._done.wait()
        self._raise_error()

    def wait_for(self, timeout_ms: int) -> bool:
        """Wait at most `timeout_ms` milliseconds; True when the request is idle (re-raises its error)."""
        if not self._done.wait(max(0, timeout_ms) / 1000.0):
            return False
        self._raise_error()
        return True

    def set_callback(self, callback: Callable[[Any], None] | None, userdata: Any = None) -> None:
        """`callback(userdata)` runs in the stream's thread after each successful async inference."""
        self._callback = callback
        self._userdata = userdata

    @property
    def userdata(self) -> Any:
        return self._userdata

    # ---- tensors
    def get_tensor(self, key: str | int | Output) -> np.ndarray:
        """The array of an input (allocated with zeros when static and not yet set, so it can be filled in place)
        or of an output of the last inference. `key`: a tensor name or an Output (inputs are searched first)."""
        kind, index = self._port(key)
        return self.get_input_tensor(index) if kind == "input" else self.get_output_tensor(index)

    def get_input_tensor(self, index: int = 0) -> np.ndarray:
        i = input_index(self._params, index)
        param, value = self._params[i], self._inputs[i]
        if value is None:
            if param.element_type.dtype is None:
                raise InferenceError(f"input '{param.name}' has no tensor yet (element type {param.element_type})")
            dims = [d.min if d.is_static else 0 for d in param.shape.dims] if param.shape.rank_is_static else [0]
            value = self._inputs[i] = np.zeros(dims, param.element_type.dtype)
        return value

    def get_output_tensor(self, index: int = 0) -> np.ndarray:
        i = output_index(self._outs, self._compiled.output_names, index)
        return self._last_outputs()[i]

    def set_tensor(self, key: str | int | Output, value: Any) -> None:
        """Set an input's array (checked: element type and shape within the input's range)."""
        kind, index = self._port(key)
        if kind == "output":
            raise InferenceError(f"'{self._compiled.output_names[index]}' is an output; outputs are produced by "
                                 "the inference, set_tensor takes inputs")
        self.set_input_tensor(index, value)

    def set_input_tensor(self, index: int | Any = 0, value: Any = None) -> None:
        """`set_input_tensor(i, array)`, or `set_input_tensor(array)` for a one-input model."""
        if value is None and not isinstance(index, (int, np.integer)):
            index, value = 0, index
        self._check_idle()
        i = input_index(self._params, index)
        self._inputs[i] = check_input(self._params[i], value)

    def set_input_tensors(self, inputs: Any) -> None:
        """Set every input at once (a mapping or a sequence, as for `infer`)."""
        self._check_idle()
        self._inputs = list(prepare_inputs(self._params, inputs))

    @property
    def input_tensors(self) -> list[np.ndarray]:
        return [self.get_input_tensor(i) for i in range(len(self._inputs))]

    @property
    def output_tensors(self) -> list[np.ndarray]:
        return list(self._last_outputs())

    @property
    def results(self) -> InferResult:
        """The outputs of the last inference, by output name, index or Output."""
        return InferResult(self._outs, self._compiled.output_names, self._last_outputs())

    # ---- measurements
    @property
    def latency(self) -> float:
        """Milliseconds the last inference took, from `infer`/`start_async` to its completion."""
        return self._latency_s * 1000.0

    def get_profiling_info(self) -> list[PerfCount]:
        """Per-step timings of the last inference (compile with config PERF_COUNT=True; empty otherwise)."""
        return list(self._perf)

    @property
    def profiling_info(self) -> list[PerfCount]:
        return self.get_profiling_info()

    # ---- internals
    def _port(self, key: object) -> tuple[str, int]:
        try:
            return "input", input_index(self._params, key)
        except InferenceError:
            pass
        try:
            return "output", output_index(self._outs, self._compiled.output_names, key)
        except InferenceError:
            pass
        shown = key.name if isinstance(key, Output) else key
        names = [p.name for p in self._params] + list(self._compiled.output_names)
        raise InferenceError(f"no input or output {shown!r} (the model's tensors: {', '.join(names)})")

    def _check_idle(self) -> None:
        if self._busy:
            raise InferenceError("the infer request is busy with another inference (wait() for an async one; use one "
                                 "request per thread)")

    def _ready_inputs(self) -> list[np.ndarray]:
        missing = [p.name for p, v in zip(self._params, self._inputs) if v is None]
        if missing:
            raise InferenceError(f"missing input(s): {', '.join(missing)} (pass them to infer/start_async or "
                                 "set_tensor)")
        return list(self._inputs)  # type: ignore[arg-type]

    def _last_outputs(self) -> list[np.ndarray]:
        if self._outputs is None:
            raise InferenceError("this infer request has not completed an inference yet")
        return self._outputs

    def _execute(self, stream: Stream, arrays: list[np.ndarray]) -> None:
        outputs = stream.runner.run(arrays)
        self._perf = stream.runner.perf_counts() if self._compiled._profile else []
        self._outputs = list(outputs)
        self._stream = stream.index
        self._latency_s = time.perf_counter() - self._started

    def _async_job(self, stream: Stream, arrays: list[np.ndarray]) -> None:
        try:
            self._execute(stream, arrays)
            if self._callback is not None:
                self._callback(self._userdata)
        except BaseException as e:  # kept for wait()
            self._error = e
        finally:
            self._busy = False
            self._done.set()
            if self._released is not None:
                self._released(self)

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
