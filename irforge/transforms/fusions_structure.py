"""Normalization and structural fusions: decomposed MVN/LayerNorm, L2 normalization and softmax back to their
single ops, and Reshape -> Transpose -> Reshape chains to DepthToSpace / ShuffleChannels.

Modelled on OpenVINO's mvn_fusion.cpp, normalize_l2_fusion.cpp, softmax_fusion.cpp, depth_to_space_fusion.cpp
and shuffle_channels_fusion.cpp. Run them after constant folding, so reduction axes, exponents, eps and
reshape targets are Constants (or at least foldable) and reshape output shapes are as static as they get.

Every fusion refuses what its single op cannot express: a non-float input or one of dynamic rank, reductions
without keep_dims or over different axes, an eps that is negative, not one element or broadcasts the result
(as any other constant that changes the result's shape), and intermediates used outside the pattern.
"""
from __future__ import annotations

from collections.abc import Sequence

import ml_dtypes
import numpy as np

from irforge.errors import GraphError
from irforge.ir.graph import Output, constant, make
from irforge.ir.ops.normalization import reduction_axes
from irforge.ir.ops.shape_ops import SymDim, shape_input
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
    Power(var + eps, -0.5). A LayerNorm's gamma Multiply and beta Add are left as they are.

    Also TensorFlow's batch_normalization form with the constants inside (OpenVINO's
    MVNFusionWithConstantsInside): inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv)
    -> MVN(x) * gamma + beta."""

    name = "mvn_fusion"
    description = "fuse decomposed mean-variance normalization (LayerNorm, MVN) into MVN"

    def pattern(self) -> Pattern:
        x = Any("x")

        def mean() -> Op:
            return Op("ReduceMean", x, Any())

        sub = Op("Subtract", x, mean(), name="sub")
        d = OneOf(sub, Op("Subtract", x, mean()))  # the variance reuses the centered value or recomputes it
        square = OneOf(Op("Power", d, _k(2)), Op("Multiply", d, d), Op("SquaredDifference", x, mean()))
        var = Op("ReduceMean", square, Any())
        eps = Const("eps", where=_single)
        inside = Op("Add", var, eps, name="inside")
        std = OneOf(_sqrt(inside), Op("Add", _sqrt(var), eps))
        rsqrt = OneOf(Op("Power", inside, _k(-0.5)), Op("Divide", _k(1), _sqrt(inside)))
        inv = Op("Multiply", rsqrt, Const("gamma"), name="inv")
        with_constants = Op("Add", Op("Multiply", x, inv), Op("Subtract", Const("beta"), Op("Multiply", inv, mean())))
        return OneOf(_divided_by(sub, std), Op("Multiply", sub, Op("Power", inside, _k(-0.5))), with_constants)

    def check(self, m: Match) -> str | None:
        rank = _float_rank(m["x"])
        if rank is None:
            return "input is not floating point or has dynamic rank"
        if _common_axes(m, ("ReduceMean",), rank) is None:
            return "the ReduceMeans do not reduce the same constant axes with keep_dims"
        if _scalar_eps(m, rank) is None:
            return "eps is not a finite non-negative scalar of at most the input's rank"
        if not _keeps_shape(m):
            return "the result's shape differs from the input's (a constant broadcasts it)"
        return None

    def rewrite(self, m: Match) -> Output:
        rank = m["x"].shape.rank
        axes = _common_axes(m, ("ReduceMean",), rank)
        assert axes is not None
        mvn = make("MVN", [m["x"], _axes_const(axes)], eps=_scalar_eps(m, rank), normalize_variance=True,
                   eps_mode="INSIDE_SQRT" if "inside" in m else "OUTSIDE_SQRT").output(0)
        if "gamma" not in m:
            return mvn
        scaled = make("Multiply", [mvn, constant(m["gamma"])]).output(0)
        return make("Add", [scaled, constant(m["beta"])]).output(0)


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
        if eps is None or "norm_max" not in m or eps == 0:
            return eps
        # The clamp moves inside the root as eps^2: it must stay a finite normal number of the data type (0 or
        # inf would change the result; a subnormal may be flushed to 0 by the device).
        squared = eps * eps
        info = ml_dtypes.finfo(m["x"].element_type.dtype)
        return squared if float(info.tiny) <= squared <= float(info.max) else None

    def check(self, m: Match) -> str | None:
        rank = _float_rank(m["x"])
        if rank is None:
            return "input is not floating point or has dynamic rank"
        if _common_axes(m, ("ReduceSum", "ReduceL2"), rank) is None:
            return "the reductions do not share constant axes with keep_dims"
        if self._eps(m, rank) is None:
            return "eps is not a finite non-negative scalar of at most the input's rank (or its square is not normal)"
        if not _keeps_shape(m):
            return "the result's shape differs from the input's (a constant broadcasts it)"
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
        if not _keeps_shape(m):
            return "the result's shape differs from the input's (a constant broadcasts it)"
        return None

    def rewrite(self, m: Match) -> Output:
        return make("Softmax", [m["x"]], version="opset8", axis=self._axis(m)).output(0)


# ------------------------------------------------------------------------- Reshape -> Transpose -> Reshape

_RESHAPE_TRANSPOSE_RESHAPE = Op("Reshape", Op("Transpose", Op("Reshape", Any("x"), Any(), name="before"),
                                              Const("perm")), Any())


def _dims(out: Output, x: Output, x_dims: list[int | None] | None = None) -> list[int | None] | None:
    """The dims of one value of the chain: static ints, with None for a dynamic leading dim that is x's batch.
    None when the rank or any other dim is unknown.

    A dynamic leading dim is proven to be the batch by element counts: every value of the chain holds as many
    elements as x, so when its other dims multiply to the product of x's other dims (the checks below compare
    them with dims derived from x), its first dim equals x's. A Reshape to [x.size(0), -1, ...] (ShuffleNet's
    `view(batch, -1, h, w)`) leaves the -1 dynamic too, as inference cannot tell that the target's first element is
    the batch of the Reshape's (transposed) input; when that element is read from ShapeOf(x), it is x's batch and
    the -1 is solved here from x's element count (`x_dims`)."""
    shape = out.shape
    if not shape.rank_is_static or shape.rank == 0:
        return None
    dims = [d.min if d.is_static else None for d in shape.dims]
    if None not in dims[1:]:
        return dims
    if dims[0] is not None or x_dims is None or x_dims[0] is not None or out.node.type != "Reshape":
        return None
    target = shape_input(out.node, 1)
    first = target[0] if target is not None and len(target) == len(dims) else None
    if not (isinstance(first, SymDim) and first.source is x and first.axis == 0):
        return None
    unknown = [i for i, d in enumerate(dims[1:], 1) if d is None]
    known = int(np.prod([d for d in dims[1:] if d is not None], dtype=np.int64))
    total = int(np.prod(x_dims[1:], dtype=np.int64))
    if len(unknown) != 1 or known == 0 or total % known:
        return None
    dims[unknown[0]] = total // known
    return dims


def _chain_dims(m: Match) -> tuple[list[int | None], list[int | None], list[int], list[int | None]] | None:
    """Input, first-reshape and output dims of the chain plus the permutation, when the shapes qualify."""
    x = _dims(m["x"], m["x"])
    before = None if x is None else _dims(m["before"].outputs[0], m["x"], x)
    if before is None or m["perm"].size != len(before):
        return None
    perm = [int(p) for p in m["perm"].reshape(-1)]
    if sorted(perm) != list(range(len(perm))):
        return None
    after = _dims(m.root.outputs[0], m["x"], x)
    return None if after is None else (x, before, perm, after)


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
    of spatial dims) -> DepthToSpace. Needs static shapes (a dynamic batch is fine, see `_dims`) and the exact
    permutation of the op spec."""

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
    (ShuffleNet's channel shuffle) -> ShuffleChannels, along any axis. Needs static shapes (a dynamic batch is
    fine, see `_dims`)."""

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


STRUCTURE_FUSIONS: tuple[type[PatternPass], ...] = (
    MVNFusion, NormalizeL2Fusion, SoftmaxFusion, DepthToSpaceFusion, ShuffleChannelsFusion)
"""The fusions of this module in a good running order (run them after constant folding)."""
