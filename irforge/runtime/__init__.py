"""The inference engine: Core, compiled models and the devices that run them."""
from irforge.runtime.core import CompiledModel, Core

__all__ = ["Core", "CompiledModel"]
