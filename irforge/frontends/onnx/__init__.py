"""ONNX frontend: `convert_model(path_or_proto) -> Model`."""
from irforge.frontends.onnx.converter import convert_model, load_onnx

__all__ = ["convert_model", "load_onnx"]
