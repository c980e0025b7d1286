"""CompiledModel: a Model compiled for one device, run on its streams (irforge/runtime/streams.py)."""
from __future__ import annotations

import weakref
from typing import Any

from irforge.errors import OptionError
from irforge.ir.graph import Model, Output
from irforge.openvino_names import OpenVINONames
from irforge.runtime import properties as P
from irforge.runtime.device import Executable
from irforge.runtime.infer_request import InferRequest
from irforge.runtime.input_checker import InputChecker
from irforge.runtime.results import InferResult
from irforge.runtime.streams import StreamExecutor


class CompiledModel(OpenVINONames):
    """Call it with a dict name->array, a list, or one array: `compiled(x)["logits"]`. Create infer requests (or
    an AsyncInferQueue) to keep tensors between inferences or to run them asynchronously."""

    def __init__(self, model: Model, executable: Executable, device: str,
                 config: P.CompileConfig | None = None, plan: P.StreamPlan | None = None) -> None:
        self.model = model
        self.executable = executable
        self.device = device
        self.config = config or P.CompileConfig()
        self.plan = plan or P.plan_streams(self.config)
        self.output_names = model.output_names()
        self._params = model.inputs
        self._outs = model.outputs
        self._checker = InputChecker(self._params)  # shared by the requests: caches accepted input signatures
        self._result_keys = (tuple(self._outs), tuple(self.output_names))  # what every InferResult is keyed by
        self._profile = self.config.perf_count
        self._executor = StreamExecutor(executable, self.plan.shares, self._profile)
        weakref.finalize(self, self._executor.shutdown)
        self._idle: list[InferRequest] = []  # the requests __call__ reuses

    @property
    def inputs(self) -> list[Output]:
        return self.model.inputs

    @property
    def outputs(self) -> list[Output]:
        return self.model.outputs

    def input(self, key: int | str = 0) -> Output:
        return self.model.input(key)

    def output(self, key: int | str = 0) -> Output:
        return self.model.output(key)

    def create_infer_request(self) -> InferRequest:
        return InferRequest(self)

    def __call__(self, inputs: Any = None, share_inputs: bool = True, share_outputs: bool = False,
                 decode_strings: bool = True) -> InferResult:
        """One synchronous inference. Safe to call from several threads at once: each call takes an idle
        internal request (a new one when all are in use). The flags are OpenVINO's memory modes (see
        `InferRequest.infer`)."""
        try:
            request = self._idle.pop()
        except IndexError:
            request = InferRequest(self)
        try:
            return request.infer(inputs, share_inputs, share_outputs, decode_strings)
        finally:
            self._idle.append(request)

    def infer_new_request(self, inputs: Any = None) -> InferResult:
        """One inference on a fresh request."""
        return InferRequest(self).infer(inputs)

    def release_memory(self) -> None:
        """OpenVINO frees intermediate buffers here; irforge's runners keep theirs per request (freed with it)."""

    # ---- properties
    def properties(self) -> dict[str, Any]:
        """Everything get_property answers: the device's own properties (strings) merged with what the runtime
        chose (NUM_STREAMS, INFERENCE_NUM_THREADS, OPTIMAL_NUMBER_OF_INFER_REQUESTS, PERFORMANCE_HINT, ...)."""
        props: dict[str, Any] = dict(getattr(self.executable, "properties", {}) or {})
        precision = props.get(P.INFERENCE_PRECISION_HINT) or self.config.precision or "f32"
        props.update({
            P.PERFORMANCE_HINT: self.config.hint,
            P.INFERENCE_PRECISION_HINT: str(precision),
            P.NUM_STREAMS: self.plan.streams,
            P.INFERENCE_NUM_THREADS: self.plan.threads,
            P.OPTIMAL_NUMBER_OF_INFER_REQUESTS: self.plan.streams,
            P.PERF_COUNT: self._profile,
            "STREAM_THREADS": list(self.plan.shares),
            "EXECUTION_DEVICES": [self.device],
            "NETWORK_NAME": self.model.name,
        })
        props["SUPPORTED_PROPERTIES"] = sorted([*props, "SUPPORTED_PROPERTIES"])
        return props

    def set_property(self, properties: Any) -> None:
        from irforge.errors import NotSupportedError

        raise NotSupportedError("CompiledModel.set_property: a compiled model's properties are fixed in irforge; "
                                "pass them to compile_model")

    def get_property(self, name: str) -> Any:
        props = self.properties()
        key = str(getattr(name, "name", name)) if not isinstance(name, str) else name
        if key not in props:
            raise OptionError(f"get_property: unknown property '{key}' (supported: {', '.join(sorted(props))})")
        return props[key]

    def __repr__(self) -> str:
        return (f"<CompiledModel '{self.model.name}' on {self.device}: {self.config.hint}, "
                f"{self.plan.streams} stream(s) x {list(self.plan.shares)} thread(s)>")
