"""The devices Core knows: name -> how to build an Executable (irforge/runtime/device.py), imported lazily, plus
the few facts Core.get_property reports without compiling anything."""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from irforge.errors import OptionError
from irforge.ir.graph import Model
from irforge.runtime import host
from irforge.runtime.device import Executable

DeviceFactory = Callable[[Model, Mapping[str, str]], Executable]


@dataclass
class DeviceEntry:
    name: str
    factory: str | DeviceFactory  # "module:attribute" (imported on first use) or the factory itself
    full_name: Callable[[], str]
    default_precision: Callable[[], str] = lambda: "f32"
    capabilities: Callable[[], list[str]] = field(default=lambda: ["FP32"])

    @property
    def module(self) -> str | None:
        return self.factory.partition(":")[0] if isinstance(self.factory, str) else None

    def is_available(self) -> bool:
        if self.module is None:
            return True
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return False
        return spec is not None and spec.origin not in (None, "namespace")  # a package with its __init__.py

    def load(self) -> DeviceFactory:
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def _cpu_capabilities() -> list[str]:
    return ["FP32", "BF16"] if host.has_native_bf16() else ["FP32"]


_DEVICES: dict[str, DeviceEntry] = {
    "CPU": DeviceEntry("CPU", "irforge.runtime.devices.cpu:CPUExecutable", host.cpu_name,
                       lambda: "bf16" if host.has_native_bf16() else "f32", _cpu_capabilities),
    "REF": DeviceEntry("REF", "irforge.runtime.devices.reference:ReferenceExecutable",
                       lambda: "irforge reference evaluator (NumPy kernels)"),
}


def register_device(name: str, factory: str | DeviceFactory, full_name: str | None = None) -> None:
    """Add (or replace) a device: `factory(model, config) -> Executable`, or "module:attribute" naming one."""
    key = name.upper()
    _DEVICES[key] = DeviceEntry(key, factory, lambda: full_name or key)


def unregister_device(name: str) -> None:
    _DEVICES.pop(name.upper(), None)


def available_devices() -> list[str]:
    return [name for name, entry in _DEVICES.items() if entry.is_available()]


def get_device(name: str) -> DeviceEntry:
    key = str(name).upper()
    available = available_devices()
    if key not in available:
        known = f"device '{name}' is not available" if key in _DEVICES else f"unknown device '{name}'"
        raise OptionError(f"{known} (available: {', '.join(available)})")
    return _DEVICES[key]
