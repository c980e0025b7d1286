"""OpenVINO's `preprocess` API (PrePostProcessor): preprocessing and postprocessing built into the model as ops.

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC")).set_spatial_dynamic_shape()
    ppp.input().preprocess().convert_element_type(Type.f32).resize(ResizeAlgorithm.RESIZE_LINEAR).mean(...)
    ppp.input().model().set_layout(Layout("NCHW"))
    model = ppp.build()

Each step becomes the ops OpenVINO's PrePostProcessor makes (see builders.py), so results match OpenVINO's and the
IR reads back in OpenVINO. Not supported yet (NotImplementedError): NV12/I420 color formats, memory types.
"""
from irforge.preprocess.common import PreprocessError
from irforge.preprocess.enums import ColorFormat, PaddingMode, ResizeAlgorithm
from irforge.preprocess.info import (InputInfo, InputModelInfo, InputTensorInfo, OutputInfo, OutputModelInfo,
                                     OutputTensorInfo)
from irforge.preprocess.processor import PrePostProcessor
from irforge.preprocess.steps import PostProcessSteps, PreProcessSteps

__all__ = ["PrePostProcessor", "InputInfo", "InputTensorInfo", "InputModelInfo", "PreProcessSteps", "OutputInfo",
           "OutputTensorInfo", "OutputModelInfo", "PostProcessSteps", "ResizeAlgorithm", "ColorFormat", "PaddingMode",
           "PreprocessError"]
