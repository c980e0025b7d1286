"""OpenVINO-style runtime API: `Core().compile_model(model, "CPU", config)(inputs)`.

Core reads models and compiles them for a device (irforge/runtime/registry.py); the configuration
(irforge/runtime/properties.py) decides the streams the compiled model runs on. The other pieces live beside:
compiled_model.py, infer_request.py, async_queue.py, inputs.py (input checking), streams.py."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from irforge.errors import OptionError
from irforge.ir.graph import Model
from irforge.ir.xml_io import read_model as _read_xml
from irforge.runtime import host
from irforge.runtime import properties as P
from irforge.runtime.async_queue import AsyncInferQueue
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.infer_request import InferRequest
from irforge.runtime.inputs import prepare_inputs
from irforge.runtime.registry import available_devices, get_device

__all__ = ["Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "prepare_inputs"]


class Core:
    """Entry point: reads models and compiles them for a device ("CPU", the default, or "REF")."""

    def __init__(self) -> None:
        self._defaults: dict[str, tuple[P.CompileConfig, set[str]]] = {}

    @property
    def available_devices(self) -> list[str]:
        return available_devices()

    def read_model(self, model: str | os.PathLike[str]) -> Model:
        """Read an IR `.xml` (with its `.bin`), or convert an `.onnx` file with the converter's defaults (the
        optimized IR `irforge.convert_model` gives)."""
        path = str(model)
        if path.endswith(".onnx"):
            from irforge.mo.convert import convert_model

            return convert_model(path)
        return _read_xml(path)

    def compile_model(self, model: Model | str | os.PathLike[str], device: str = "CPU",
                      config: Mapping[str, Any] | None = None) -> CompiledModel:
        """Compile for `device`. `config` keys (OpenVINO's names): PERFORMANCE_HINT (LATENCY, THROUGHPUT),
        INFERENCE_PRECISION_HINT (f32, bf16; default: the device's choice), NUM_STREAMS (int or AUTO),
        INFERENCE_NUM_THREADS (int, 0 = all cores), PERF_COUNT (bool: per-op profiling)."""
        entry = get_device(device)
        cfg = self._config(entry.name, config)
        m = model if isinstance(model, Model) else self.read_model(model)
        plan = P.plan_streams(cfg)
        executable = entry.load()(m, P.device_config(cfg, plan))
        return CompiledModel(m, executable, entry.name, cfg, plan)

    def set_property(self, device: str, config: Mapping[str, Any]) -> None:
        """Defaults for later compile_model calls on `device` (same keys as compile_model's config)."""
        name = get_device(device).name
        base, given = self._defaults.get(name, (P.CompileConfig(), set()))
        new, new_given = P.parse_config(config)
        self._defaults[name] = (base.merged(new, new_given), given | new_given)

    def get_property(self, device: str, name: str) -> Any:
        """FULL_DEVICE_NAME, OPTIMIZATION_CAPABILITIES, RANGE_FOR_STREAMS, AVAILABLE_DEVICES,
        SUPPORTED_PROPERTIES, and the defaults compile_model would use (PERFORMANCE_HINT, NUM_STREAMS, ...)."""
        entry = get_device(device)
        cfg, _ = self._defaults.get(entry.name, (P.CompileConfig(), set()))
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
        }
        props["SUPPORTED_PROPERTIES"] = sorted([*props, "SUPPORTED_PROPERTIES"])
        if name not in props:
            raise OptionError(f"get_property: unknown property '{name}' for {entry.name} "
                              f"(supported: {', '.join(sorted(props))})")
        return props[name]

    def _config(self, device: str, config: Mapping[str, Any] | None) -> P.CompileConfig:
        base, _ = self._defaults.get(device, (P.CompileConfig(), set()))
        cfg, given = P.parse_config(config)
        return base.merged(cfg, given)
