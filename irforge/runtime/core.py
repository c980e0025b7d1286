"""OpenVINO-style runtime API: `Core().compile_model(model, "CPU", config)(inputs)`.

Core reads models and compiles them for a device (irforge/runtime/registry.py); the configuration
(irforge/runtime/properties.py) decides the streams the compiled model runs on. The other pieces live beside:
compiled_model.py, infer_request.py, async_queue.py, inputs.py (input checking), streams.py."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from irforge.errors import OptionError
from irforge.ir.graph import Model
from irforge.ir.xml_io import model_from_xml
from irforge.ir.xml_io import read_model as _read_xml
from irforge.openvino_names import OpenVINONames
from irforge.runtime import host
from irforge.runtime import properties as P
from irforge.runtime.async_queue import AsyncInferQueue
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.infer_request import InferRequest
from irforge.runtime.inputs import prepare_inputs
from irforge.runtime.registry import available_devices, get_device

__all__ = ["Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "prepare_inputs", "compile_model", "Version"]


@dataclass(frozen=True)
class Version:
    """What `Core.get_versions` reports per device (OpenVINO's Version)."""

    build_number: str
    description: str

    @property
    def major(self) -> int:
        return int(self.build_number.split(".")[0])

    @property
    def minor(self) -> int:
        return int(self.build_number.split(".")[1])

    @property
    def patch(self) -> int:
        return int(self.build_number.split(".")[2])


class Core(OpenVINONames):
    """Entry point: reads models and compiles them for a device ("CPU", the default, or "REF")."""

    def __init__(self) -> None:
        self._defaults: dict[str, tuple[P.CompileConfig, set[str]]] = {}

    @property
    def available_devices(self) -> list[str]:
        return available_devices()

    def get_available_devices(self) -> list[str]:
        return available_devices()

    def get_versions(self, device_name: str) -> dict[str, Version]:
        """The version of each device named (`"CPU"`, or several joined with commas)."""
        from irforge import __version__

        out = {}
        for name in str(device_name).split(","):
            entry = get_device(name.strip())
            out[entry.name] = Version(__version__, f"irforge {entry.name.lower()} device")
        return out

    def read_model(self, model: Any, weights: Any = None, config: Mapping[str, Any] | None = None) -> Model:
        """Read a model, in OpenVINO's forms: a path to an IR `.xml` (its `.bin` beside it, or `weights`) or an
        `.onnx` (converted with the converter's defaults: the optimized IR `irforge.convert_model` gives); the
        model itself as bytes, a string or a binary stream (IR XML with `weights` as bytes, a Tensor or a path;
        or ONNX)."""
        if config:
            raise OptionError(f"read_model: config keys {', '.join(map(str, config))} are not supported "
                              "(irforge reads every model the same way)")
        if isinstance(model, Model):
            return model
        if isinstance(model, (str, os.PathLike)) and not _is_xml_text(model):
            path = os.fspath(model)
            if path.endswith(".onnx") or (not path.endswith(".xml") and _looks_like_onnx(path)):
                if weights is not None:
                    raise OptionError("read_model: weights are only for IR models (.xml); an ONNX model holds its own")
                from irforge.mo.convert import convert_model

                return convert_model(path)
            if weights is None or isinstance(weights, (str, os.PathLike)):
                return _read_xml(path, weights)
            return model_from_xml(_read_file(path), _weights_bytes(weights), path)
        if isinstance(model, str) or isinstance(model, (bytes, bytearray, memoryview)) or hasattr(model, "read"):
            data = model.encode() if isinstance(model, str) else model.read() if hasattr(model, "read") else bytes(model)
            if not isinstance(data, bytes):
                raise OptionError("read_model: the stream gave text, not bytes (open the file in binary mode)")
            if data.lstrip()[:1] == b"<":
                return model_from_xml(data, _weights_bytes(weights), "<memory>")
            from irforge.mo.convert import convert_model, load_source

            return convert_model(load_source(data))
        raise OptionError(f"read_model: model: expected a path, bytes, a string or a binary stream, got "
                          f"{type(model).__name__}")

    def compile_model(self, model: Model | str | os.PathLike[str], device_name: str | None = None,
                      config: Mapping[str, Any] | None = None) -> CompiledModel:
        """Compile for a device (default and "AUTO": CPU when available, else REF). `config` keys (OpenVINO's
        names): PERFORMANCE_HINT (LATENCY, THROUGHPUT), INFERENCE_PRECISION_HINT (f32, bf16; default: the
        device's choice), NUM_STREAMS (int or AUTO), INFERENCE_NUM_THREADS (int, 0 = all cores), PERF_COUNT (bool:
        per-op profiling)."""
        entry = get_device(_device_name(device_name))
        cfg = self._config(entry.name, config)
        m = model if isinstance(model, Model) else self.read_model(model)
        plan = P.plan_streams(cfg)
        executable = entry.load()(m, P.device_config(cfg, plan))
        return CompiledModel(m, executable, entry.name, cfg, plan)

    def query_model(self, model: Model, device_name: str, properties: Mapping[str, Any] | None = None
                    ) -> dict[str, str]:
        """Node name -> the device that runs it. irforge's devices run every op of a model they compile (the
        CPU device falls back to reference kernels per op), so every node maps to the device."""
        if not isinstance(model, Model):
            raise OptionError(f"query_model: model: expected an irforge Model, got {type(model).__name__}")
        entry = get_device(_device_name(device_name))
        self._config(entry.name, properties)
        return {n.name: entry.name for n in model.nodes()}

    def set_property(self, device: str | Mapping[str, Any], config: Mapping[str, Any] | None = None) -> None:
        """Defaults for later compile_model calls on `device` (same keys as compile_model's config), or, called
        with the config alone as OpenVINO allows (`core.set_property({"CACHE_DIR": path})`), on every device."""
        if isinstance(device, Mapping) and config is None:
            device, config = _ALL_DEVICES, device
        if config is None:
            raise OptionError("set_property: expected (device, config) or (config)")
        name = _ALL_DEVICES if device == _ALL_DEVICES else get_device(device).name
        base, given = self._defaults.get(name, (P.CompileConfig(), set()))
        new, new_given = P.parse_config(config)
        self._defaults[name] = (base.merged(new, new_given), given | new_given)

    def get_property(self, device: str, name: str) -> Any:
        """FULL_DEVICE_NAME, OPTIMIZATION_CAPABILITIES, RANGE_FOR_STREAMS, AVAILABLE_DEVICES,
        SUPPORTED_PROPERTIES, and the defaults compile_model would use (PERFORMANCE_HINT, NUM_STREAMS, ...)."""
        entry = get_device(device)
        cfg = self._config(entry.name, None)
        plan = P.plan_streams(cfg)
        props: dict[str, Any] = {
            "FULL_DEVICE_NAME": entry.full_name(),
            "OPTIMIZATION_CAPABILITIES": entry.capabilities(),
            "RANGE_FOR_STREAMS": (1, host.logical_cpus()),
            "AVAILABLE_DEVICES": [""],
            P.PERFORMANCE_HINT: cfg.hint,
            P.INFERENCE_PRECISION_HINT: cfg.precision or entry.default_precision(),
            P.NUM_STREAMS: plan.streams,
            P.INFERENCE_NUM_THREADS: plan.threads,
            P.PERF_COUNT: cfg.perf_count,
            P.CACHE_DIR: cfg.cache_dir,
        }
        props["SUPPORTED_PROPERTIES"] = sorted([*props, "SUPPORTED_PROPERTIES"])
        if name not in props:
            raise OptionError(f"get_property: unknown property '{name}' for {entry.name} "
                              f"(supported: {', '.join(sorted(props))})")
        return props[name]

    def _config(self, device: str, config: Mapping[str, Any] | None) -> P.CompileConfig:
        every, every_given = self._defaults.get(_ALL_DEVICES, (P.CompileConfig(), set()))
        own, own_given = self._defaults.get(device, (P.CompileConfig(), set()))
        cfg, given = P.parse_config(config)
        return P.CompileConfig().merged(every, every_given).merged(own, own_given).merged(cfg, given)


_ALL_DEVICES = "*"  # set_property(config) without a device: defaults for every device


def compile_model(model: Model | str | os.PathLike[str], device_name: str | None = "AUTO",
                  config: Mapping[str, Any] | None = None) -> CompiledModel:
    """OpenVINO's top-level shortcut: `Core().compile_model(model, device_name, config)`."""
    return Core().compile_model(model, device_name, config)


def _device_name(name: str | None) -> str:
    if name is None or str(name).upper() == "AUTO":
        return "CPU" if "CPU" in available_devices() else "REF"
    if not isinstance(name, str):
        raise OptionError(f"device_name: expected a device name such as 'CPU', got {type(name).__name__}")
    return name


def _is_xml_text(model: object) -> bool:
    return isinstance(model, str) and model.lstrip().startswith("<")


def _looks_like_onnx(path: str) -> bool:
    """A file that is not XML (IR files start with '<')."""
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip()[:1] not in (b"<", b"")
    except OSError:
        return False


def _weights_bytes(weights: object) -> Any:
    """The weights as a buffer the IR reader makes Constant views of: the given bytes/buffer or Tensor memory
    itself (no copy), a path mapped, a stream read."""
    from irforge.ir.xml_io import map_weights
    from irforge.runtime.tensor import Tensor

    if weights is None:
        return b""
    if isinstance(weights, Tensor):
        return weights.data
    if hasattr(weights, "read"):
        return weights.read()
    if isinstance(weights, (bytes, bytearray, memoryview)):
        return weights
    if isinstance(weights, (str, os.PathLike)):
        from irforge.errors import ModelReadError

        path = os.fspath(weights)
        try:
            return map_weights(path)
        except (OSError, ValueError) as e:
            raise ModelReadError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    raise OptionError(f"read_model: weights: expected a path, bytes, a Tensor or a binary stream, got "
                      f"{type(weights).__name__}")


def _read_file(path: str) -> bytes:
    from irforge.errors import ModelReadError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ModelReadError(f"{path}: cannot read ({e.strerror})") from None
