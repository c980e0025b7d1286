"""Normalization and structural fusions: decomposed MVN/LayerNorm, L2 normalization and softmax back to their
single ops, and Reshape -> Transpose -> Reshape chains to DepthToSpace / ShuffleChannels.

Modelled on OpenVINO's mvn_fusion.cpp, normalize_l2_fusion.cpp, softmax_fusion.cpp, depth_to_space_fusion.cpp
and shuffle_channels_fusion.cpp. Run them after constant folding, so reduction axes, exponents, eps and
reshape targets are Constants (or at least foldable) and reshape output shapes are as static as they get.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from irforge.errors import GraphError
from irforge.ir.graph import Output, constant, make
from irforge.ir.ops.normalization import reduction_axes
from irforge.transforms.base import PatternPass
from irforge.transforms.pattern import Any, Const, Match, Op, OneOf, Pattern

# ------------------------------------------------------------------------------------------------ helpers


def _single(value: np.ndarray) -> bool:
    return value.size == 1


def _k(want: float) -> Const:
    """A one-element Constant equal to `want` (any rank, any float/int type)."""
    return Const(where=lambda v: v.size == 1 and float(v.reshape(-1)[0]) == want)


def _sqrt(value: Pattern) -> Pattern:
    return OneOf(Op("Sqrt", value), Op("Power", value, _k(0.5)))


def _divided_by(numerator: Pattern, denominator: Pattern) -> Pattern:
    """numerator / denominator, also written numerator * denominator^-1 or numerator * (1 / denominator)."""
    return OneOf(Op("Divide", numerator, denominator),
                 Op("Multiply", numerator, OneOf(Op("Power", denominator, _k(-1)), Op("Divide", _k(1), denominator))))


def _float_rank(x: Output) -> int | None:
    """The rank of a floating-point value with static rank, else None (the fusions need both)."""
    if not x.element_type.is_float or not x.shape.rank_is_static:
        return None
    return x.shape.rank


def _common_axes(m: Match, types: Sequence[str], rank: int) -> tuple[int, ...] | None:
    """The normalized axes shared by every reduction of `types` in the match, or None when they differ, are
    empty, are unknown at conversion time, or a reduction drops its axes (keep_dims=false would broadcast the
    reduced value against the wrong dimensions)."""
    found: set[tuple[int, ...]] = set()
    for node in m.nodes:
        if node.type not in types:
            continue
        values = node.input_value(1)
        if not node.attrs["keep_dims"] or values is None:
            return None
        try:
            found.add(reduction_axes(node, values, rank))
        except GraphError:
            return None
    if len(found) != 1:
        return None
    axes = found.pop()
    return axes if axes else None


def _scalar_eps(m: Match, rank: int) -> float | None:
    """The bound `eps` as a float when it is a non-negative one-element constant of rank <= `rank`."""
    eps = m["eps"]
    if eps.ndim > rank or not np.isfinite(eps).all() or float(eps.reshape(-1)[0]) < 0:
        return None
    return float(eps.reshape(-1)[0])


def _axes_const(axes: tuple[int, ...]) -> Output:
    return constant(np.array(axes, dtype=np.int64))


def _keeps_shape(m: Match) -> bool:
    """The fused op keeps its input's shape: the pattern root must too (rules out eps of a higher rank)."""
    return m.root.outputs[0].shape == m["x"].shape


# ------------------------------------------------------------------------------------------------ MVN


class MVNFusion(PatternPass):
    """(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) and its variants -> MVN-6.

    The centered value may be recomputed for the variance, squared by Power(., 2), d*d or SquaredDifference;
    the root may be Sqrt or Power(., 0.5); eps inside the root (INSIDE_SQRT) or added after it
    (OUTSIDE_SQRT); the division a Divide, a Multiply by Power(., -1) or by 1/(.), or a Multiply by
    Power(var + eps, -0.5). A LayerNorm's gamma Multiply and beta Add are left as they are."""

    name = "mvn_fusion"
    description = "fuse decomposed mean-variance normalization (LayerNorm, MVN) into MVN"

    def pattern(self) -> Pattern:
        x = Any("x")

        def centered() -> Op:
            return Op("Subtract", x, Op("ReduceMean", x, Any()))

        sub = Op("Subtract", x, Op("ReduceMean", x, Any()), name="sub")
        d = OneOf(sub, centered())  # the variance reuses the centered value or recomputes it
        square = OneOf(Op("Power", d, _k(2)), Op("Multiply", d, d),
                       Op("SquaredDifference", x, Op("ReduceMean", x, Any())))
        var = Op("ReduceMean", square, Any())
        eps = Const("eps", where=_single)
        inside = Op("Add", var, eps, name="inside")
        std = OneOf(_sqrt(inside), Op("Add", _sqrt(var), eps))
        return OneOf(_divided_by(sub, std), Op("Multiply", sub, Op("Power", inside, _k(-0.5))))

    def check(self, m: Match) -> str | None:
        rank = _float_rank(m["x"])
        if rank is None:
            return "input is not floating point or has dynamic rank"
        if _common_axes(m, ("ReduceMean",), rank) is None:
            return "the ReduceMeans do not reduce the same constant axes with keep_dims"
        if _scalar_eps(m, rank) is None or not _keeps_shape(m):
            return "eps is not a non-negative scalar"
        return None

    def rewrite(self, m: Match) -> Output:
        rank = m["x"].shape.rank
        axes = _common_axes(m, ("ReduceMean",), rank)
        assert axes is not None
        return make("MVN", [m["x"], _axes_const(axes)], eps=_scalar_eps(m, rank), normalize_variance=True,
                    eps_mode="INSIDE_SQRT" if "inside" in m else "OUTSIDE_SQRT").output(0)


# ------------------------------------------------------------------------------------------------ NormalizeL2


class NormalizeL2Fusion(PatternPass):
    """x / sqrt(max(sum(x^2), eps)) and x / sqrt(sum(x^2) + eps) (root as Sqrt, Power(., 0.5) or a Multiply
    by Power(., -0.5)) -> NormalizeL2 with eps_mode max / add; and torch's F.normalize form
    x / expand(max(ReduceL2(x), eps)) -> NormalizeL2(max, eps^2), since max(sqrt(s), eps) = sqrt(max(s, eps^2))."""

    name = "normalize_l2_fusion"
    description = "fuse decomposed L2 normalization (x / ||x||) into NormalizeL2"

    def pattern(self) -> Pattern:
        x = Any("x")
        sum_sq = Op("ReduceSum", OneOf(Op("Power", x, _k(2)), Op("Multiply", x, x)), Any())
        eps = Const("eps", where=_single)
        guarded = OneOf(Op("Maximum", sum_sq, eps, name="max"), Op("Add", sum_sq, eps))
        norm = Op("Maximum", OneOf(Op("ReduceL2", x, Any()), _sqrt(sum_sq)), eps, name="norm_max")
        expanded = Op("Broadcast", norm, Any("target"), where=lambda n: n.attrs["mode"] != "explicit")
        return OneOf(_divided_by(x, OneOf(_sqrt(guarded), norm, expanded)),
                     Op("Multiply", x, Op("Power", guarded, _k(-0.5))))

    def _eps(self, m: Match, rank: int) -> float | None:
        eps = _scalar_eps(m, rank)
        if eps is None or "norm_max" not in m:
            return eps
        squared = eps * eps  # the clamp moves inside the root; it must not vanish in the data type
        return squared if eps == 0 or m["x"].element_type.dtype.type(squared) > 0 else None

    def check(self, m: Match) -> str | None:
        rank = _float_rank(m["x"])
        if rank is None:
            return "input is not floating point or has dynamic rank"
        if _common_axes(m, ("ReduceSum", "ReduceL2"), rank) is None:
            return "the reductions do not share constant axes with keep_dims"
        if self._eps(m, rank) is None or not _keeps_shape(m):
            return "eps is not a usable non-negative scalar"
        if "target" in m and not _expands_to_input(m["target"], m["x"]):
            return "the norm is broadcast to a shape that may differ from the input's"
        return None

    def rewrite(self, m: Match) -> Output:
        rank = m["x"].shape.rank
        axes = _common_axes(m, ("ReduceSum", "ReduceL2"), rank)
        assert axes is not None
        mode = "max" if "max" in m or "norm_max" in m else "add"
        return make("NormalizeL2", [m["x"], _axes_const(axes)], eps=self._eps(m, rank), eps_mode=mode).output(0)


def _expands_to_input(target: Output, x: Output) -> bool:
    """Whether broadcasting to `target` makes exactly x's shape: target is ShapeOf(x), or x is static and
    target is known to equal its shape (then dividing x by the broadcast value equals dividing directly)."""
    if target.node.type == "ShapeOf" and target.node.inputs[0] is x:
        return True
    value = target.constant_value()
    return x.shape.is_static and value is not None and list(np.asarray(value).reshape(-1)) == list(x.shape.to_shape())


# ------------------------------------------------------------------------------------------------ Softmax


class SoftmaxFusion(PatternPass):
    """exp(x - max(x)) / sum(exp(x - max(x))) and exp(x) / sum(exp(x)) over one axis -> Softmax-8."""

    name = "softmax_fusion"
    description = "fuse decomposed softmax (exp / sum(exp)) into Softmax"

    def pattern(self) -> Pattern:
        x = Any("x")
        e = OneOf(Op("Exp", Op("Subtract", x, Op("ReduceMax", x, Any())), name="exp"), Op("Exp", x, name="exp"))
        return _divided_by(e, Op("ReduceSum", e, Any()))

    def _axis(self, m: Match) -> int | None:
        rank = _float_rank(m["x"])
        axes = None if rank is None else _common_axes(m, ("ReduceMax", "ReduceSum"), rank)
        return axes[0] if axes is not None and len(axes) == 1 else None

    def check(self, m: Match) -> str | None:
        if self._axis(m) is None:
            return "not one constant axis shared by the reductions (with keep_dims), or not a float input"
        return None

    def rewrite(self, m: Match) -> Output:
        return make("Softmax", [m["x"]], version="opset8", axis=self._axis(m)).output(0)


# ------------------------------------------------------------------------------------------------ Reshape -> Transpose -> Reshape

_RESHAPE_TRANSPOSE_RESHAPE = Op("Reshape", Op("Transpose", Op("Reshape", Any("x"), Any(), name="before"),
                                              Const("perm")), Any())


def _dims(shape_of: Output) -> list[int | None] | None:
    """Static dims, with None for a dynamic leading (batch) dim; None when any other dim or the rank is
    dynamic. Two shapes whose other dims match and hold as many elements then agree on the batch too."""
    shape = shape_of.shape
    if not shape.rank_is_static or shape.rank == 0:
        return None
    dims = [d.min if d.is_static else None for d in shape.dims]
    return dims if None not in dims[1:] else None


def _chain_dims(m: Match) -> tuple[list[int | None], list[int | None], list[int], list[int | None]] | None:
    """Input, first-reshape and output dims of the chain plus the permutation, when the shapes qualify."""
    x, before, after = _dims(m["x"]), _dims(m["before"].outputs[0]), _dims(m.root.outputs[0])
    if x is None or before is None or after is None or m["perm"].size != len(before):
        return None
    return x, before, [int(p) for p in m["perm"].reshape(-1)], after


def _depth_to_space(x: list[int | None], before: list[int | None], perm: list[int],
                    after: list[int | None]) -> tuple[str, int] | None:
    """(mode, block_size) when the chain is a DepthToSpace of an [N, C, D1..DK] input."""
    k = len(x) - 2
    if k < 1 or len(before) != 2 * k + 2 or x[1] is None:
        return None
    for mode, block_at in (("depth_first", 2), ("blocks_first", 1)):
        block = before[block_at]
        if not block or x[1] % block**k:
            continue
        depth, spatial = x[1] // block**k, x[2:]
        if mode == "depth_first":  # [N, C', b.., D..] -> [0, 1, K+2, 2, K+3, 3, ...]
            shape = [x[0], depth] + [block] * k + spatial
            order = [0, 1] + [a for i in range(k) for a in (k + 2 + i, 2 + i)]
        else:  # blocks_first: [N, b.., C', D..] -> [0, K+1, K+2, 1, K+3, 2, ...]
            shape = [x[0]] + [block] * k + [depth] + spatial
            order = [0, k + 1] + [a for i in range(k) for a in (k + 2 + i, 1 + i)]
        out = [x[0], depth] + [d * block for d in spatial]
        if before == shape and perm == order and after == out:
            return mode, block
    return None


def _shuffle(x: list[int | None], before: list[int | None], perm: list[int],
             after: list[int | None]) -> tuple[int, int] | None:
    """(axis, group) when the chain splits axis `axis` of x into [group, C / group], swaps the two and
    merges them back; the dims after the split may be flattened ([N, g, C/g, H*W] as well as [N, g, C/g, H, W])."""
    swapped = [i for i, p in enumerate(perm) if p != i]
    if len(swapped) != 2 or swapped[1] != swapped[0] + 1 or perm[swapped[0]] != swapped[1]:
        return None
    axis = swapped[0]
    if axis >= len(x) or before[:axis] != x[:axis] or after != x:
        return None
    group, per_group, channels = before[axis], before[axis + 1], x[axis]
    if group is None or per_group is None or channels is None or group * per_group != channels:
        return None
    if np.prod(before[axis + 2:], dtype=np.int64) != np.prod(x[axis + 1:], dtype=np.int64):
        return None
    return axis, group


class DepthToSpaceFusion(PatternPass):
    """Reshape -> Transpose -> Reshape implementing DepthToSpace (blocks_first or depth_first, any number
    of spatial dims) -> DepthToSpace. Needs static shapes (a dynamic batch is fine) and the exact permutation."""

    name = "depth_to_space_fusion"
    description = "fuse Reshape-Transpose-Reshape chains that move channels to space into DepthToSpace"

    def pattern(self) -> Pattern:
        return _RESHAPE_TRANSPOSE_RESHAPE

    def _params(self, m: Match) -> tuple[str, int] | None:
        dims = _chain_dims(m)
        return None if dims is None else _depth_to_space(*dims)

    def check(self, m: Match) -> str | None:
        return None if self._params(m) is not None else "shapes or permutation are not a DepthToSpace"

    def rewrite(self, m: Match) -> Output:
        params = self._params(m)
        assert params is not None
        return make("DepthToSpace", [m["x"]], mode=params[0], block_size=params[1]).output(0)


class ShuffleChannelsFusion(PatternPass):
    """Reshape [.., g, C/g, ..] -> Transpose swapping those two axes -> Reshape back to the input shape
    (ShuffleNet's channel shuffle) -> ShuffleChannels. Needs static shapes (a dynamic batch is fine)."""

    name = "shuffle_channels_fusion"
    description = "fuse Reshape-Transpose-Reshape channel shuffles into ShuffleChannels"

    def pattern(self) -> Pattern:
        return _RESHAPE_TRANSPOSE_RESHAPE

    def _params(self, m: Match) -> tuple[int, int] | None:
        dims = _chain_dims(m)
        return None if dims is None else _shuffle(*dims)

    def check(self, m: Match) -> str | None:
        return None if self._params(m) is not None else "shapes or permutation are not a channel shuffle"

    def rewrite(self, m: Match) -> Output:
        params = self._params(m)
        assert params is not None
        return make("ShuffleChannels", [m["x"]], axis=params[0], group=params[1]).output(0)

