"""OpenVINO-style runtime API: `Core().compile_model(model, "REF")(inputs)`."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from irforge.errors import InferenceError, OptionError
from irforge.ir.graph import Model, Output
from irforge.ir.xml_io import read_model as _read_xml
from irforge.runtime.device import Executable
from irforge.runtime.results import InferResult


def _device_factories() -> dict[str, Any]:
    from irforge.runtime.devices.reference import ReferenceExecutable

    def cpu(model: Model, config: dict[str, str]) -> Executable:
        from irforge.runtime.devices.cpu import CPUExecutable

        return CPUExecutable(model, config)

    return {"CPU": cpu, "REF": ReferenceExecutable}


class Core:
    """Entry point: reads models and compiles them for a device."""

    @property
    def available_devices(self) -> list[str]:
        return list(_device_factories())

    def read_model(self, model: str | os.PathLike[str]) -> Model:
        """Read an IR `.xml` (with its `.bin`) or convert an `.onnx` file."""
        path = str(model)
        if path.endswith(".onnx"):
            from irforge.frontends.onnx import convert_model

            return convert_model(path)
        return _read_xml(path)

    def compile_model(self, model: Model | str | os.PathLike[str], device: str = "REF",
                      config: Mapping[str, Any] | None = None) -> "CompiledModel":
        m = model if isinstance(model, Model) else self.read_model(model)
        factories = _device_factories()
        dev = device.upper()
        if dev not in factories:
            raise OptionError(f"unknown device '{device}' (available: {', '.join(factories)})")
        cfg = {str(k): str(v) for k, v in (config or {}).items()}
        return CompiledModel(m, factories[dev](m, cfg), dev)


class CompiledModel:
    """A model compiled for one device. Call it with a dict name->array, a list, or one array."""

    def __init__(self, model: Model, executable: Executable, device: str) -> None:
        self.model = model
        self.executable = executable
        self._runner = executable.create_runner()
        self.device = device
        self._names = model.output_names()

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

    def __call__(self, inputs: Any = None) -> InferResult:
        arrays = prepare_inputs(self.model, inputs)
        return InferResult(self.model.outputs, self._names, self._runner.run(arrays))


def prepare_inputs(model: Model, inputs: Any) -> list[np.ndarray]:
    """Order and check user inputs against the model's Parameters: names, element types and shapes."""
    params = model.inputs
    if isinstance(inputs, np.ndarray) or np.isscalar(inputs):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        by_pos: list[Any] = [None] * len(params)
        for key, val in inputs.items():
            idx = _input_index(params, key)
            by_pos[idx] = val
        missing = [params[i].name for i, v in enumerate(by_pos) if v is None]
        if missing:
            raise InferenceError(f"missing input(s): {', '.join(missing)}")
        values = by_pos
    elif inputs is None:
        values = []
    else:
        values = list(inputs)
    if len(values) != len(params):
        raise InferenceError(f"the model takes {len(params)} input(s) ({', '.join(p.name for p in params)}), got {len(values)}")
    return [_check_input(p, v) for p, v in zip(params, values)]


def _input_index(params: list[Output], key: object) -> int:
    if isinstance(key, int):
        if 0 <= key < len(params):
            return key
    elif isinstance(key, Output):
        for i, p in enumerate(params):
            if p is key:
                return i
    else:
        for i, p in enumerate(params):
            if key in p.names or key == p.node.name:
                return i
    raise InferenceError(f"unknown input {key!r} (the model's inputs: {', '.join(p.name for p in params)})")


def _check_input(param: Output, value: Any) -> np.ndarray:
    et = param.element_type
    arr = np.asarray(value)
    if not isinstance(value, np.ndarray) and et.dtype is not None and arr.dtype != et.dtype:
        arr = arr.astype(et.dtype)  # plain Python values take the input's type
    if et.dtype is not None and arr.dtype != et.dtype:
        raise InferenceError(f"input '{param.name}' expects {et}[{param.shape}], got {arr.dtype}{list(arr.shape)}")
    if not param.shape.compatible(arr.shape):
        raise InferenceError(f"input '{param.name}' expects {et}[{param.shape}], got {et}{list(arr.shape)}")
    return arr
