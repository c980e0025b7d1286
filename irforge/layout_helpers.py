"""OpenVINO's `openvino.layout_helpers`: the index of the batch/channels/depth/height/width axis of a layout, and the
layout of a model's input or output port. A model output's port here is the tensor its Result reads (irforge's
`model.output(i)`), which is where IR v11 stores the Result's layout."""
from __future__ import annotations

from irforge.ir.graph import Output
from irforge.ir.layout import Layout, LayoutError, port_layout, set_port_layout

__all__ = ["batch_idx", "channels_idx", "depth_idx", "height_idx", "width_idx", "has_batch", "has_channels",
           "has_depth", "has_height", "has_width", "get_layout", "set_layout"]


def has_batch(layout: Layout) -> bool:
    return layout.has_name("N")


def has_channels(layout: Layout) -> bool:
    return layout.has_name("C")


def has_depth(layout: Layout) -> bool:
    return layout.has_name("D")


def has_height(layout: Layout) -> bool:
    return layout.has_name("H")


def has_width(layout: Layout) -> bool:
    return layout.has_name("W")


def batch_idx(layout: Layout) -> int:
    """The batch axis (negative when counted from the end); LayoutError when the layout has none."""
    return layout.get_index_by_name("N")


def channels_idx(layout: Layout) -> int:
    return layout.get_index_by_name("C")


def depth_idx(layout: Layout) -> int:
    return layout.get_index_by_name("D")


def height_idx(layout: Layout) -> int:
    return layout.get_index_by_name("H")


def width_idx(layout: Layout) -> int:
    return layout.get_index_by_name("W")


def _port(port: object, what: str) -> Output:
    if not isinstance(port, Output):
        raise LayoutError(f"{what}: expected a model input or output port (irforge Output), got {type(port).__name__}")
    return port


def get_layout(port: Output) -> Layout:
    """The layout of a model input or output port (empty when none was set)."""
    return port_layout(_port(port, "get_layout"))


def set_layout(port: Output, layout: Layout | str) -> None:
    """Set the layout of a model input (a Parameter's port) or output (a port a Result reads); the empty layout
    removes it. The layout must fit the port's rank."""
    p = _port(port, "set_layout")
    if p.node.type != "Parameter" and not any(consumer.type == "Result" for consumer, _ in p.uses):
        raise LayoutError(f"set_layout: '{p.name}' is neither a model input nor a model output; a layout can be set "
                          "only on Parameter and Result ports")
    set_port_layout(p, layout, f"set_layout('{p.name}')")
