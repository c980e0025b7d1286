"""What the user declares about one model input or output: the user's tensor (`tensor()`), the model's side
(`model()`) and the steps between (`preprocess()` / `postprocess()`), as OpenVINO's InputInfo / OutputInfo.
Every setter returns its object, so calls chain as in OpenVINO."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from irforge.ir.graph import Node
from irforge.ir.layout import Layout, as_layout
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType
from irforge.preprocess import color
from irforge.preprocess.common import PreprocessError, as_shape, as_type
from irforge.preprocess.enums import ColorFormat
from irforge.preprocess.steps import PostProcessSteps, PreProcessSteps


class InputTensorInfo:
    """The tensor the user will feed: element type, layout, shape, color format."""

    def __init__(self) -> None:
        self.element_type: ElementType | None = None
        self.layout: Layout | None = None
        self.shape: PartialShape | None = None
        self.spatial: tuple[int, int] | None | str = None  # (height, width), "dynamic", or None (not set)
        self.color_format = ColorFormat.UNDEFINED

    def set_element_type(self, type: ElementType) -> "InputTensorInfo":  # noqa: A002
        """The user's element type; a Convert to the model's type is added unless the steps convert."""
        self.element_type = as_type(type, "InputTensorInfo.set_element_type")
        return self

    def set_layout(self, layout: Layout | str) -> "InputTensorInfo":
        """The user's layout; a Transpose to the model's layout is added when they differ."""
        self.layout = as_layout(layout, "InputTensorInfo.set_layout")
        return self

    def set_shape(self, shape: PartialShape | Sequence[int]) -> "InputTensorInfo":
        self.shape = as_shape(shape, "InputTensorInfo.set_shape")
        return self

    def set_spatial_dynamic_shape(self) -> "InputTensorInfo":
        """The user's height and width are dynamic (with resize, any image size is accepted)."""
        self.spatial = "dynamic"
        return self

    def set_spatial_static_shape(self, height: int, width: int) -> "InputTensorInfo":
        """The user's height and width (other axes as the model's)."""
        h, w = int(height), int(width)
        if h <= 0 or w <= 0:
            raise PreprocessError(f"set_spatial_static_shape: height and width must be positive, got ({h}, {w})")
        self.spatial = (h, w)
        return self

    def set_color_format(self, format: ColorFormat, sub_names: Sequence[str] = ()) -> "InputTensorInfo":  # noqa: A002
        """RGB, BGR, GRAY, RGBX or BGRX (NV12/I420 raise NotImplementedError); implies layout NHWC unless set."""
        self.color_format = color.check_supported(format, "InputTensorInfo.set_color_format")
        return self

    def set_memory_type(self, memory_type: str) -> "InputTensorInfo":
        raise NotImplementedError(f"InputTensorInfo.set_memory_type('{memory_type}'): memory types (remote tensors, "
                                  "GPU surfaces) are not supported by irforge")

    def set_from(self, tensor: Any) -> "InputTensorInfo":
        """Element type and shape from a NumPy array or a Tensor (overrides set_element_type/set_shape)."""
        if isinstance(tensor, np.ndarray):
            self.element_type = as_type(tensor.dtype, "InputTensorInfo.set_from")
            self.shape = PartialShape(list(tensor.shape))
            return self
        et = getattr(tensor, "element_type", None)
        et = et() if callable(et) else et
        shape = getattr(tensor, "shape", None)
        if et is None or shape is None:
            raise PreprocessError(f"InputTensorInfo.set_from: expected a NumPy array or a Tensor, got "
                                  f"{type(tensor).__name__}")
        self.element_type = as_type(et, "InputTensorInfo.set_from")
        self.shape = PartialShape([int(d) for d in shape])
        return self


class InputModelInfo:
    """The model's side of an input: its layout (when the model does not carry one)."""

    def __init__(self) -> None:
        self.layout: Layout | None = None

    def set_layout(self, layout: Layout | str) -> "InputModelInfo":
        self.layout = as_layout(layout, "InputModelInfo.set_layout")
        return self


class InputInfo:
    """One model input: `tensor()`, `preprocess()`, `model()`."""

    def __init__(self, param: Node) -> None:
        self.param = param
        self._tensor = InputTensorInfo()
        self._steps = PreProcessSteps()
        self._model = InputModelInfo()

    def tensor(self) -> InputTensorInfo:
        return self._tensor

    def preprocess(self) -> PreProcessSteps:
        return self._steps

    def model(self) -> InputModelInfo:
        return self._model


class OutputTensorInfo:
    """The tensor the user will get: element type and layout."""

    def __init__(self) -> None:
        self.element_type: ElementType | None = None
        self.layout: Layout | None = None

    def set_element_type(self, type: ElementType) -> "OutputTensorInfo":  # noqa: A002
        self.element_type = as_type(type, "OutputTensorInfo.set_element_type")
        return self

    def set_layout(self, layout: Layout | str) -> "OutputTensorInfo":
        self.layout = as_layout(layout, "OutputTensorInfo.set_layout")
        return self


class OutputModelInfo:
    """The model's side of an output: its layout."""

    def __init__(self) -> None:
        self.layout: Layout | None = None

    def set_layout(self, layout: Layout | str) -> "OutputModelInfo":
        self.layout = as_layout(layout, "OutputModelInfo.set_layout")
        return self


class OutputInfo:
    """One model output: `tensor()`, `postprocess()`, `model()`."""

    def __init__(self, result: Node) -> None:
        self.result = result
        self._tensor = OutputTensorInfo()
        self._steps = PostProcessSteps()
        self._model = OutputModelInfo()

    def tensor(self) -> OutputTensorInfo:
        return self._tensor

    def postprocess(self) -> PostProcessSteps:
        return self._steps

    def model(self) -> OutputModelInfo:
        return self._model

