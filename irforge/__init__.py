"""irforge: a model optimizer and inference engine producing OpenVINO IR v11.

The package's top level is OpenVINO's (`import irforge as ov` runs scripts written for `import openvino as ov`):
Core, Model, Tensor, Type, Shape, PartialShape, Dimension, Layout, the ports, convert_model, save_model,
compile_model, preprocess and layout_helpers. Names of OpenVINO's API that irforge lacks raise NotImplementedError
naming them (irforge/openvino_names.py).

`import irforge` loads the IR classes only; the rest (the runtime, the converter and its ONNX frontend, the
quantizer, and through them onnx, torch and ml_dtypes) is imported on first use of a name that needs it."""
from typing import Any

from irforge.errors import IRForgeError, NotSupportedError
from irforge.ir.graph import Model, Node, Output
from irforge.ir.layout import Layout
from irforge.ir.shape import Dimension, PartialShape, Shape
from irforge.ir.types import Type
from irforge.openvino_names import missing as _missing

__version__ = "0.1.0"
ConstOutput = Output

# public name -> (module, attribute in it; None: the module itself), imported on first access
_LAZY: dict[str, tuple[str, str | None]] = {
    "convert_model": ("irforge.mo.convert", "convert_model"),
    "save_model": ("irforge.mo.save", "save_model"),
    "serialize": ("irforge.mo.save", "serialize"),
    "quantize": ("irforge.quantization.api", "quantize"),
    "quantize_with_accuracy_control": ("irforge.quantization.api", "quantize_with_accuracy_control"),
    "Core": ("irforge.runtime.core", "Core"),
    "AsyncInferQueue": ("irforge.runtime.core", "AsyncInferQueue"),
    "CompiledModel": ("irforge.runtime.core", "CompiledModel"),
    "InferRequest": ("irforge.runtime.core", "InferRequest"),
    "Version": ("irforge.runtime.core", "Version"),
    "compile_model": ("irforge.runtime.core", "compile_model"),
    "ProfilingInfo": ("irforge.runtime.device", "PerfCount"),
    "Tensor": ("irforge.runtime.tensor", "Tensor"),
    "layout_helpers": ("irforge.layout_helpers", None),
    "preprocess": ("irforge.preprocess", None),
}
# subpackages that `import irforge` used to load and so were attributes of the package: still reachable so
_SUBMODULES = {"errors", "files", "frontends", "ir", "mo", "openvino_names", "quantization", "runtime", "transforms"}


def read_model(model: Any, weights: Any = None) -> Model:
    """Read an IR `.xml` (with its `.bin`) or convert an `.onnx`: `Core().read_model` without a Core."""
    from irforge.runtime.core import Core

    return Core().read_model(model, weights)


def get_version() -> str:
    return __version__


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        if attr is not None:
            value = getattr(value, attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    _missing("module", name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = ["convert_model", "save_model", "serialize", "read_model", "compile_model", "Core", "CompiledModel",
           "InferRequest", "AsyncInferQueue", "Model", "Node", "Output", "ConstOutput", "Tensor", "Type", "Shape",
           "PartialShape", "Dimension", "Layout", "ProfilingInfo", "Version", "IRForgeError", "NotSupportedError",
           "quantize", "quantize_with_accuracy_control", "preprocess", "layout_helpers", "get_version"]
