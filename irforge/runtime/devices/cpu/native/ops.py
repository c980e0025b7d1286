"""The native executor's lowerings: one function per op family, registered by op type (build.LOWERINGS).

Convolutions and matrix products absorb the post-op chains the torch lowerings absorb (fusion.match_post_ops:
per-channel scale folded into the weights, bias, activation, residual Add, activation after it) as oneDNN
post-ops; an element-wise op absorbs the activation that follows it. Views cost no call (values.py): a Reshape,
Squeeze or Unsqueeze wherever NumPy's would be a view, Slice with positive steps, the parts of a Split, and a
Transpose that is dense or read only by views."""
from __future__ import annotations

import ctypes

import numpy as np

from irforge.ir.graph import Node
from irforge.ir.ops.convolution import dilated, explicit_pads, ints_or, resolve_pads
from irforge.ir.ops.pooling import _Window
from irforge.runtime.devices.cpu.fusion import Activation, PostOps, activation_of, match_post_ops
from irforge.runtime.devices.cpu.native import dnnl
from irforge.runtime.devices.cpu.native.build import REFERENCE, REFERENCE_OPS, Builder, lowers, matches
from irforge.runtime.devices.cpu.native.dnnl import ELTWISE, MemoryDesc, Primitive
from irforge.runtime.devices.cpu.native.values import Value, channels_last, reshaped_strides, row_major
from irforge.runtime.devices.cpu.registry import scalar_of


def eltwise_of(act: Activation) -> tuple[int, float, float]:
    """(algorithm, alpha, beta) of oneDNN's eltwise for a fusable activation."""
    a = act.attr
    if a == "relu":
        return ELTWISE["relu"], 0.0, 0.0
    if a == "leaky_relu":
        return ELTWISE["relu"], act.scalars[0], 0.0
    if a == "sigmoid":
        return ELTWISE["logistic"], 0.0, 0.0
    if a == "tanh":
        return ELTWISE["tanh"], 0.0, 0.0
    if a == "hardswish":
        return ELTWISE["hardswish"], 1 / 6, 0.5
    if a == "hardsigmoid":
        return ELTWISE["hardsigmoid"], 1 / 6, 0.5
    if a == "swish":
        return ELTWISE["swish"], 1.0, 0.0
    if a == "hardtanh":
        return ELTWISE["clip_v2"], act.scalars[0], act.scalars[1]
    assert a == "gelu", a
    return (ELTWISE["gelu_tanh"] if act.algorithm == "tanh" else ELTWISE["gelu_erf"]), 0.0, 0.0


def _out_shape(node: Node, i: int = 0) -> tuple[int, ...]:
    return tuple(node.outputs[i].shape.to_shape())


def _post_attr(post: PostOps, attr: dnnl.Attr, dst_shape: tuple[int, ...], dst_strides: tuple[int, ...]) -> int:
    """Append the activation / residual / activation-after post-ops of a matched chain to `attr`, for a
    destination stored with `dst_strides`; the residual's post-op index (-1: none)."""
    index = -1
    if post.act is not None:
        attr.eltwise(*eltwise_of(post.act))
    if post.residual is not None:
        index = attr.binary(dnnl.BINARY["add"], MemoryDesc.strided(dst_shape, dnnl.F32, dst_strides))
    if post.post_act is not None:
        attr.eltwise(*eltwise_of(post.post_act))
    return index


def _residual_args(b: Builder, post: PostOps, index: int, dst: Value) -> list[tuple[int, Value]]:
    """The residual's argument, stored as the destination is (a reorder where it is not)."""
    if post.residual is None:
        return []
    r = b.reorder_to(b.value(post.residual), dst.strides)
    return [(dnnl.arg_post_op(index) | dnnl.ARG_SRC_1, r)]


def _post_ops(b: Builder, dst: Value, post: PostOps, attr: dnnl.Attr, args: list[tuple[int, Value]]) -> str:
    """`_post_attr` and `_residual_args` for a destination already chosen; the exec-type suffix."""
    args.extend(_residual_args(b, post, _post_attr(post, attr, dst.shape, dst.strides), dst))
    return post.describe()


# ---------------------------------------------------------------- convolution
def _conv_channels(node: Node, w: np.ndarray) -> int:
    return int(w.shape[0] * w.shape[1]) if node.type == "GroupConvolution" else int(w.shape[0])


@matches("Convolution", "GroupConvolution")
def conv_chain(b: Builder, node: Node) -> PostOps | None:
    w = b.g.const(node.inputs[1])
    if w is None or not node.outputs[0].shape.is_static:
        return None
    return match_post_ops(node.outputs[0], b.g, 1, _conv_channels(node, w), residual=True, flexible=True)


@lowers("Convolution", "GroupConvolution")
def convolution(b: Builder, node: Node) -> None:
    w = b.g.const(node.inputs[1])
    if w is None or w.dtype.kind != "f":
        raise b.unsupported("runtime weights")
    x = b.value(node.inputs[0])
    rank = len(x.shape)
    if not 3 <= rank <= 5:
        raise b.unsupported(f"rank {rank}")
    nsp = rank - 2
    grouped = node.type == "GroupConvolution"
    a = node.attrs
    k = list(w.shape[-nsp:])
    strides = list(a["strides"])
    dil = ints_or(a["dilations"], 1, nsp)
    pb, pe = resolve_pads(list(x.shape[2:]), [dilated(kk, d) for kk, d in zip(k, dil)], strides, a["auto_pad"],
                          *explicit_pads(node, nsp))
    if any(p < 0 for p in pb + pe):
        raise b.unsupported("negative padding")
    post = b.matched.pop(node.uid, None) or PostOps(out=node.outputs[0])
    weights = np.asarray(w, np.float32)
    if post.scale is not None:  # per output channel: [O] or, grouped, [G, O/G]
        s = post.scale.astype(np.float32).reshape(w.shape[:2] if grouped else w.shape[:1])
        weights = weights * s.reshape(s.shape + (1,) * (weights.ndim - s.ndim))
    assert post.out is not None
    out_shape = tuple(post.out.shape.to_shape())
    bias = b.constant(post.bias.astype(np.float32)) if post.bias is not None else None
    lib = dnnl.library()
    w_any = MemoryDesc.any(weights.shape, dnnl.F32)
    # channels-last in and out (oneDNN's brgconv); where oneDNN has only its reference kernel for that (a 1-D
    # convolution of one input channel: wav2vec2's feature extractor), planar in, then planar in and out
    prim = src = dst_strides = residual_index = None
    for src_order, dst_order in ((channels_last, channels_last), (row_major, channels_last), (row_major, row_major)):
        src_md = MemoryDesc.strided(x.shape, dnnl.F32, src_order(x.shape))
        dst_strides = dst_order(out_shape)
        dst_md = MemoryDesc.strided(out_shape, dnnl.F32, dst_strides)
        attr = dnnl.Attr()
        residual_index = _post_attr(post, attr, out_shape, dst_strides)
        prim = Primitive(f"{b._where()}: convolution", lib.convolution_forward_primitive_desc_create, lib.engine,
                         dnnl.FORWARD_INFERENCE, dnnl.CONVOLUTION_DIRECT, src_md.handle, w_any.handle,
                         bias.md.handle if bias is not None else None, dst_md.handle, dnnl.dims(strides),
                         dnnl.dims([d - 1 for d in dil]), dnnl.dims(pb), dnnl.dims(pe), attr=attr)
        src = src_order
        if not prim.impl.startswith("ref"):
            break
    assert prim is not None and prim.weights is not None and src is not None and dst_strides is not None
    x = b.reorder_to(x, src(x.shape))
    dst = b.new(out_shape, dst_strides)
    args = _residual_args(b, post, residual_index, dst)
    packed = b.packed_const(b.pack(weights, prim.weights), prim.weights, tuple(weights.shape))
    call_args = [(dnnl.ARG_SRC, x), (dnnl.ARG_WEIGHTS, packed), (dnnl.ARG_DST, dst)] + args
    if bias is not None:
        call_args.append((dnnl.ARG_BIAS, bias))
    b.call(prim, call_args, f"conv{post.describe()}")
    b.define(post.out, dst)


# ---------------------------------------------------------------- matrix product
@matches("MatMul")
def matmul_chain(b: Builder, node: Node) -> PostOps | None:
    if b.g.const(node.inputs[1]) is None or not node.outputs[0].shape.is_static or node.outputs[0].shape.rank < 2:
        return None
    return match_post_ops(node.outputs[0], b.g, node.outputs[0].shape.rank - 1, node.outputs[0].shape.to_shape()[-1],
                          residual=True, flexible=True)


@lowers("MatMul")
def matmul(b: Builder, node: Node) -> None:
    out_shape = _out_shape(node)
    r = len(out_shape)
    if r < 2 or any(len(i.shape) < 2 for i in node.inputs):
        raise b.unsupported("a rank-1 operand")
    a = b.value(node.inputs[0])
    a = _lead(a, r)
    if node.attrs["transpose_a"]:
        a = _swap_last(a)
    wdata = b.g.const(node.inputs[1])
    n = out_shape[-1]
    args: list[tuple[int, Value]] = []
    attr = dnnl.Attr()
    if wdata is not None:
        post = b.matched.pop(node.uid, None) or PostOps(out=node.outputs[0])
        w = np.asarray(wdata, np.float32)
        w = w.reshape((1,) * (r - w.ndim) + w.shape)
        if node.attrs["transpose_b"]:
            w = np.swapaxes(w, -1, -2)
        if post.scale is not None:
            w = w * post.scale.astype(np.float32)
        assert post.out is not None
        final = tuple(post.out.shape.to_shape())
        dst = b.new(final)
        bias = None
        if post.bias is not None:
            bias = b.constant(post.bias.astype(np.float32).reshape((1,) * (r - 1) + (n,)))
        suffix = _post_ops(b, dst, post, attr, args)
        w_md = MemoryDesc.any(w.shape, dnnl.F32)
        out_node = post.out
    else:
        bv = _lead(b.value(node.inputs[1]), r)
        if node.attrs["transpose_b"]:
            bv = _swap_last(bv)
        dst = b.new(out_shape)
        bias, suffix, w_md, out_node = None, "", bv.md, node.outputs[0]
    lib = dnnl.library()
    a = _matmul_operand(b, a)
    prim = Primitive(f"{b._where()}: matmul", lib.matmul_primitive_desc_create, lib.engine, a.md.handle,
                     w_md.handle, bias.md.handle if bias is not None else None, dst.md.handle, attr=attr)
    if wdata is not None:
        assert prim.weights is not None
        wv = b.packed_const(b.pack(w, prim.weights), prim.weights, tuple(w.shape))
    else:
        wv = bv
    call_args = [(dnnl.ARG_SRC, a), (dnnl.ARG_WEIGHTS, wv), (dnnl.ARG_DST, dst)] + args
    if bias is not None:
        call_args.append((dnnl.ARG_BIAS, bias))
    b.call(prim, call_args, f"matmul{suffix}")
    b.define(out_node, dst)


def _lead(v: Value, rank: int) -> Value:
    """`v` with leading size-1 axes up to `rank` (a view)."""
    extra = rank - len(v.shape)
    if extra <= 0:
        return v
    top = max([s * d for s, d in zip(v.strides, v.shape)] + [1])
    return v.view((1,) * extra + v.shape, (top,) * extra + v.strides)


def _swap_last(v: Value) -> Value:
    shape = v.shape[:-2] + (v.shape[-1], v.shape[-2])
    strides = v.strides[:-2] + (v.strides[-1], v.strides[-2])
    return v.view(shape, strides)


def _matmul_operand(b: Builder, v: Value) -> Value:
    """oneDNN's matmul reads an operand whose last two axes have one unit stride; others are made row-major."""
    if v.strides[-1] == 1 or v.strides[-2] == 1 or v.shape[-1] == 1:
        return v
    return b.reorder_to(v, row_major(v.shape))


# ---------------------------------------------------------------- element-wise
_UNARY = {"Exp": "exp", "Abs": "abs", "Sqrt": "sqrt", "Log": "log"}


@lowers("Relu", "Sigmoid", "Tanh", "HSwish", "HSigmoid", "Swish", "Clamp", "Gelu", "PRelu", "Exp", "Abs", "Sqrt",
        "Log")
def unary(b: Builder, node: Node) -> None:
    if node.type in _UNARY:
        alg, alpha, beta = ELTWISE[_UNARY[node.type]], 0.0, 0.0
    elif node.type == "Swish" and len(node.inputs) > 1:
        beta_value = scalar_of(b.g.const(node.inputs[1]))
        if beta_value is None:
            raise b.unsupported("runtime beta")
        alg, alpha, beta = ELTWISE["swish"], float(beta_value), 0.0
    else:
        act = activation_of(node, b.g)
        if act is None:
            raise b.unsupported("an activation oneDNN does not compute")
        alg, alpha, beta = eltwise_of(act)
    b.define(node.outputs[0], _eltwise(b, b.value(node.inputs[0]), alg, alpha, beta, f"eltwise_{node.type.lower()}"))


def _eltwise(b: Builder, x: Value, alg: int, alpha: float, beta: float, exec_type: str,
             attr: dnnl.Attr | None = None, dst: Value | None = None) -> Value:
    """oneDNN's eltwise of `x` (made dense first: the primitive writes its source's layout) into `dst` (by default
    a fresh value in `x`'s layout); the destination."""
    x = _dense_value(b, x)
    dst = dst if dst is not None else b.like(x)
    lib = dnnl.library()
    prim = Primitive(f"{b._where()}: eltwise", lib.eltwise_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, alg, x.md.handle, dst.md.handle, alpha, beta, attr=attr)
    b.call(prim, [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)], exec_type)
    return dst


# Maximum and Minimum are NumPy steps (REFERENCE_OPS): oneDNN's max/min return the number where one side is NaN, REF NaN
_BINARY = {"Add": "add", "Subtract": "sub", "Multiply": "mul", "Divide": "div"}


@matches(*_BINARY)
def binary_chain(b: Builder, node: Node) -> PostOps | None:
    """An activation right after the element-wise op (oneDNN's binary takes it as a post-op)."""
    use = b.g.sole_consumer(node.outputs[0])
    if use is None or use[0].type in _BINARY:
        return None
    act = activation_of(use[0], b.g)
    if act is None or use[0].outputs[0].shape != node.outputs[0].shape:
        return None
    return PostOps(nodes=[use[0]], act=act, out=use[0].outputs[0])


@lowers(*_BINARY)
def binary(b: Builder, node: Node) -> None:
    if node.attrs.get("auto_broadcast", "numpy") not in ("numpy", "none"):
        raise b.unsupported(f"auto_broadcast {node.attrs['auto_broadcast']}")
    if node.type == "Divide" and node.attrs.get("m_pythondiv", False) and node.outputs[0].element_type.is_integral:
        raise b.unsupported("integer division")
    out_shape = _out_shape(node)
    r = len(out_shape)
    if _scalar_form(b, node, out_shape):
        return
    x0, x1 = (_lead(b.value(i), r) for i in node.inputs)
    attr = dnnl.Attr()
    alg = _BINARY[node.type]
    if x0.shape != out_shape:
        if x1.shape != out_shape:
            raise b.unsupported("both operands are broadcast")
        x0, x1 = x1, x0  # oneDNN broadcasts the second source only: a - b = -(b - a), a / b = (b / a) ^ -1
        if node.type == "Subtract":
            attr.eltwise(ELTWISE["linear"], -1.0, 0.0)
        elif node.type == "Divide":
            attr.eltwise(ELTWISE["pow"], 1.0, -1.0)
    if x1.shape != out_shape:  # broadcast: read as stored when dense (its size-1 axes' strides do not matter)
        if not _dense(x1):
            x1 = b.reorder_to(x1, row_major(x1.shape))
    elif x1.strides != x0.strides:  # same shape: stored as the first operand is, when that one is dense
        x1 = b.reorder_to(x1, x0.strides if _dense(x0) else row_major(x1.shape))
    suffix = ""
    out = node.outputs[0]
    chain = b.matched.pop(node.uid, None)
    if chain is not None:
        attr.eltwise(*eltwise_of(chain.act))
        out, suffix = chain.out, "+" + chain.act.attr
    dst = b.like(x0, out_shape)
    lib = dnnl.library()
    prim = Primitive(f"{b._where()}: binary", lib.binary_primitive_desc_create, lib.engine,
                     dnnl.BINARY[alg], x0.md.handle, x1.md.handle, dst.md.handle, attr=attr)
    b.call(prim, [(dnnl.ARG_SRC, x0), (dnnl.ARG_SRC_1, x1), (dnnl.ARG_DST, dst)], f"binary_{alg}{suffix}")
    b.define(out, dst)


def _scalar_form(b: Builder, node: Node, out_shape: tuple[int, ...]) -> bool:
    """x op c (or c op x) with a scalar constant c, for +, -, * and /: oneDNN's linear eltwise (a*x + b), which
    also takes the broadcast-first forms the binary primitive does not (1 - mask)."""
    consts = [b.g.const(i) for i in node.inputs]
    k = next((i for i in (1, 0) if consts[i] is not None and consts[i].size == 1), None)
    if k is None or consts[1 - k] is not None or tuple(node.inputs[1 - k].shape.to_shape()) != out_shape:
        return False
    c = float(np.asarray(consts[k]).reshape(-1)[0])
    if node.type == "Add":
        alpha, beta = 1.0, c
    elif node.type == "Multiply":
        alpha, beta = c, 0.0
    elif node.type == "Subtract":
        alpha, beta = (1.0, -c) if k == 1 else (-1.0, c)
    elif k == 1 and c != 0.0:
        alpha, beta = 1.0 / c, 0.0
    else:
        return False
    attr = dnnl.Attr()
    out, suffix = node.outputs[0], ""
    chain = b.matched.pop(node.uid, None)
    if chain is not None:
        attr.eltwise(*eltwise_of(chain.act))
        out, suffix = chain.out, "+" + chain.act.attr
    b.define(out, _eltwise(b, b.value(node.inputs[1 - k]), ELTWISE["linear"], alpha, beta,
                           f"linear_{_BINARY[node.type]}{suffix}", attr))
    return True


def _dense(v: Value) -> bool:
    return v.is_row_major or v.is_channels_last


def _dense_value(b: Builder, v: Value) -> Value:
    """`v`, or a row-major copy of a strided view (oneDNN's eltwise writes its source's layout)."""
    return v if _dense(v) else b.reorder_to(v, row_major(v.shape))


# ---------------------------------------------------------------- pooling and reductions
@lowers("MaxPool", "AvgPool")
def pooling(b: Builder, node: Node) -> None:
    if len(node.outputs) > 1 and (b.g.uses(node.outputs[1]) or b.g.is_output(node.outputs[1])):
        raise b.unsupported("MaxPool indices are used")
    x = _dense_value(b, b.value(node.inputs[0]))
    if not 3 <= len(x.shape) <= 5:
        raise b.unsupported(f"rank {len(x.shape)}")
    win = _Window(node, x.shape)
    if node.type == "MaxPool":
        alg = dnnl.POOLING_MAX
    else:
        alg = dnnl.POOLING_AVG_EXCLUDE_PADDING if node.attrs["exclude-pad"] else dnnl.POOLING_AVG_INCLUDE_PADDING
        if not node.attrs["exclude-pad"] and win.reach_end != list(win.pads_end):
            raise b.unsupported("average pooling counting pads with windows past the end padding")
    dst = b.like(x, _out_shape(node))
    lib = dnnl.library()
    prim = Primitive(f"{b._where()}: pooling", lib.pooling_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, alg, x.md.handle, dst.md.handle, dnnl.dims(win.strides),
                     dnnl.dims(win.kernel), dnnl.dims([d - 1 for d in win.dilations]), dnnl.dims(win.pads_begin),
                     dnnl.dims(win.reach_end))
    b.call(prim, [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)], node.type.lower())
    b.define(node.outputs[0], dst)


# ReduceMax and ReduceMin are NumPy steps (REFERENCE_OPS): oneDNN's skip NaN, REF's propagate it
_REDUCTIONS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceL2": "l2", "ReduceL1": "l1"}
_LP = {"l2": 2.0, "l1": 1.0}  # oneDNN's norm_lp_sum: (sum |x|^p)^(1/p)


@lowers(*_REDUCTIONS)
def reduction(b: Builder, node: Node) -> None:
    axes_value = b.g.const(node.inputs[1])
    if axes_value is None:
        raise b.unsupported("runtime axes")
    x = _dense_value(b, b.value(node.inputs[0]))
    r = len(x.shape)
    axes = sorted({int(a) % r for a in np.asarray(axes_value).reshape(-1)}) if r else []
    if not axes:  # nothing reduced: the value itself
        b.define(node.outputs[0], x)
        return
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    dst = b.like(x, kept)
    kind = _REDUCTIONS[node.type]
    run = axes == list(range(axes[0], axes[-1] + 1)) and axes[-1] < r - 1  # middle axes, the last kept
    if axes == list(range(2, r)) and 3 <= r <= 5:  # the spatial axes: global average pooling (oneDNN's reduction
        # has only its reference kernel for them on a channels-last tensor)
        _global_pool(b, x, dst, kind, float(np.prod(x.shape[2:])))
    elif run and x.is_row_major and kind in ("mean", "sum", "l1", "l2"):  # [P, M, Q] reducing M, read as a
        # channels-last [P, Q, M] (M "spatial"): the same pooling (ConvNeXt-V2's GRN in its [B, H, W, C] form)
        p, m = int(np.prod(x.shape[:axes[0]])), int(np.prod([x.shape[i] for i in axes]))
        q = int(np.prod(x.shape[axes[-1] + 1:]))
        pooled = b.new((p, q, 1), channels_last((p, q, 1)))
        _global_pool(b, x.view((p, q, m), (m * q, 1, q)), pooled, kind, float(m))
        dst = pooled.view(kept, row_major(kept))
    else:
        alg = dnnl.REDUCTION["norm_lp_sum"] if kind in _LP else dnnl.REDUCTION[kind]
        lib = dnnl.library()
        prim = Primitive(f"{b._where()}: reduction", lib.reduction_primitive_desc_create, lib.engine,
                         alg, x.md.handle, dst.md.handle, _LP.get(kind, 0.0), 0.0)
        if prim.impl.startswith("ref"):  # oneDNN's fast reductions take the innermost axes only; NumPy's reduce
            reference_step(b, node)  # other axes faster than moving them there (YOLO's class max: 6.7 -> 1 ms)
            return
        b.call(prim, [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)], f"reduce_{kind}")
    if node.attrs.get("keep_dims", False):
        b.define(node.outputs[0], dst)
    else:  # dropping size-1 axes keeps the other axes' strides
        keep = [i for i in range(r) if i not in axes]
        b.define(node.outputs[0], dst.view(tuple(dst.shape[i] for i in keep), tuple(dst.strides[i] for i in keep)))


def _global_pool(b: Builder, x: Value, dst: Value, kind: str, n: float) -> None:
    """Average pooling over all spatial axes of channels-last `x` into `dst`, for a reduction of `n` elements:
    sum = n * mean, L1 = n * mean(|x|), L2 = sqrt(n * mean(x^2)), the first step an eltwise and the last the
    pooling's post-op (ConvNeXt-V2's GRN took 1.44x OpenVINO's time as a NumPy step)."""
    lib = dnnl.library()
    r = len(x.shape)
    src = x
    if kind in _LP:
        step = "square" if kind == "l2" else "abs"
        src = _eltwise(b, x, ELTWISE[step], 0.0, 0.0, f"reduce_{kind}_{step}",
                       dst=b.new(x.shape, channels_last(x.shape)))
    attr = dnnl.Attr()
    if kind == "l2":
        attr.eltwise(ELTWISE["pow"], float(np.sqrt(n)), 0.5)
    elif kind in ("sum", "l1"):
        attr.eltwise(ELTWISE["linear"], n, 0.0)
    zeros = dnnl.dims([0] * (r - 2))
    prim = Primitive(f"{b._where()}: pooling", lib.pooling_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, dnnl.POOLING_AVG_EXCLUDE_PADDING, src.md.handle, dst.md.handle,
                     dnnl.dims([1] * (r - 2)), dnnl.dims(x.shape[2:]), zeros, zeros, zeros, attr=attr)
    b.call(prim, [(dnnl.ARG_SRC, src), (dnnl.ARG_DST, dst)], f"global_pool_{kind}")


@lowers("Softmax", "SoftMax")
def softmax(b: Builder, node: Node) -> None:
    x = _dense_value(b, b.value(node.inputs[0]))
    axis = int(node.attrs["axis"]) % len(x.shape)
    dst = b.like(x)
    lib = dnnl.library()
    prim = Primitive(f"{b._where()}: softmax", lib.softmax_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, dnnl.SOFTMAX_ACCURATE, x.md.handle, dst.md.handle, axis)
    b.call(prim, [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)], "softmax", allow_ref=True)
    b.define(node.outputs[0], dst)


# ---------------------------------------------------------------- data movement
@lowers("Reshape", "Squeeze", "Unsqueeze")
def reshape(b: Builder, node: Node) -> None:
    """A view wherever NumPy's reshape would give one (values.reshaped_strides), else a row-major copy viewed."""
    x = b.value(node.inputs[0])
    shape = _out_shape(node)
    strides = reshaped_strides(x.shape, x.strides, shape)
    if strides is None:
        x = b.reorder_to(x, row_major(x.shape))
        strides = row_major(shape)
    b.define(node.outputs[0], x.view(shape, strides))


_VIEW_CONSUMERS = ("Reshape", "Squeeze", "Unsqueeze", "Transpose")


@lowers("Transpose")
def transpose(b: Builder, node: Node) -> None:
    """A view when it is dense in row-major or channels-last order, or when only views read it (a Transpose and
    Reshape between attention and convolution stages cancel out: SegFormer, MobileViT); else a row-major copy."""
    perm_value = b.g.const(node.inputs[1])
    if perm_value is None:
        raise b.unsupported("runtime permutation")
    x = b.value(node.inputs[0])
    perm = [int(p) for p in np.asarray(perm_value).reshape(-1)] or list(reversed(range(len(x.shape))))
    view = x.view(tuple(x.shape[p] for p in perm), tuple(x.strides[p] for p in perm))
    out = node.outputs[0]
    uses = b.g.uses(out)
    if _dense(view) or (uses and not b.g.is_output(out) and all(n.type in _VIEW_CONSUMERS for n, _ in uses)):
        b.define(out, view)
    else:
        b.define(out, b.reorder_to(view, row_major(view.shape)))


@lowers("Concat")
def concat(b: Builder, node: Node) -> None:
    out_shape = _out_shape(node)
    axis = int(node.attrs["axis"]) % len(out_shape)
    parts = [b.value(i) for i in node.inputs]
    parts = [p for p in parts if p.shape[axis] > 0]
    dst = b.like(next((p for p in parts if p.is_channels_last and not p.is_row_major), parts[0]), out_shape)
    lib = dnnl.library()
    mds = (ctypes.c_void_p * len(parts))(*[p.md.handle for p in parts])
    prim = Primitive(f"{b._where()}: concat", lib.concat_primitive_desc_create, lib.engine, dst.md.handle,
                     len(parts), axis, mds)
    # oneDNN's "ref" concat is one reorder per part (its fast form needs every part in the destination's layout)
    b.call(prim, [(dnnl.ARG_MULTIPLE_SRC + i, p) for i, p in enumerate(parts)] + [(dnnl.ARG_DST, dst)], "concat",
           allow_ref=True)
    b.define(node.outputs[0], dst)


@lowers("VariadicSplit", "Split")
def split(b: Builder, node: Node) -> None:
    axis_value = b.g.const(node.inputs[1])
    if axis_value is None:
        raise b.unsupported("runtime axis")
    x = b.value(node.inputs[0])
    axis = int(np.asarray(axis_value).reshape(-1)[0]) % len(x.shape)
    start = 0
    for out in node.outputs:
        shape = tuple(out.shape.to_shape())
        b.define(out, x.view(shape, x.strides, start * x.strides[axis] * x.dtype.itemsize))
        start += shape[axis]


@lowers("Slice")
def slice_(b: Builder, node: Node) -> None:
    consts = [b.g.const(i) for i in node.inputs[1:]]
    if any(c is None for c in consts):
        raise b.unsupported("runtime bounds")
    x = b.value(node.inputs[0])
    r = len(x.shape)
    starts, stops, steps = (np.asarray(c).reshape(-1).tolist() for c in consts[:3])  # type: ignore[union-attr]
    axes = np.asarray(consts[3]).reshape(-1).tolist() if len(consts) > 3 else list(range(len(starts)))
    offset = 0
    strides = list(x.strides)
    for start, stop, step, axis in zip(starts, stops, steps, axes):
        axis = int(axis) % r
        if step <= 0:
            raise b.unsupported("a non-positive step")
        first = slice(int(start), int(stop), int(step)).indices(x.shape[axis])[0]
        offset += first * x.strides[axis]
        strides[axis] *= int(step)
    b.define(node.outputs[0], x.view(_out_shape(node), tuple(strides), offset * x.dtype.itemsize))


@lowers("Interpolate")
def interpolate(b: Builder, node: Node) -> None:
    """oneDNN's resampling for the spatial axes: nearest where the IR's coordinate transformation and rounding
    copy element i // factor for integer upsampling factors (read off the reference kernel: nearest.probe_indices;
    YOLO's, U-Net's), linear where the IR's is the half-pixel linear interpolation oneDNN computes (SegFormer's
    decode head: linear_onnx, half_pixel, no antialiasing, scales equal to the size ratios); other resizes stay on
    the torch executor."""
    from irforge.runtime.devices.cpu.nearest import probe_indices

    a = node.attrs
    if any(b.g.is_runtime(s) for s in node.inputs[1:]):
        raise b.unsupported("runtime sizes")
    x = _dense_value(b, b.value(node.inputs[0]))
    out_shape = _out_shape(node)
    r = len(x.shape)
    if not 3 <= r <= 5 or out_shape[:2] != x.shape[:2] or any(a.get("pads_begin") or []) or \
            any(a.get("pads_end") or []):
        raise b.unsupported("not a resize of the spatial axes alone")
    factors = [out_shape[i] / x.shape[i] for i in range(2, r)]
    if a["mode"] == "nearest":
        plan = probe_indices(node, b.g)
        if plan is None:
            raise b.unsupported("not a per-axis nearest copy")
        for axis in range(2, r):
            n_in, n_out = x.shape[axis], out_shape[axis]
            idx = dict(plan).get(axis, np.arange(n_in))
            if n_out % n_in or not np.array_equal(idx, np.arange(n_out) // (n_out // n_in)):
                raise b.unsupported("not an integer-factor nearest upsampling")
        alg = dnnl.RESAMPLING_NEAREST
    elif a["mode"] in ("linear", "linear_onnx"):
        half = a["coordinate_transformation_mode"] == "half_pixel" or (
            a["coordinate_transformation_mode"] == "pytorch_half_pixel" and min(out_shape[2:]) > 1)
        if not half or a.get("antialias"):
            raise b.unsupported(f"{a['mode']} with {a['coordinate_transformation_mode']} coordinates")
        consts = [b.g.const(i) for i in node.inputs[1:]]
        resize = node.op.plan(node, [np.empty(x.shape, np.float32)] + consts)  # type: ignore[attr-defined]
        for axis, scale in zip(resize.axes, resize.scales):
            if axis >= 2 and abs(float(scale) - out_shape[axis] / x.shape[axis]) > 1e-6 * out_shape[axis]:
                raise b.unsupported("scales other than the size ratios")
        alg = dnnl.RESAMPLING_LINEAR
    else:
        raise b.unsupported(f"mode {a['mode']}")
    dst = b.like(x, out_shape)
    lib = dnnl.library()
    fs = (ctypes.c_float * len(factors))(*factors)
    prim = Primitive(f"{b._where()}: resampling", lib.resampling_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, alg, fs, x.md.handle, dst.md.handle)
    b.call(prim, [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)],
           "resample_nearest" if alg == dnnl.RESAMPLING_NEAREST else "resample_linear")
    b.define(node.outputs[0], dst)


# ---------------------------------------------------------------- NumPy steps (no oneDNN primitive)
@lowers(*REFERENCE_OPS, REFERENCE)
def reference_step(b: Builder, node: Node) -> None:
    """The op's own reference kernel as a step over the plan's buffers (embedding lookups, mask conversions:
    small next to the model, and the semantics stay in one place, the IR op)."""
    runtime = [i for i, src in enumerate(node.inputs) if b.g.is_runtime(src)]
    consts = [b.g.const(src) for src in node.inputs]
    ins = [b.value(node.inputs[i]) for i in runtime]
    outs = [b.new(_out_shape(node, k), dtype=np.dtype(o.element_type.dtype)) for k, o in enumerate(node.outputs)]
    evaluate, n = node.op.evaluate, len(ins)

    def fn(*arrays: np.ndarray) -> None:
        args = list(consts)
        for i, a in zip(runtime, arrays[:n]):
            args[i] = a
        for out, got in zip(arrays[n:], evaluate(node, args)):  # type: ignore[arg-type]
            out[...] = got
    b.numpy_call(fn, ins, outs, node.type.lower())
    for o, v in zip(node.outputs, outs):
        b.define(o, v)


@lowers("Gather")
def gather(b: Builder, node: Node) -> None:
    """Gather without batch dims (embedding lookups, a token picked out of a sequence): one `np.take` into the
    output buffer when every index is in range, checked per run (REF's rules for the others: negative indices
    count from the back, out-of-range ones give zeros, by the op's reference kernel)."""
    axis_value = b.g.const(node.inputs[2])
    data_shape = tuple(node.inputs[0].shape.to_shape())
    if axis_value is None or not data_shape or node.op.batch_dims(node, len(node.inputs[1].shape)) != 0:
        reference_step(b, node)
        return
    axis = int(np.asarray(axis_value).reshape(-1)[0]) % len(data_shape)
    dim = data_shape[axis]
    evaluate = node.op.evaluate
    const_data, const_idx = b.g.const(node.inputs[0]), b.g.const(node.inputs[1])
    runtime = [src for src in node.inputs[:2] if b.g.is_runtime(src)]
    ins = [b.value(src) for src in runtime]
    out = b.new(_out_shape(node, 0), dtype=np.dtype(node.outputs[0].element_type.dtype))

    def fn(*arrays: np.ndarray) -> None:
        it = iter(arrays[:-1])
        data = const_data if const_data is not None else next(it)
        idx = np.asarray(const_idx if const_idx is not None else next(it))
        dst = arrays[-1]
        i = idx.astype(np.intp, copy=False)
        in_range = dim > 0
        if i.size and in_range:
            low = i.min()
            if low < 0:  # counted from the back
                i = np.where(i < 0, i + dim, i)
                low = i.min()
            in_range = low >= 0 and i.max() < dim
        if in_range:
            np.take(data, i, axis=axis, out=dst, mode="clip")
        else:
            dst[...] = evaluate(node, [data, idx, np.array(axis)])[0]  # out of range: zeros there (REF)
    b.numpy_call(fn, ins, [out], "gather")
    b.define(node.outputs[0], out)


@lowers("GatherElements")
def gather_elements(b: Builder, node: Node) -> None:
    """Constant indices (DeBERTa's relative-position gathers): the flat offsets into the row-major data are
    computed once and a run is one `np.take` (4x faster than `take_along_axis` with its index normalization).
    Runtime or out-of-range indices run the reference kernel (its error for the latter)."""
    indices = b.g.const(node.inputs[1])
    data_shape = tuple(node.inputs[0].shape.to_shape())
    r = len(data_shape)
    if indices is None or r == 0:
        reference_step(b, node)
        return
    axis = node.attrs["axis"] % r
    idx = np.asarray(indices).astype(np.intp)
    idx = np.where(idx < 0, idx + data_shape[axis], idx)
    if idx.ndim != r or idx.size == 0 or idx.min() < 0 or idx.max() >= data_shape[axis] or \
            any(i > d for k, (i, d) in enumerate(zip(idx.shape, data_shape)) if k != axis):
        reference_step(b, node)
        return
    strides = row_major(data_shape)
    flat = idx * strides[axis]
    for k in range(r):
        if k != axis:
            flat = flat + (np.arange(idx.shape[k], dtype=np.intp) * strides[k]).reshape(
                [-1 if j == k else 1 for j in range(r)])
    flat = np.ascontiguousarray(flat.reshape(-1))
    x = b.value(node.inputs[0])
    if not x.same_order(strides):
        if x.dtype != np.float32:  # oneDNN reorders f32 only
            reference_step(b, node)
            return
        x = b.reorder_to(x, strides)
    out = b.new(idx.shape, dtype=x.dtype)

    def fn(data: np.ndarray, dst: np.ndarray) -> None:
        np.take(data.reshape(-1), flat, out=dst.reshape(-1))
    b.numpy_call(fn, [x], [out], "gatherelements")
    b.define(node.outputs[0], out)


# ---------------------------------------------------------------- normalization and attention
def _mvn_axes(b: Builder, node: Node) -> list[int]:
    """The normalized axes of an MVN (sorted, non-negative; empty when not constant)."""
    axes_value = b.g.const(node.inputs[1])
    r = len(node.inputs[0].shape) if node.inputs[0].shape.rank_is_static else 0
    return sorted({int(a) % r for a in np.asarray(axes_value).reshape(-1)}) if axes_value is not None and r else []


@matches("MVN")
def mvn_affine(b: Builder, node: Node) -> PostOps | None:
    """The per-channel Multiply/Add chain after a last-axis MVN (LayerNorm's gamma and beta): oneDNN's layer
    normalization takes it as its scale and shift."""
    from irforge.runtime.devices.cpu.fusion import fold_affine, same_value_type

    axes = _mvn_axes(b, node)
    r = len(node.inputs[0].shape) if node.inputs[0].shape.rank_is_static else 0
    if axes != [r - 1] or r == 0:
        return None
    d = int(node.inputs[0].shape.to_shape()[-1])
    chain = PostOps(out=node.outputs[0])
    while True:
        use = b.g.sole_consumer(chain.out)
        if use is None or not same_value_type(use[0], chain.out):
            break
        folded = fold_affine(use[0], use[1], b.g, r, r - 1, d, chain.scale, chain.bias)
        if folded is None:
            break
        chain.scale, chain.bias = folded
        chain.nodes.append(use[0])
        chain.out = use[0].outputs[0]
    return chain if chain.nodes else None


@lowers("MVN")
def mvn(b: Builder, node: Node) -> None:
    """MVN over the trailing axes with the variance inside the square root is oneDNN's layer normalization; a
    per-channel Multiply/Add chain after it (matched by `mvn_affine`) becomes its scale and shift."""
    x = b.value(node.inputs[0])
    axes = _mvn_axes(b, node)
    if not axes or axes != list(range(axes[0], len(x.shape))):
        raise b.unsupported("axes other than the trailing ones")
    if not node.attrs["normalize_variance"] or node.attrs["eps_mode"] != "INSIDE_SQRT":
        raise b.unsupported("no variance, or eps outside the square root")
    d = int(np.prod(x.shape[axes[0]:]))
    chain = b.matched.pop(node.uid, None)
    scale = chain.scale if chain is not None else None
    shift = chain.bias if chain is not None else None
    out = chain.out if chain is not None else node.outputs[0]
    shape = x.shape
    x = b.reorder_to(x, row_major(x.shape)).view((int(np.prod(shape[:axes[0]])), d))
    dst = b.new(x.shape)
    affine = scale is not None or shift is not None  # oneDNN takes both (ones / zeros for the absent one)
    flags = dnnl.USE_SCALE | dnnl.USE_SHIFT if affine else 0
    args = [(dnnl.ARG_SRC, x), (dnnl.ARG_DST, dst)]
    if affine:
        args.append((dnnl.ARG_SCALE, b.constant((scale if scale is not None else np.ones(d)).astype(np.float32))))
        args.append((dnnl.ARG_SHIFT, b.constant((shift if shift is not None else np.zeros(d)).astype(np.float32))))
    lib = dnnl.library()
    prim = Primitive(f"{b._where()}: layer normalization", lib.layer_normalization_forward_primitive_desc_create,
                     lib.engine, dnnl.FORWARD_INFERENCE, x.md.handle, dst.md.handle, None,
                     float(node.attrs["eps"]), flags)
    b.call(prim, args, "layer_norm" + ("+affine" if affine else ""))
    b.define(out, dst.view(shape))


@lowers("ScaledDotProductAttention")
def attention(b: Builder, node: Node) -> None:
    """softmax(Q K^T * scale + mask) V as matmul (scale and mask as its post-ops; K read transposed in place),
    softmax and matmul."""
    q, k, v = (b.value(i) for i in node.inputs[:3])
    r = len(q.shape)
    if r < 2 or len(k.shape) != r or len(v.shape) != r:
        raise b.unsupported("operands of different ranks")
    if len(node.inputs) > 4:
        s = b.g.const(node.inputs[4])
        if s is None or s.size != 1:
            raise b.unsupported("a runtime scale")
        scale = float(np.asarray(s).reshape(-1)[0])
    else:
        scale = 1.0 / float(np.sqrt(q.shape[-1]))
    length, source = q.shape[-2], k.shape[-2]
    scores_shape = tuple(max(a, c) for a, c in zip(q.shape[:-2], k.shape[:-2])) + (length, source)
    mask: Value | None = None
    if node.attrs["causal"]:
        mask = b.constant(np.triu(np.full((length, source), -np.inf, np.float32), k=1))
    elif len(node.inputs) > 3:
        if node.inputs[3].element_type.name != "f32":
            raise b.unsupported("a non-f32 mask")
        mask = b.value(node.inputs[3])
    attr = dnnl.Attr()
    attr.eltwise(ELTWISE["linear"], scale, 0.0)
    args: list[tuple[int, Value]] = []
    if mask is not None:
        mask = _lead(mask, len(scores_shape))
        if len(mask.shape) != len(scores_shape) or any(m not in (1, s) for m, s in zip(mask.shape, scores_shape)):
            raise b.unsupported("a mask that does not broadcast to the scores")
        idx = attr.binary(dnnl.BINARY["add"], mask.md)
        args.append((dnnl.arg_post_op(idx) | dnnl.ARG_SRC_1, mask))
    lib = dnnl.library()
    q = _matmul_operand(b, q)
    kt = _swap_last(k)
    if not (kt.strides[-1] == 1 or kt.strides[-2] == 1):
        kt = _swap_last(b.reorder_to(k, row_major(k.shape)))
    scores = b.new(scores_shape)
    prim = Primitive(f"{b._where()}: attention scores", lib.matmul_primitive_desc_create, lib.engine, q.md.handle,
                     kt.md.handle, None, scores.md.handle, attr=attr)
    if prim.impl.startswith("ref") and mask is not None:  # a mask broadcast the post-op does not take (Swin's
        attr = dnnl.Attr()  # window mask): scaled product, then the mask added by a binary primitive
        attr.eltwise(ELTWISE["linear"], scale, 0.0)
        prim = Primitive(f"{b._where()}: attention scores", lib.matmul_primitive_desc_create, lib.engine,
                         q.md.handle, kt.md.handle, None, scores.md.handle, attr=attr)
        b.call(prim, [(dnnl.ARG_SRC, q), (dnnl.ARG_WEIGHTS, kt), (dnnl.ARG_DST, scores)], "sdpa_scores")
        masked = b.new(scores_shape)
        prim = Primitive(f"{b._where()}: attention mask", lib.binary_primitive_desc_create, lib.engine,
                         dnnl.BINARY["add"], scores.md.handle, mask.md.handle, masked.md.handle)
        b.call(prim, [(dnnl.ARG_SRC, scores), (dnnl.ARG_SRC_1, mask), (dnnl.ARG_DST, masked)], "sdpa_mask")
        scores = masked
    else:
        b.call(prim, [(dnnl.ARG_SRC, q), (dnnl.ARG_WEIGHTS, kt), (dnnl.ARG_DST, scores)] + args, "sdpa_scores")
    probs = b.new(scores_shape)
    prim = Primitive(f"{b._where()}: attention softmax", lib.softmax_forward_primitive_desc_create, lib.engine,
                     dnnl.FORWARD_INFERENCE, dnnl.SOFTMAX_ACCURATE, scores.md.handle, probs.md.handle,
                     len(scores_shape) - 1)
    b.call(prim, [(dnnl.ARG_SRC, scores), (dnnl.ARG_DST, probs)], "sdpa_softmax")
    v = _matmul_operand(b, v)
    dst = b.new(_out_shape(node))
    prim = Primitive(f"{b._where()}: attention output", lib.matmul_primitive_desc_create, lib.engine,
                     probs.md.handle, v.md.handle, None, dst.md.handle)
    b.call(prim, [(dnnl.ARG_SRC, probs), (dnnl.ARG_WEIGHTS, v), (dnnl.ARG_DST, dst)], "sdpa_output")
    b.define(node.outputs[0], dst)
