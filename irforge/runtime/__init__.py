"""The inference engine: Core, compiled models, infer requests and the devices that run them."""
from irforge.runtime.async_queue import AsyncInferQueue
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.core import Core
from irforge.runtime.device import PerfCount
from irforge.runtime.infer_request import InferRequest
from irforge.runtime.registry import register_device

__all__ = ["Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "PerfCount", "register_device"]
