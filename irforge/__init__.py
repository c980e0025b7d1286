"""irforge: a model optimizer and inference engine producing OpenVINO IR v11.

The package's top level is OpenVINO's (`import irforge as ov` runs scripts written for `import openvino as ov`):
Core, Model, Tensor, Type, Shape, PartialShape, Dimension, Layout, the ports, convert_model, save_model,
compile_model, preprocess and layout_helpers. Names of OpenVINO's API that irforge lacks raise NotImplementedError
naming them (irforge/openvino_names.py)."""
from typing import Any

from irforge.errors import IRForgeError, NotSupportedError
from irforge.ir.graph import Model, Node, Output
from irforge.ir.layout import Layout
from irforge.ir.shape import Dimension, PartialShape, Shape
from irforge.ir.types import Type
from irforge.mo.convert import convert_model
from irforge.mo.save import save_model, serialize
from irforge.openvino_names import missing as _missing
from irforge.quantization.api import quantize, quantize_with_accuracy_control
from irforge.runtime.core import AsyncInferQueue, CompiledModel, Core, InferRequest, Version, compile_model
from irforge.runtime.device import PerfCount as ProfilingInfo
from irforge.runtime.tensor import Tensor
from irforge import layout_helpers, preprocess

__version__ = "0.1.0"
ConstOutput = Output


def read_model(model: Any, weights: Any = None) -> Model:
    """Read an IR `.xml` (with its `.bin`) or convert an `.onnx`: `Core().read_model` without a Core."""
    return Core().read_model(model, weights)


def get_version() -> str:
    return __version__


def __getattr__(name: str) -> Any:
    _missing("module", name)


__all__ = ["convert_model", "save_model", "serialize", "read_model", "compile_model", "Core", "CompiledModel",
           "InferRequest", "AsyncInferQueue", "Model", "Node", "Output", "ConstOutput", "Tensor", "Type", "Shape",
           "PartialShape", "Dimension", "Layout", "ProfilingInfo", "Version", "IRForgeError", "NotSupportedError",
           "quantize", "quantize_with_accuracy_control", "preprocess", "layout_helpers", "get_version"]
