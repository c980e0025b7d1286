"""OpenVINO's preprocessing enums, with its member names and values: ResizeAlgorithm, ColorFormat, PaddingMode."""
from __future__ import annotations

from enum import Enum


class _OVEnum(Enum):
    """An enum that also converts to int, as OpenVINO's (pybind11) enums do."""

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        return int(self.value)


class ResizeAlgorithm(_OVEnum):
    """`resize` algorithms; each maps to an Interpolate-11 mode (`INTERPOLATE_MODE`)."""

    RESIZE_LINEAR = 0
    RESIZE_CUBIC = 1
    RESIZE_NEAREST = 2
    RESIZE_BILINEAR_PILLOW = 3
    RESIZE_BICUBIC_PILLOW = 4


INTERPOLATE_MODE = {
    ResizeAlgorithm.RESIZE_LINEAR: "linear",
    ResizeAlgorithm.RESIZE_CUBIC: "cubic",
    ResizeAlgorithm.RESIZE_NEAREST: "nearest",
    ResizeAlgorithm.RESIZE_BILINEAR_PILLOW: "bilinear_pillow",
    ResizeAlgorithm.RESIZE_BICUBIC_PILLOW: "bicubic_pillow",
}


class ColorFormat(_OVEnum):
    UNDEFINED = 0
    NV12_SINGLE_PLANE = 1
    NV12_TWO_PLANES = 2
    I420_SINGLE_PLANE = 3
    I420_THREE_PLANES = 4
    RGB = 5
    BGR = 6
    GRAY = 7
    RGBX = 8
    BGRX = 9

    @property
    def label(self) -> str:
        """The name OpenVINO prints in messages and `str(ppp)`."""
        return _COLOR_LABELS.get(self, "Unknown")

    @property
    def is_yuv(self) -> bool:
        """NV12/I420: planar YUV formats, whose conversions need ops irforge does not have yet."""
        return self in (ColorFormat.NV12_SINGLE_PLANE, ColorFormat.NV12_TWO_PLANES, ColorFormat.I420_SINGLE_PLANE,
                        ColorFormat.I420_THREE_PLANES)


_COLOR_LABELS = {
    ColorFormat.RGB: "RGB", ColorFormat.BGR: "BGR", ColorFormat.GRAY: "GRAY", ColorFormat.RGBX: "RGBX",
    ColorFormat.BGRX: "BGRX", ColorFormat.NV12_TWO_PLANES: "NV12 (multi-plane)",
    ColorFormat.NV12_SINGLE_PLANE: "NV12 (single plane)", ColorFormat.I420_THREE_PLANES: "I420 (multi-plane)",
    ColorFormat.I420_SINGLE_PLANE: "I420 (single plane)",
}


class PaddingMode(_OVEnum):
    """`pad` modes; each maps to a Pad-1 `pad_mode` (`PAD_MODE`)."""

    CONSTANT = 0
    REFLECT = 2
    SYMMETRIC = 3


PAD_MODE = {PaddingMode.CONSTANT: "constant", PaddingMode.REFLECT: "reflect", PaddingMode.SYMMETRIC: "symmetric"}
