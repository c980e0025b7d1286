"""Fusion, memory reuse and layout on the CPU device: the converter's patterns fold into one step with the
expected post-ops, values read later are never overwritten, caller arrays are never written, and ops that care
about axes (Reshape, Transpose, Concat, Split, Gather) see logical NCHW whatever the physical layout."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from irforge.ir.graph import Output
from tests.runtime.cpu.helpers import check, cpu_config, graph, op, randn, run_cpu
from tests.runtime.cpu.test_ops_compute import conv_attrs

TOL = dict(rtol=1e-4, atol=1e-4)
W = randn(8, 4, 3, 3)
B = randn(1, 8, 1, 1)


def conv(x: Output, w: np.ndarray = W) -> Output:
    return op("Convolution", x, w, **conv_attrs(2, 1, 1, (1, 1)))


ACTIVATIONS: dict[str, tuple[Callable[[Output], Output], str]] = {
    "relu": (lambda y: op("Relu", y), "relu"),
    "sigmoid": (lambda y: op("Sigmoid", y), "sigmoid"),
    "tanh": (lambda y: op("Tanh", y), "tanh"),
    "swish": (lambda y: op("Swish", y), "swish"),
    "hswish": (lambda y: op("HSwish", y), "hardswish"),
    "hsigmoid": (lambda y: op("HSigmoid", y), "hardsigmoid"),
    "clamp": (lambda y: op("Clamp", y, min=-0.5, max=1.5), "hardtanh"),
    "gelu": (lambda y: op("Gelu", y, approximation_mode="ERF"), "gelu"),
    "gelu_tanh": (lambda y: op("Gelu", y, approximation_mode="TANH"), "gelu"),
    "leaky": (lambda y: op("PRelu", y, np.array([0.2], np.float32)), "leaky_relu"),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_conv_bias_activation_is_one_step(name: str) -> None:
    act, attr = ACTIVATIONS[name]
    x = randn(1, 4, 7, 6)
    counts = check(graph(lambda p: act(op("Add", conv(p), B)), x), [x], f"onednn_conv+bias+{attr}_f32", **TOL)
    assert len(counts) == 1


def test_per_channel_multiply_subtract_and_scalar_bias_fold() -> None:
    x = randn(1, 4, 7, 6)
    scale = randn(1, 8, 1, 1)
    model = graph(lambda p: op("Relu", op("Add", op("Subtract", op("Multiply", scale, conv(p)), B),
                                          np.array(0.3, np.float32))), x)
    counts = check(model, [x], "onednn_conv+bias+relu_f32", **TOL)
    assert len(counts) == 1


def test_residual_add_writes_into_a_dead_residual() -> None:
    x = randn(1, 4, 7, 6)
    w2 = randn(8, 8, 3, 3)
    model = graph(lambda p: op("Relu", op("Add", conv(op("Relu", conv(p)), w2), conv(p))), x)
    counts = check(model, [x], "onednn_conv+sum+relu_f32", **TOL)
    assert len(counts) == 3


def test_residual_read_later_is_not_overwritten() -> None:
    x = randn(1, 4, 7, 6)
    w2 = randn(8, 8, 3, 3)

    def build(p: Output) -> list[Output]:
        r = conv(p)
        y = op("Relu", op("Add", conv(op("Relu", r), w2), r))
        return [y, op("Multiply", r, np.array(2.0, np.float32))]
    check(graph(build, x), [x], "onednn_conv+add+relu_f32", **TOL)


def test_residual_that_is_a_model_input_is_left_alone() -> None:
    x, r = randn(1, 4, 7, 6), randn(1, 8, 7, 6)
    r_copy = r.copy()
    check(graph(lambda p, q: op("Add", conv(p), q), x, r), [x, r], "onednn_conv+add_f32", **TOL)
    np.testing.assert_array_equal(r, r_copy)


def test_shared_conv_output_is_not_fused() -> None:
    x = randn(1, 4, 7, 6)
    model = graph(lambda p: (lambda c: [op("Relu", c), op("Sigmoid", c)])(conv(p)), x)
    counts = check(model, [x], "onednn_conv_f32", **TOL)
    assert len(counts) == 3


def test_matmul_bias_activation_and_residual() -> None:
    x = randn(2, 5, 16)
    w, b = randn(16, 16), randn(16)
    model = graph(lambda p: op("Add", op("Gelu", op("Add", op("MatMul", p, w), b), approximation_mode="ERF"), p), x)
    counts = check(model, [x], "mkl_linear+bias+gelu+add_f32", **TOL)
    assert len(counts) == 1


def test_affine_chain_after_concat_is_one_step() -> None:
    x = randn(1, 4, 5, 5)
    s, t = randn(1, 8, 1, 1), randn(8, 1, 1)
    model = graph(lambda p: op("Relu", op("Add", op("Multiply", op("Concat", p, op("Sigmoid", p), axis=1), s), t)), x)
    check(model, [x], "torch_affine+scale+shift+relu", rtol=1e-5, atol=1e-6)


def test_inplace_elementwise_leaves_inputs_and_live_values_intact() -> None:
    x, y = randn(2, 3, 4), randn(2, 3, 4)
    xc, yc = x.copy(), y.copy()

    def build(p: Output, q: Output) -> list[Output]:
        s = op("Add", op("Exp", p), q)           # Exp's result dies here: written in place
        return [op("Relu", s), op("Add", p, q)]  # the inputs themselves never are
    check(graph(build, x, y), [x, y], "inplace", rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(y, yc)


@pytest.mark.parametrize("case", ["flatten", "transpose", "concat", "split", "gather_channel", "reduce_channel",
                                  "softmax_channel", "slice_channel"])
def test_channel_axis_ops_after_channels_last_convolutions(case: str) -> None:
    x = randn(2, 4, 5, 6)

    def build(p: Output) -> Output | list[Output]:
        c = op("Relu", op("Add", conv(p), B))
        if case == "flatten":
            return op("Reshape", c, np.array([2, -1], np.int64), special_zero=False)
        if case == "transpose":
            return op("Transpose", c, np.array([0, 2, 3, 1], np.int64))
        if case == "concat":
            return conv(op("Concat", c, p, axis=1)[..., ] if False else op("Concat", c, p, axis=1), randn(8, 12, 3, 3))
        if case == "split":
            from irforge.ir.graph import constant, make
            parts = make("VariadicSplit", [c, constant(np.array(1, np.int64)), constant(np.array([3, 5], np.int64))])
            return [conv(op("Concat", parts.output(1), parts.output(0), axis=1)[..., ] if False else
                         op("Concat", parts.output(1), parts.output(0), p, axis=1), randn(8, 12, 3, 3))]
        if case == "gather_channel":
            return op("Gather", c, np.array([5, 0, 2], np.int64), np.array(1, np.int64), batch_dims=0)
        if case == "reduce_channel":
            return op("ReduceMax", c, np.array([1], np.int64), keep_dims=True)
        if case == "softmax_channel":
            return op("Softmax", c, axis=1)
        return op("Slice", c, np.array([2], np.int64), np.array([6], np.int64), np.array([2], np.int64),
                  np.array([1], np.int64))
    check(graph(build, x), [x], "onednn_conv", **TOL)


def test_outputs_are_contiguous_owned_and_stable_across_runs() -> None:
    x = randn(1, 4, 7, 6)

    def build(p: Output) -> list[Output]:
        c = op("Relu", op("Add", conv(p), B))
        return [c, c, p, op("Reshape", c, np.array([1, -1], np.int64), special_zero=False)]
    model = graph(build, x)
    from irforge.runtime.devices.cpu import CPUExecutable

    runner = CPUExecutable(model, cpu_config()).create_runner()
    first = runner.run([x])
    keep = [a.copy() for a in first]
    assert all(a.flags.c_contiguous for a in first)
    assert not np.shares_memory(first[0], first[1]) and not np.shares_memory(first[2], x)
    first[0][...] = 0  # the caller owns them: writing one leaves the others alone
    np.testing.assert_array_equal(first[1], keep[1])
    second = runner.run([x * 2])
    np.testing.assert_array_equal(first[1], keep[1])
    assert not np.array_equal(second[0], keep[0])


def test_constant_output_and_unused_input() -> None:
    x, z = randn(2, 3), randn(4)
    model = graph(lambda p, q: [op("Relu", p), op("Add", np.ones(3, np.float32), np.ones(3, np.float32))], x, z)
    got, _ = run_cpu(model, [x, z])
    np.testing.assert_array_equal(got[1], np.full(3, 2.0, np.float32))
    got[1][0] = 7
    again, _ = run_cpu(model, [x, z])
    assert again[1][0] == 2.0
