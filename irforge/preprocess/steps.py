"""`PreProcessSteps` and `PostProcessSteps`: the user's list of steps, each recorded as an `Action` that adds
its ops when the PrePostProcessor is built (OpenVINO's PreStepsList / PostStepsList).

`custom(fn)`: `fn` receives the current tensor as an `irforge.ir.graph.Output` and returns the new one, built
with `irforge.ir.graph.make(op_type, inputs, **attrs)` (e.g. `lambda x: make("Abs", [x]).output(0)`); a returned
Node stands for its first output.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from irforge.ir.graph import Node, Output
from irforge.ir.layout import Layout, as_layout
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import ElementType, Type
from irforge.preprocess import builders, color
from irforge.preprocess.common import (Context, PreprocessError, as_floats, as_ints, as_type, fmt_values,
                                       mark_preprocessing)
from irforge.preprocess.enums import INTERPOLATE_MODE, PAD_MODE, ColorFormat, PaddingMode, ResizeAlgorithm
from irforge.preprocess.layout_math import apply_permutation, find_permutation, find_unsqueeze

Run = Callable[[Output, Context], Output]


@dataclass(frozen=True)
class Action:
    """One step: `name` as OpenVINO prints it, `run(tensor, context) -> tensor` adds its ops."""

    name: str
    run: Run


def _vector(values: Sequence[int]) -> str:
    return "[ " + ", ".join(str(v) for v in values) + " ]"


# ---------------------------------------------------------------- steps shared by both directions
def convert_type_action(et: ElementType) -> Action:
    def run(x: Output, ctx: Context) -> Output:
        t = ctx.target_element_type if et.is_dynamic else et
        if t == x.element_type:
            return x
        if t.is_dynamic:
            raise PreprocessError("convert_element_type: no type given and the target type is not known (give one, "
                                  "e.g. convert_element_type(Type.f32))")
        if x.element_type.is_dynamic:
            raise PreprocessError("convert_element_type: the tensor's element type is dynamic")
        return builders.convert(x, t)

    return Action(f"convert type ({et.name})", run)


def convert_layout_action(layout: Layout, explicit: bool, allow_unsqueeze: bool) -> Action:
    """Transpose (and, for inputs, unsqueeze) from the context's layout to `layout` (empty: the target)."""

    def run(x: Output, ctx: Context) -> Output:
        dst = ctx.target_layout if layout.empty else layout
        if explicit and (dst.empty or ctx.layout.empty):
            which = "the target layout" if dst.empty else "the current layout"
            raise PreprocessError(f"convert_layout({layout}): {which} is not known; set it with "
                                  "tensor().set_layout(...) and model().set_layout(...)")
        shape, src, added = find_unsqueeze(ctx.layout, x.shape, dst) if allow_unsqueeze else (x.shape, ctx.layout, 0)
        y = builders.unsqueeze_front(x, added) if added else x
        order = find_permutation(src, shape, dst)
        if not order:
            if y is not x:
                y.node.detach()  # OpenVINO drops the unsqueeze too when no transpose follows
            if not layout.empty:
                ctx.layout = layout
            return x
        ctx.layout = dst
        return builders.transpose(y, order)

    return Action(f"convert layout {layout}", run)


def permute_action(dims: list[int]) -> Action:
    """Transpose by axis indices (the order constant is u64, as OpenVINO makes it)."""

    def run(x: Output, ctx: Context) -> Output:
        new_layout = apply_permutation(ctx.layout, dims)
        y = builders.transpose(x, dims, dtype=_U64)
        ctx.layout = new_layout
        return y

    return Action(f"convert layout {fmt_values(dims)}", run)


def custom_action(fn: Callable[[Output], Any]) -> Action:
    if not callable(fn):
        raise PreprocessError(f"custom: expected a function of one irforge Output, got {fn!r}")

    def run(x: Output, ctx: Context) -> Output:
        out = fn(x)
        if isinstance(out, Node):
            out = out.output(0)
        if not isinstance(out, Output):
            raise PreprocessError(f"custom: the function must return an irforge Output (irforge.ir.graph.Output, "
                                  f"e.g. make('Abs', [x]).output(0)), got {type(out).__name__}")
        return out

    return Action("custom", run)


_U64 = Type.u64.dtype


def _layout_or_dims(value: Any, what: str) -> Layout | list[int]:
    if isinstance(value, (Layout, str)):
        return as_layout(value, what)
    return as_ints(value, what)


# ---------------------------------------------------------------- preprocessing
class PreProcessSteps:
    """The steps applied to a model input, in the order they are added (OpenVINO's `PreProcessSteps`)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self._layout_converts: list[list[int]] = []  # index-based convert_layout steps, newest first
        self._forward_converts: list[list[int]] = []  # the same since the last layout-named convert_layout
        self._last_layout: Layout | None = None  # the last layout-named convert_layout

    def _add(self, action: Action) -> "PreProcessSteps":
        self.actions.append(action)
        return self

    def convert_element_type(self, type: ElementType = Type.dynamic) -> "PreProcessSteps":  # noqa: A002
        """Convert to `type` (default: the model input's element type)."""
        return self._add(convert_type_action(as_type(type, "convert_element_type")))

    def mean(self, value: float | Sequence[float]) -> "PreProcessSteps":
        """Subtract one value, or one value per channel (the layout must name C)."""
        values = as_floats(value, "mean")
        return self._add(Action(f"mean {fmt_values(values)}", lambda x, ctx: builders.mean(x, values, ctx.layout)))

    def scale(self, value: float | Sequence[float]) -> "PreProcessSteps":
        """Divide by one value, or one value per channel (the layout must name C)."""
        values = as_floats(value, "scale")
        if any(v == 0 for v in values):
            raise PreprocessError(f"scale: a scale of 0 in {fmt_values(values)} (every value must be non-zero)")
        return self._add(Action(f"scale {fmt_values(values)}", lambda x, ctx: builders.scale(x, values, ctx.layout)))

    def pad(self, pads_begin: Sequence[int], pads_end: Sequence[int], value: float | Sequence[float],
            mode: PaddingMode) -> "PreProcessSteps":
        """Pad every axis by `pads_begin`/`pads_end` elements (Pad-1 with `mode`; `value` for CONSTANT)."""
        begin, end = as_ints(pads_begin, "pad: pads_begin"), as_ints(pads_end, "pad: pads_end")
        values = as_floats(value, "pad: value")
        if len(values) != 1:
            raise PreprocessError(f"pad: value must be one number, got {len(values)} values {fmt_values(values)}")
        if not isinstance(mode, PaddingMode):
            raise PreprocessError(f"pad: mode must be a PaddingMode (CONSTANT, REFLECT, SYMMETRIC), got {mode!r}")
        how = {PaddingMode.CONSTANT: f"with {fmt_values(values)}", PaddingMode.REFLECT: "reflected from tensor",
               PaddingMode.SYMMETRIC: "symmetrically added from tensor"}[mode]
        name = f"pad(begin {fmt_values(begin)}, end {fmt_values(end)}, {how})"
        return self._add(Action(name, lambda x, ctx: builders.pad(x, begin, end, values[0], PAD_MODE[mode])))

    def resize(self, alg: ResizeAlgorithm, dst_height: int | None = None,
               dst_width: int | None = None) -> "PreProcessSteps":
        """Resize the H and W axes to (dst_height, dst_width), or to the model's height and width."""
        if not isinstance(alg, ResizeAlgorithm):
            raise PreprocessError(f"resize: alg must be a ResizeAlgorithm (e.g. ResizeAlgorithm.RESIZE_LINEAR), "
                                  f"got {alg!r}")
        if (dst_height is None) != (dst_width is None):
            raise PreprocessError("resize: give both dst_height and dst_width, or neither (the model's size)")
        h = -1 if dst_height is None else int(dst_height)
        w = -1 if dst_width is None else int(dst_width)
        if dst_height is not None and (h <= 0 or w <= 0):
            raise PreprocessError(f"resize: the size must be positive, got ({h}, {w})")
        mode = INTERPOLATE_MODE[alg]

        def run(x: Output, ctx: Context) -> Output:
            if not (ctx.layout.has_name("H") and ctx.layout.has_name("W")):
                raise PreprocessError(f"resize: layout {ctx.layout} has no H and W; set the layout of the image data "
                                      "(e.g. tensor().set_layout('NCHW'))")
            if not x.shape.rank_is_static:
                raise PreprocessError("resize: the tensor has a dynamic rank")
            if h < 0 and not ctx.model_shape.rank_is_static:
                raise PreprocessError("resize: no size given and the model's input shape has a dynamic rank")
            height = h if h > 0 else ctx.model_spatial_size("H", "height")
            width = w if w > 0 else ctx.model_spatial_size("W", "width")
            return builders.resize(x, mode, height, width, ctx.layout)

        name = f"resize to ({h}, {w})" if h > 0 else "resize to model width/height"
        return self._add(Action(name, run))

    def crop(self, begin: Sequence[int], end: Sequence[int]) -> "PreProcessSteps":
        """Keep [begin, end) of every axis (negative ends count from the end)."""
        b, e = as_ints(begin, "crop: begin"), as_ints(end, "crop: end")
        name = f"Crop ({_vector(b)},{_vector(e)})"
        if len(b) != len(e):
            raise PreprocessError(f"crop: begin has {len(b)} coordinates and end {len(e)}; they must be as many")
        return self._add(Action(name, lambda x, ctx: builders.crop(x, b, e)))

    def convert_layout(self, dst_layout: Layout | str | Sequence[int]) -> "PreProcessSteps":
        """Transpose to `dst_layout` (a Layout; the empty one: the model's), or by a list of axis indices."""
        target = _layout_or_dims(dst_layout, "convert_layout")
        if isinstance(target, Layout):
            self._forward_converts.clear()
            self._last_layout = target
            return self._add(convert_layout_action(target, explicit=True, allow_unsqueeze=True))
        if not target:
            return self
        apply_permutation(Layout(), target)  # checks the indices now
        self._layout_converts.insert(0, target)
        self._forward_converts.append(target)
        return self._add(permute_action(target))

    def convert_color(self, dst_format: ColorFormat) -> "PreProcessSteps":
        """Convert from the tensor's color format (tensor().set_color_format) to `dst_format`."""
        fmt = color.check_supported(dst_format, "convert_color")
        return self._add(Action(f"convert color ({fmt.label})", lambda x, ctx: color.convert_color(x, ctx, fmt)))

    def reverse_channels(self) -> "PreProcessSteps":
        """Reverse the order of the channels (RGB <-> BGR); the layout must name C."""
        return self._add(Action("reverse channels",
                                lambda x, ctx: mark_preprocessing(builders.reverse_channels(x, ctx.layout))))

    def custom(self, operation: Callable[[Output], Any]) -> "PreProcessSteps":
        """A step of your own: `operation(tensor: Output) -> Output` (see the module docstring)."""
        return self._add(custom_action(operation))

    # -------------------------------------------------------------- layout bookkeeping (OpenVINO's)
    def propagate_layout(self, tensor_layout: Layout) -> Layout:
        """The model layout implied by the tensor layout and the convert_layout steps (when the model has none)."""
        res = self._last_layout if self._last_layout is not None else tensor_layout
        for dims in self._forward_converts:
            res = apply_permutation(res, dims)
        return res

    def param_shape(self, model_shape: PartialShape, model_layout: Layout) -> tuple[PartialShape, Layout]:
        """The user's tensor shape and layout before the index-based convert_layout steps."""
        if not model_shape.rank_is_static:
            return model_shape, model_layout
        rank = len(model_shape.dims)
        dims = list(model_shape.dims)
        layout = model_layout
        for convert in self._layout_converts:
            old, dims = dims, [Dimension()] * rank
            back = list(convert)
            for i, c in enumerate(convert):
                if c >= rank:
                    raise PreprocessError(f"convert_layout{tuple(convert)}: dimension {c} is out of bounds for "
                                          f"rank {rank}")
                dims[c] = old[i]
                back[c] = i
            layout = apply_permutation(layout, back)
        return PartialShape(dims), layout


# ---------------------------------------------------------------- postprocessing
class PostProcessSteps:
    """The steps applied to a model output, in order (OpenVINO's `PostProcessSteps`)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def _add(self, action: Action) -> "PostProcessSteps":
        self.actions.append(action)
        return self

    def convert_element_type(self, type: ElementType = Type.dynamic) -> "PostProcessSteps":  # noqa: A002
        """Convert to `type` (default: the type set with tensor().set_element_type)."""
        return self._add(convert_type_action(as_type(type, "convert_element_type")))

    def convert_layout(self, dst_layout: Layout | str | Sequence[int]) -> "PostProcessSteps":
        """Transpose to `dst_layout` (the empty Layout: the tensor's), or by a list of axis indices."""
        target = _layout_or_dims(dst_layout, "convert_layout")
        if isinstance(target, Layout):
            return self._add(convert_layout_action(target, explicit=True, allow_unsqueeze=False))
        if not target:
            return self
        apply_permutation(Layout(), target)
        return self._add(permute_action(target))

    def custom(self, operation: Callable[[Output], Any]) -> "PostProcessSteps":
        """A step of your own: `operation(tensor: Output) -> Output`."""
        return self._add(custom_action(operation))
