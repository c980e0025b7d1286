"""irforge: a model optimizer and inference engine producing OpenVINO IR v11."""
from irforge.errors import IRForgeError
from irforge.mo.convert import convert_model
from irforge.ir.graph import Model
from irforge.ir.xml_io import read_model, save_model
from irforge.runtime.core import AsyncInferQueue, CompiledModel, Core, InferRequest
from irforge.quantization.api import quantize, quantize_with_accuracy_control

__version__ = "0.1.0"
__all__ = ["convert_model", "save_model", "read_model", "Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "Model", "IRForgeError",
           "quantize", "quantize_with_accuracy_control"]
