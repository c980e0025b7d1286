"""Shared steps of the model tests: ONNX -> irforge IR files -> irforge Model, and running one set of inputs on
REF, on OpenVINO (from an IR file) and on ONNX Runtime. Inputs are passed by position (the ONNX graph's input
order); outputs come back in model order."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx

import irforge
from irforge.ir.graph import Model
from irforge.mo.convert import ConvertOptions, convert
from irforge.mo.report import ConversionReport
from tests.util import max_abs_err, run_ort

__all__ = ["convert_to_ir", "convert_with_report", "run_ref", "run_openvino_xml", "run_ort", "max_err", "max_abs_err"]


def convert_with_report(onnx_model: str | os.PathLike[str] | onnx.ModelProto, xml_path: Path
                        ) -> tuple[Model, ConversionReport]:
    """Convert (the default pipeline, validating the graph after every pass) -> irforge.save_model(xml_path) ->
    irforge.read_model: the model the tests run is the one read back from the files (so the writer and the reader
    are in the path). Also returns the conversion report (layer histograms before/after optimization)."""
    source = onnx_model if isinstance(onnx_model, onnx.ModelProto) else str(onnx_model)
    model, report = convert(source, ConvertOptions(validate=True))
    model.validate()
    irforge.save_model(model, xml_path, compress_to_fp16=False)
    back = irforge.read_model(xml_path)
    back.validate()
    return back, report


def convert_to_ir(onnx_model: str | os.PathLike[str] | onnx.ModelProto, xml_path: Path) -> Model:
    """`convert_with_report` without the report."""
    return convert_with_report(onnx_model, xml_path)[0]


def run_ref(model: Model, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return irforge.Core().compile_model(model, "REF")(list(inputs.values())).values_list()


def run_openvino_xml(xml_path: str | os.PathLike[str], inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray]
                     ) -> list[np.ndarray]:
    """Read an IR file with OpenVINO's own reader and run it on OpenVINO's CPU plugin in f32."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(xml_path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    values = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
    res = compiled(values)
    return [np.asarray(res[o]) for o in compiled.outputs]


def max_err(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    """The largest absolute difference over all outputs (inf when the output counts or shapes differ)."""
    if len(got) != len(want) or any(np.shape(g) != np.shape(w) for g, w in zip(got, want)):
        return float("inf")
    return max((max_abs_err(g, w) for g, w in zip(got, want)), default=0.0)
