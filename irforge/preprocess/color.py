"""Color formats of an input tensor, as OpenVINO's color_utils: the layout a format implies (NHWC), the shape
of the user's tensor (3 channels for RGB/BGR, 4 for RGBX/BGRX) and the conversions between formats.

NV12 and I420 (planar YUV) need OpenVINO's NV12toRGB/I420toRGB ops, which irforge does not have yet: choosing
those formats raises NotImplementedError."""
from __future__ import annotations

from irforge.ir.graph import Output
from irforge.ir.layout import Layout
from irforge.ir.shape import Dimension, PartialShape
from irforge.preprocess import builders
from irforge.preprocess.common import Context, PreprocessError
from irforge.preprocess.enums import ColorFormat

RGB_FAMILY = (ColorFormat.RGB, ColorFormat.BGR)
MODEL_FORMATS = (ColorFormat.RGB, ColorFormat.BGR, ColorFormat.GRAY, ColorFormat.UNDEFINED)


def check_supported(fmt: ColorFormat, what: str) -> ColorFormat:
    if not isinstance(fmt, ColorFormat):
        raise PreprocessError(f"{what}: expected a ColorFormat such as ColorFormat.RGB, got {fmt!r}")
    if fmt.is_yuv:
        raise NotImplementedError(f"{what}: color format {fmt.name} is not supported by irforge yet (it needs the "
                                  "NV12toRGB/I420toRGB ops)")
    return fmt


def default_layout(fmt: ColorFormat) -> Layout:
    """The layout a tensor of this color format has unless set: NHWC for every image format."""
    return Layout() if fmt is ColorFormat.UNDEFINED else Layout("NHWC")


def tensor_shape(fmt: ColorFormat, shape: PartialShape, layout: Layout) -> PartialShape:
    """The user's tensor shape for this color format: 3 channels for RGB/BGR, 4 for RGBX/BGRX (rank 4)."""
    if not shape.rank_is_static:
        return shape
    dims = list(shape.dims)
    if fmt in RGB_FAMILY:
        if not layout.has_name("C"):
            raise PreprocessError(f"set_color_format({fmt.name}): layout {layout} has no `channels` dimension")
        axis = layout.get_index_by_name("C")
        dims[axis + len(dims) if axis < 0 else axis] = Dimension.of(3)
    elif fmt in (ColorFormat.RGBX, ColorFormat.BGRX) and len(dims) == 4:
        dims[3] = Dimension.of(4)
    return PartialShape(dims)


def convert_color(x: Output, ctx: Context, dst: ColorFormat) -> Output:
    """The ops that turn the context's color format into `dst` (none when they are the same)."""
    src = ctx.color_format
    if src == dst:
        return x
    if src in RGB_FAMILY and dst in RGB_FAMILY:
        y = builders.reverse_channels(x, ctx.layout)
    elif src in RGB_FAMILY and dst is ColorFormat.GRAY:
        rgb = builders.GRAY_WEIGHTS_RGB
        y = builders.to_gray(x, ctx.layout, rgb if src is ColorFormat.RGB else rgb[::-1])
    elif src in (ColorFormat.RGBX, ColorFormat.BGRX) and dst in RGB_FAMILY:
        y = builders.cut_last_channel(x, ctx.layout)
        if (src is ColorFormat.RGBX) != (dst is ColorFormat.RGB):
            y = builders.reverse_channels(y, ctx.layout)
    else:
        raise PreprocessError(f"convert_color: color format '{src.label}' cannot be converted to '{dst.label}'")
    ctx.color_format = dst
    return y

