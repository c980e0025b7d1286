"""Building one output's postprocessing, as OpenVINO's OutputInfoImpl: the steps' ops after the tensor the Result
reads, then the implicit steps (to the element type and layout set on `tensor()`); the Result then reads the last
one, which takes over the output's tensor names, and the Result's layout becomes the final layout."""
from __future__ import annotations

from irforge.ir.graph import Output, parameter
from irforge.ir.layout import Layout, port_layout, set_port_layout
from irforge.preprocess.common import Context, fmt_tensor
from irforge.preprocess.info import OutputInfo
from irforge.preprocess.input_build import describe_steps, run_action
from irforge.preprocess.steps import Action, convert_layout_action, convert_type_action


def output_name(info: OutputInfo) -> str:
    src = info.result.inputs[0]
    return sorted(src.names)[0] if src.names else info.result.name


def _context(info: OutputInfo, layout: Layout) -> Context:
    ctx = Context(layout=layout)
    tensor = info.tensor()
    if tensor.layout is not None:
        ctx.target_layout = tensor.layout
    if tensor.element_type is not None:
        ctx.target_element_type = tensor.element_type
    return ctx


def implicit_actions(info: OutputInfo, x: Output, ctx: Context) -> list[Action]:
    """To the element type set on tensor(), then to the layout set on tensor()."""
    actions = []
    et = info.tensor().element_type
    if et is not None and x.element_type != et and not x.element_type.is_dynamic:
        actions.append(convert_type_action(et))
    if not ctx.target_layout.empty and ctx.target_layout != ctx.layout:
        actions.append(convert_layout_action(ctx.target_layout, explicit=False, allow_unsqueeze=False))
    return actions


def build_output(info: OutputInfo) -> None:
    """Add the output's steps to the model (in place)."""
    result, name = info.result, output_name(info)
    src = result.inputs[0]
    if info.model().layout is not None:
        set_port_layout(src, info.model().layout, f"output '{name}': model layout")
    ctx = _context(info, port_layout(src))
    x = src
    applied = False
    for action in info.postprocess().actions:
        x = run_action(action, x, ctx, f"output '{name}'")
        applied = True
    for action in implicit_actions(info, x, ctx):
        x = run_action(action, x, ctx, f"output '{name}'")
        applied = True
    if not applied:
        return
    if x is not src:
        x.names, src.names = set(src.names), set()
        x.node.name = f"{src.node.name}.{src.index}"
        result.set_input(0, x)
    if not ctx.layout.empty:
        set_port_layout(x, ctx.layout, f"output '{name}': layout")


def describe_output(info: OutputInfo, lines: list[str]) -> None:
    """Append the output's part of `str(PrePostProcessor)` (nothing when nothing changes); the steps run on a
    scratch Parameter standing for the output, so the model is not touched."""
    src = info.result.inputs[0]
    model_layout = info.model().layout if info.model().layout is not None else port_layout(src)
    ctx = _context(info, model_layout)
    tensor, actions = info.tensor(), info.postprocess().actions
    if not ((tensor.layout is not None and model_layout != ctx.target_layout)
            or (tensor.element_type is not None and src.element_type != ctx.target_element_type) or actions):
        return
    name = output_name(info)
    lines += [f'Output "{name}":', f"    Model's data tensor: {fmt_tensor(src.shape, model_layout, src.element_type)}"]
    x = parameter(src.element_type, src.shape, f"{name}/scratch").output(0)
    if actions:
        lines.append(f"    Post-processing steps ({len(actions)}):")
    x = describe_steps(actions, x, ctx, lines, f"output '{name}'")
    implicit = implicit_actions(info, x, ctx)
    if implicit:
        lines.append(f"    Post-processing implicit steps ({len(implicit)}):")
    x = describe_steps(implicit, x, ctx, lines, f"output '{name}'")
    lines.append(f"    User's output tensor: {fmt_tensor(x.shape, ctx.layout, x.element_type)}")

