"""Reshaping a converted model: new input shapes or batch, then type/shape inference re-run over the graph
so every node agrees (a node that cannot take the new shapes is named in the error)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from irforge.errors import GraphError, OptionError
from irforge.ir.graph import Model, Output
from irforge.ir.shape import Dimension, PartialShape
from irforge.mo.options import InputSpec
from irforge.transforms.smart_reshape import relax_reshapes_before_matmul


def reinfer(model: Model) -> None:
    """Re-run type and shape inference over every node in topological order."""
    for node in model.nodes():
        try:
            node.infer()
        except GraphError as e:
            raise GraphError(f"after reshaping: {e}") from None
        except Exception as e:
            shapes = ", ".join(f"{i.element_type}[{i.shape}]" for i in node.inputs)
            raise GraphError(f"after reshaping: node '{node.name}' ({node.type}) cannot take its new input shapes "
                             f"({shapes}): {e}") from None


def find_input(model: Model, name: str | None, index: int, option: str) -> Output:
    """The model input `name` (or the `index`-th one when no name is given)."""
    if name is None:
        if index >= len(model.inputs):
            raise OptionError(f"{option}: {index + 1} shapes given but the model has {len(model.inputs)} input(s)")
        return model.inputs[index]
    for p in model.inputs:
        if name in p.names or name == p.node.name:
            return p
    from irforge.mo.cut import suggest

    raise OptionError(f"{option}: the model has no input '{name}'{suggest(model, name)}")


def set_input_shapes(model: Model, specs: Sequence[InputSpec], option: str = "--input-shape") -> None:
    """Give inputs new (partial) shapes; then re-infer the graph (see `_reshaped`)."""
    params = [find_input(model, spec.name, i, option).node for i, spec in enumerate(specs)]
    with _reshaped(model):
        for spec, param in zip(specs, params):
            if spec.shape is not None:
                param.attrs["shape"] = spec.shape
            if spec.element_type is not None:
                param.attrs["element_type"] = spec.element_type


@contextmanager
def _reshaped(model: Model) -> Iterator[None]:
    """Around a change of the Parameters: hard-coded Reshape targets are relaxed first (smart reshape, as
    OpenVINO's Model.reshape does), the graph is re-inferred after; when a node cannot take the new shapes, the
    Parameters get their old shapes and types back (and the graph its old shapes) before the error is raised."""
    relax_reshapes_before_matmul(model)
    saved = [(p, p.attrs["shape"], p.attrs["element_type"]) for p in model.parameters]
    try:
        yield
        reinfer(model)
    except BaseException:
        for param, shape, et in saved:
            param.attrs["shape"], param.attrs["element_type"] = shape, et
        reinfer(model)
        raise


def set_batch(model: Model, batch: int, batch_axes: dict[str, int] | None = None) -> None:
    """Set the batch dimension of every input (axis from `batch_axes` by input name, else 0); re-infer."""
    if batch < 1:
        raise OptionError(f"-b/--batch: the batch must be a positive integer, got {batch}")
    for p in model.inputs:
        shape = p.node.attrs["shape"]
        if not shape.rank_is_static or shape.rank == 0:
            raise OptionError(f"-b/--batch: input '{p.name}' has shape [{shape}] with no batch dimension; "
                              "use --input-shape instead")
    with _reshaped(model):
        for p in model.inputs:
            axis = (batch_axes or {}).get(p.name, 0)
            dims = list(p.node.attrs["shape"].dims)
            dims[axis] = Dimension.of(batch)
            p.node.attrs["shape"] = PartialShape(dims)


def make_static(model: Model) -> None:
    """`--static-shape`: every input must already have a static shape (after --input-shape/-b)."""
    dynamic = [f"{p.name}[{p.shape}]" for p in model.inputs if not p.shape.is_static]
    if dynamic:
        raise OptionError(f"--static-shape: input(s) {', '.join(dynamic)} are dynamic; give --input-shape")


def check_layouts(model: Model, layouts: dict[str | None, tuple[str | None, str]]) -> None:
    """Every layout given with --layout/--source-layout/--target-layout must have one letter per dimension of
    the input it applies to (the named one; without a name, every input). `...` stands for any number of
    dimensions."""
    for name, pair in layouts.items():
        ports = [find_input(model, name, 0, "--layout")] if name is not None else list(model.inputs)
        src, dst = pair
        if src and dst and sorted(src) != sorted(dst):
            continue  # not a permutation: preprocess.apply_layout says so
        for layout in (p for p in pair if p):
            for port in ports:
                if not port.shape.rank_is_static:
                    continue
                rank, named = port.shape.rank, len(layout.replace("...", ""))
                if rank < named if "..." in layout else rank != named:
                    raise OptionError(f"--layout: layout '{layout}' has {named} dimensions but input '{port.name}' "
                                      f"has rank {rank} (shape [{port.shape}])")
