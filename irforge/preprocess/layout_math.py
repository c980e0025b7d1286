"""Layout arithmetic of preprocessing, as OpenVINO's `LayoutUtils` (src/core/src/layout.cpp): the transpose that
takes one layout to another, a layout after a transpose, and the axes a tensor layout lacks or adds (`HWC` fed to
an `NCHW` model)."""
from __future__ import annotations

from collections.abc import Sequence

from irforge.ir.layout import Layout, LayoutError
from irforge.ir.shape import Dimension, PartialShape


def apply_permutation(src: Layout, dims: Sequence[int]) -> Layout:
    """The layout of a tensor of layout `src` after Transpose(order=`dims`)."""
    used = [False] * len(dims)
    for d in dims:
        if not 0 <= d < len(dims):
            raise LayoutError(f"convert_layout{tuple(dims)}: dimension {d} is out of bounds")
        if used[d]:
            raise LayoutError(f"convert_layout{tuple(dims)}: dimension {d} is used more than once")
        used[d] = True
    if src.empty:
        return src
    if src.is_dynamic:
        raise LayoutError(f"convert_layout{tuple(dims)}: a layout with '...' ({src}) cannot be permuted by indices")
    index_map = src.index_map
    names = {index_map[d]: i for i, d in enumerate(dims) if d in index_map}
    return Layout._make(False, src.left_size, 0, names)


def _to_static(layout: Layout, shape: PartialShape) -> Layout:
    if not layout.is_dynamic:
        return layout
    if not shape.rank_is_static:
        raise LayoutError(f"layout {layout} with '...' cannot be converted for a tensor of dynamic rank")
    rank = len(shape.dims)
    names = {n: (i + rank if i < 0 else i) for n, i in {n: i for i, n in layout.index_map.items()}.items()}
    return Layout._make(False, rank, 0, names)


def find_permutation(src: Layout, shape: PartialShape, dst: Layout) -> list[int]:
    """The Transpose order that turns a tensor of `shape` and layout `src` into layout `dst` ([] when none is
    needed). Axes `dst` does not name keep their relative order."""
    if src == dst or src.empty or dst.empty:
        return []
    s, d = _to_static(src, shape), _to_static(dst, shape)
    if s.left_size != d.left_size:
        raise LayoutError(f"cannot convert layout {src} to {dst}: they have different ranks")
    if shape.rank_is_static and s.left_size != len(shape.dims):
        raise LayoutError(f"cannot convert layout {src} to {dst}: the tensor's shape [{shape}] has rank "
                          f"{len(shape.dims)}, the layout {s.left_size}")
    size = s.left_size
    res = [-1] * size
    if len(s.index_map) > len(d.index_map):  # from the least specified layout to the most specified one
        inverted = find_permutation(d, shape, s)
        if not inverted:
            return []
        for i, v in enumerate(inverted):
            res[v] = i
        return _trivial(res)
    mapped = [False] * size
    for idx, name in sorted(s.index_map.items()):
        if not dst.has_name(name):
            raise LayoutError(f"cannot convert layout {src} to {dst}: dimension '{name}' is not in {dst}")
        res[d.get_index_by_name(name)] = idx
        mapped[idx] = True
    free = 0
    for i in range(size):
        if res[i] < 0:
            while free < size and mapped[free]:
                free += 1
            mapped[free] = True
            res[i] = free
    return _trivial(res)


def _trivial(res: list[int]) -> list[int]:
    return [] if res == list(range(len(res))) else res


def find_squeeze(model_layout: Layout, model_shape: PartialShape, tensor_layout: Layout) -> tuple[PartialShape, Layout]:
    """For a tensor layout with fewer axes than the model's (`HWC` for `NCHW`): the model's shape and layout
    without the axes the tensor lacks."""
    if model_layout.is_dynamic or tensor_layout.is_dynamic or model_layout.left_size <= tensor_layout.left_size:
        return model_shape, model_layout
    if model_layout.left_size != len(model_layout.index_map):
        raise LayoutError(f"cannot convert layout {tensor_layout} to {model_layout}: name every axis of the model "
                          f"layout (it is {model_layout})")
    if tensor_layout.left_size != len(tensor_layout.index_map):
        raise LayoutError(f"cannot convert layout {tensor_layout} to {model_layout}: name every axis of the tensor "
                          f"layout (it is {tensor_layout})")
    rank_dynamic = not model_shape.rank_is_static
    if not rank_dynamic and len(model_shape.dims) != model_layout.left_size:
        raise LayoutError(f"model layout {model_layout} does not fit the model's shape [{model_shape}]: the ranks "
                          "differ")
    dims: list[Dimension] = []
    names: dict[str, int] = {}
    src_map = model_layout.index_map
    for src_idx in range(model_layout.left_size):
        name = src_map[src_idx]
        if tensor_layout.has_name(name):
            if not rank_dynamic:
                dims.append(model_shape[src_idx])
            names[name] = len(names)
    if len(names) != tensor_layout.left_size:
        missing = [n for n in tensor_layout.index_map.values() if n not in names]
        raise LayoutError(f"tensor layout {tensor_layout} has dimensions the model layout {model_layout} lacks: "
                          f"{', '.join(missing)}")
    shape = PartialShape(None) if rank_dynamic else PartialShape(dims)
    return shape, Layout._make(False, tensor_layout.left_size, 0, names)


def find_unsqueeze(src: Layout, shape: PartialShape, dst: Layout) -> tuple[PartialShape, Layout, int]:
    """For converting to a layout with more axes (`HWC` -> `NCHW`): the shape and layout after unsqueezing the
    missing axes at the front, and how many were added."""
    if src.is_dynamic or dst.is_dynamic or src.left_size >= dst.left_size:
        return shape, src, 0
    rank_dynamic = not shape.rank_is_static
    added = dst.left_size - src.left_size
    dims: list[Dimension] = [Dimension.of(1)] * dst.left_size
    names: dict[str, int] = {}
    unset = 0
    dst_map = dst.index_map
    for i in range(dst.left_size):
        name = dst_map.get(i)
        if name is None:
            raise LayoutError(f"cannot convert layout {src} to {dst}: name every axis of {dst}")
        if src.has_name(name):
            src_idx = src.get_index_by_name(name)
            names[name] = src_idx + added
            if not rank_dynamic:
                dims[src_idx + added] = shape[src_idx]
        else:
            names[name] = unset
            unset += 1
    new_shape = PartialShape(None) if rank_dynamic else PartialShape(dims)
    return new_shape, Layout._make(False, dst.left_size, 0, names), added
