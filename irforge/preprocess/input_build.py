"""Building one input's preprocessing, as OpenVINO's InputInfoImpl: a new Parameter for the user's tensor (its
type, shape and layout worked out from what was declared and the steps), the steps' ops on it, then the implicit
steps (convert to the model's element type, transpose to the model's layout), checked against the model's shape.
The same walk, on a scratch Parameter, gives the input's part of `str(PrePostProcessor)`."""
from __future__ import annotations

from dataclasses import dataclass

from irforge.errors import GraphError
from irforge.ir.graph import Node, Output, parameter
from irforge.ir.layout import Layout, LayoutError, port_layout, set_port_layout
from irforge.ir.shape import Dimension, PartialShape
from irforge.preprocess import color
from irforge.preprocess.common import (Context, PreprocessError, fmt_shape, fmt_tensor, height_index,
                                       shapes_compatible, width_index)
from irforge.preprocess.info import InputInfo
from irforge.preprocess.layout_math import find_permutation, find_squeeze
from irforge.preprocess.steps import Action, convert_layout_action, convert_type_action


@dataclass
class NewInput:
    """The user's new Parameter and the layouts the steps start from (tensor) and aim at (model)."""

    param: Node
    tensor_layout: Layout
    model_layout: Layout


def input_name(param: Node) -> str:
    port = param.output(0)
    return sorted(port.names)[0] if port.names else param.name


def _copy_rt_info(rt: dict) -> dict:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in rt.items()}


def new_parameter(info: InputInfo) -> NewInput:
    """The Parameter the user will feed, as OpenVINO's create_new_params computes it."""
    old, tensor, steps = info.param, info.tensor(), info.preprocess()
    port = old.output(0)
    et = tensor.element_type or port.element_type
    tensor_layout = tensor.layout if tensor.layout is not None else color.default_layout(tensor.color_format)
    model_shape = port.shape
    shape = tensor.shape if tensor.shape is not None else model_shape
    model_layout = info.model().layout if info.model().layout is not None else port_layout(port)
    if model_layout.empty and tensor.layout is not None:
        model_layout = steps.propagate_layout(tensor_layout)
    if not tensor_layout.empty and not model_layout.empty and model_layout != tensor_layout:
        shape, squeezed = find_squeeze(model_layout, model_shape, tensor_layout)
        order = find_permutation(squeezed, shape, tensor_layout)
        if order and shape.rank_is_static:
            shape = PartialShape([shape[v] for v in order])
    else:
        shape, layout = steps.param_shape(shape, model_layout)
        if tensor_layout.empty:
            tensor_layout = layout
    if tensor.shape is not None:
        shape = tensor.shape
    elif tensor.spatial is not None:
        what = "set_spatial_dynamic_shape" if tensor.spatial == "dynamic" else "set_spatial_static_shape"
        h, w = height_index(tensor_layout, shape, what), width_index(tensor_layout, shape, what)
        dims = list(shape.dims)
        if tensor.spatial == "dynamic":
            dims[h] = dims[w] = Dimension()
        else:
            dims[h], dims[w] = (Dimension.of(v) for v in tensor.spatial)
        shape = PartialShape(dims)
    shape = color.tensor_shape(tensor.color_format, shape, tensor_layout)
    new = parameter(et, shape, old.name)
    new.output(0).names = set(port.names)
    new.rt_info = _copy_rt_info(old.rt_info)
    new.output(0).rt_info = _copy_rt_info(port.rt_info)
    if not tensor_layout.empty:
        origin = "tensor().set_layout" if tensor.layout is not None else \
            "model().set_layout" if info.model().layout is not None else "layout"
        set_port_layout(new.output(0), tensor_layout, f"input '{input_name(old)}': {origin}")
    return NewInput(new, tensor_layout, model_layout)


def _context(info: InputInfo, new: NewInput) -> Context:
    port = info.param.output(0)
    return Context(layout=new.tensor_layout, target_layout=new.model_layout, target_element_type=port.element_type,
                   color_format=info.tensor().color_format, model_shape=port.shape)


def run_action(action: Action, x: Output, ctx: Context, where: str) -> Output:
    """Apply one step; a node that cannot take its input becomes a PreprocessError naming `where` (input 'x')
    and the step."""
    try:
        return action.run(x, ctx)
    except GraphError as e:
        raise PreprocessError(f"{where}: {action.name}: {e}") from None
    except (PreprocessError, LayoutError) as e:
        raise type(e)(f"{where}: {e}") from None


def implicit_actions(x: Output, ctx: Context) -> list[Action]:
    """The steps OpenVINO adds after the user's: to the model's element type, then to the model's layout."""
    actions = []
    if x.element_type != ctx.target_element_type:
        actions.append(convert_type_action(ctx.target_element_type))
    if not ctx.target_layout.empty and ctx.target_layout != ctx.layout:
        actions.append(convert_layout_action(ctx.target_layout, explicit=False, allow_unsqueeze=True))
    return actions


def _check_color(ctx: Context, name: str) -> None:
    if ctx.color_format not in color.MODEL_FORMATS:
        raise PreprocessError(f"input '{name}': the model takes RGB/BGR/GRAY data but the tensor is "
                              f"{ctx.color_format.label}; add preprocess().convert_color(...)")


def build_input(info: InputInfo) -> tuple[Node, Output]:
    """The new Parameter and the tensor that replaces the old Parameter's value (the model is not touched)."""
    name = input_name(info.param)
    new = new_parameter(info)
    ctx = _context(info, new)
    x = new.param.output(0)
    for action in info.preprocess().actions:
        x = run_action(action, x, ctx, f"input '{name}'")
    _check_color(ctx, name)
    for action in implicit_actions(x, ctx):
        x = run_action(action, x, ctx, f"input '{name}'")
    if not shapes_compatible(x.shape, ctx.model_shape):
        raise PreprocessError(f"input '{name}': the shape after preprocessing {fmt_shape(x.shape)} does not fit the "
                              f"model's input shape {fmt_shape(ctx.model_shape)}")
    return new.param, x


def describe_input(info: InputInfo, lines: list[str]) -> None:
    """Append the input's part of `str(PrePostProcessor)` to `lines` (nothing when nothing changes), as OpenVINO
    prints it; a step that fails leaves the lines so far."""
    name = input_name(info.param)
    new = new_parameter(info)
    ctx = _context(info, new)
    x = new.param.output(0)
    port = info.param.output(0)
    actions = info.preprocess().actions
    if (x.shape == ctx.model_shape and port_layout(port) == ctx.target_layout
            and x.element_type == ctx.target_element_type and not actions):
        return
    lines += [f'Input "{name}"' + (f" (color {ctx.color_format.label})" if ctx.color_format.value else "") + ":",
              f"    User's input tensor: {fmt_tensor(x.shape, ctx.layout, x.element_type)}",
              f"    Model's expected tensor: {fmt_tensor(ctx.model_shape, ctx.target_layout, ctx.target_element_type)}"]
    if actions:
        lines.append(f"    Pre-processing steps ({len(actions)}):")
    x = describe_steps(actions, x, ctx, lines, f"input '{name}'")
    implicit = implicit_actions(x, ctx)
    if implicit:
        lines.append(f"    Implicit pre-processing steps ({len(implicit)}):")
    describe_steps(implicit, x, ctx, lines, f"input '{name}'")


def describe_steps(actions: list[Action], x: Output, ctx: Context, lines: list[str], where: str) -> Output:
    """Apply `actions`, appending one line per step with the tensor before and after (OpenVINO's dump)."""
    for action in actions:
        before = fmt_tensor(x.shape, ctx.layout, x.element_type, ctx.color_format)
        lines.append(f"      {action.name}: ({before}")
        x = run_action(action, x, ctx, where)
        lines[-1] += f") -> ({fmt_tensor(x.shape, ctx.layout, x.element_type, ctx.color_format)})"
    return x
