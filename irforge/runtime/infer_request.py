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
from irforge.openvino_names import OpenVINONames
from irforge.runtime.device import PerfCount
from irforge.runtime.inputs import input_index, output_index
from irforge.runtime.results import InferResult
from irforge.runtime.streams import Stream
from irforge.runtime.tensor import Tensor

if TYPE_CHECKING:
    from irforge.runtime.compiled_model import CompiledModel


class InferRequest(OpenVINONames):
    """Created by `CompiledModel.create_infer_request()`. Not meant to be shared between threads; create one
    request per concurrent inference (or use AsyncInferQueue)."""

    def __init__(self, compiled: "CompiledModel") -> None:
        self._compiled = compiled
        self._model = compiled.model
        self._params = compiled._params
        self._outs = compiled._outs
        self._checker = compiled._checker
        self._executor = compiled._executor
        self._profile = compiled._profile
        self._result_keys = compiled._result_keys
        self._inputs: list[np.ndarray | None] = [None] * len(self._params)
        self._outputs: list[np.ndarray] | None = None
        self._user_outputs: dict[int, Tensor] = {}  # set_output_tensor: where outputs are written
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

    def get_compiled_model(self) -> "CompiledModel":
        return self._compiled

    @property
    def model_inputs(self) -> list[Output]:
        return list(self._params)

    @property
    def model_outputs(self) -> list[Output]:
        return list(self._outs)

    # ---- running
    def infer(self, inputs: Any = None, share_inputs: bool = False, share_outputs: bool = False,
              decode_strings: bool = True) -> InferResult:
        """Run one inference now (in this thread, on an idle stream) and return its results. `inputs` as for
        `CompiledModel.__call__` (arrays or Tensors); None reuses the tensors already set on this request.
        `share_inputs`/`share_outputs`/`decode_strings` are OpenVINO's memory modes: inputs are never copied by a
        synchronous inference and outputs always belong to the caller, so they change nothing here."""
        if self._busy:
            self._check_idle()  # raises
        if share_inputs.__class__ is not bool or share_outputs.__class__ is not bool or \
                decode_strings.__class__ is not bool:
            _check_flags(share_inputs=share_inputs, share_outputs=share_outputs, decode_strings=decode_strings)
        if inputs is not None:
            # a fresh list per call, which the request keeps as its inputs and the runner only reads (no copy: a
            # synchronous inference ends before set_input_tensor, which needs an idle request, may change it)
            arrays = self._inputs = self._checker.prepare(inputs)  # type: ignore[assignment]
        else:
            arrays = self._ready_inputs()
        self._busy = True
        try:
            self._started = time.perf_counter()
            self._executor.run_here(self._execute, arrays)
        finally:
            self._busy = False
        return InferResult(*self._result_keys, self._outputs)  # type: ignore[arg-type]

    def start_async(self, inputs: Any = None, userdata: Any = None, share_inputs: bool = False) -> None:
        """Queue one inference on the compiled model's streams and return at once; `wait()` for it. The inputs
        are copied unless `share_inputs` (then they must stay unchanged until the inference ends). `userdata`
        (when not None) is what the callback receives."""
        self._check_idle()
        _check_flags(share_inputs=share_inputs)
        if inputs is not None:
            arrays = self._checker.prepare(inputs)
            self._inputs = list(arrays if share_inputs else [a.copy() for a in arrays])
        ready = self._ready_inputs()
        if userdata is not None:
            self._userdata = userdata
        self._error = None
        self._busy = True
        self._done.clear()
        self._started = time.perf_counter()
        try:
            self._executor.submit(lambda stream: self._async_job(stream, ready))
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
    def get_tensor(self, key: str | int | Output) -> Tensor:
        """The Tensor of an input (allocated with zeros when static and not yet set, so its `.data` can be filled
        in place) or of an output of the last inference. `key`: a tensor name or a port (inputs are searched
        first)."""
        kind, index = self._port(key)
        return self.get_input_tensor(index) if kind == "input" else self.get_output_tensor(index)

    def get_input_tensor(self, index: int = 0) -> Tensor:
        i = input_index(self._params, index)
        param, value = self._params[i], self._inputs[i]
        if value is None:
            if param.element_type.dtype is None:
                raise InferenceError(f"input '{param.name}' has no tensor yet (element type {param.element_type})")
            dims = [d.min if d.is_static else 0 for d in param.shape.dims] if param.shape.rank_is_static else [0]
            value = self._inputs[i] = np.zeros(dims, param.element_type.dtype)
        return Tensor.wrap(value, param.element_type)

    def get_output_tensor(self, index: int = 0) -> Tensor:
        i = output_index(self._outs, self._compiled.output_names, index)
        return Tensor.wrap(self._last_outputs()[i], self._outs[i].element_type)

    def set_tensor(self, key: str | int | Output, value: Any) -> None:
        """Set an input's data (a Tensor, shared, or an array; checked: element type and shape within the input's
        range), or the Tensor an output is written into."""
        kind, index = self._port(key)
        if kind == "output":
            self.set_output_tensor(index, value)
        else:
            self.set_input_tensor(index, value)

    def set_input_tensor(self, index: int | Any = 0, value: Any = None) -> None:
        """`set_input_tensor(i, tensor)`, or `set_input_tensor(tensor)` for a one-input model."""
        if value is None and not isinstance(index, (int, np.integer)):
            index, value = 0, index
        self._check_idle()
        i = input_index(self._params, index)
        self._inputs[i] = self._checker.check(i, value)

    def set_input_tensors(self, inputs: Any) -> None:
        """Set every input at once (a mapping or a sequence of Tensors/arrays, as for `infer`)."""
        self._check_idle()
        self._inputs = self._checker.prepare(inputs)  # type: ignore[assignment]

    def set_output_tensor(self, index: int | Any = 0, tensor: Any = None) -> None:
        """`set_output_tensor(i, tensor)` (or `(tensor)` for a one-output model): later inferences write output
        `i` into `tensor` (its shape follows the output's; its element type must be the output's)."""
        if tensor is None and not isinstance(index, (int, np.integer)):
            index, tensor = 0, index
        self._check_idle()
        i = output_index(self._outs, self._compiled.output_names, index)
        if not isinstance(tensor, Tensor):
            raise InferenceError(f"set_output_tensor: expected an irforge.Tensor for output "
                                 f"'{self._compiled.output_names[i]}', got {type(tensor).__name__}")
        want = self._outs[i].element_type
        if tensor.element_type != want:
            raise InferenceError(f"set_output_tensor: output '{self._compiled.output_names[i]}' is {want}, the "
                                 f"tensor is {tensor.element_type}")
        self._user_outputs[i] = tensor

    def set_output_tensors(self, tensors: Any) -> None:
        """A mapping output (index, name or port) -> Tensor, as `set_output_tensor` for each."""
        for key, tensor in dict(tensors).items():
            self.set_output_tensor(output_index(self._outs, self._compiled.output_names, key), tensor)

    def set_tensors(self, tensors: Any, *more: Any) -> None:
        """A mapping port/name -> Tensor, as `set_tensor` for each (a list of tensors for one batched input is
        OpenVINO's remote-batch feature, not supported)."""
        if more or not hasattr(tensors, "items"):
            raise NotImplementedError("InferRequest.set_tensors(port, [tensors...]) (one tensor per batch item) is "
                                      "not supported by irforge; pass one Tensor for the whole batch")
        for key, value in tensors.items():
            self.set_tensor(key, value)

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.get_input_tensor(i) for i in range(len(self._inputs))]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.get_output_tensor(i) for i in range(len(self._outs))]

    @property
    def results(self) -> InferResult:
        """The outputs of the last inference, by port, output index or name."""
        return InferResult(*self._result_keys, self._last_outputs())

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
        for v in self._inputs:
            if v is None:
                break
        else:
            return list(self._inputs)  # type: ignore[arg-type]
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
        if outputs.__class__ is not list:
            outputs = list(outputs)
        if self._profile:
            self._perf = stream.runner.perf_counts()
        if self._user_outputs:
            for i, tensor in self._user_outputs.items():
                tensor.copy_from(outputs[i])
                outputs[i] = tensor.data
        self._outputs = outputs
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


def _check_flags(**flags: object) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise InferenceError(f"{name}: expected True or False, got {value!r}")
