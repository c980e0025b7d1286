"""Small IR graphs for the CPU device tests, and running them on CPU (profiled, to see how each step ran) and REF.

Precision: these helpers run the CPU device in f32 unless the config names another precision (`cpu_config`): the
device's own default is bf16 on CPUs with native bf16 (AVX512-BF16, AMX), and the f32 tolerances of the tests
apply to f32 only. A bf16 test asks for bf16 explicitly (and gets it emulated where the CPU has no bf16 kernels:
tests/runtime/conftest.py sets IRFORGE_CPU_BF16=emulate)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from irforge.ir.graph import Model, Output, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.runtime.device import PerfCount
from irforge.runtime.devices.cpu import CPUExecutable
from tests.util import assert_close, run_ref

RNG = np.random.default_rng(11)
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def cpu_config(config: dict[str, str] | None = None) -> dict[str, str]:
    """`config` with INFERENCE_PRECISION_HINT f32 unless it names a precision itself."""
    return {**F32, **(config or {})}


def randn(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def graph(build: Callable[..., Output | Sequence[Output]], *inputs: np.ndarray,
          shapes: Sequence[Sequence[Any] | None] | None = None) -> Model:
    """A model whose Parameters take `inputs` (their dtypes; shapes from `shapes` when given, e.g. dynamic) and
    whose Results are what `build(*parameter outputs)` returns."""
    params = [parameter(Type.from_dtype(x.dtype), (shapes[i] if shapes and shapes[i] is not None else x.shape),
                        f"in{i}") for i, x in enumerate(inputs)]
    outs = build(*[p.output(0) for p in params])
    if isinstance(outs, Output):
        outs = [outs]
    model = Model([result(o) for o in outs], params)
    model.validate()
    return model


def op(type_name: str, *inputs: Output | np.ndarray, **attrs: Any) -> Output:
    """Output 0 of a new node; NumPy arrays become Constants."""
    srcs = [constant(i) if isinstance(i, np.ndarray) else i for i in inputs]
    return make(type_name, srcs, **attrs).output(0)


def _comparable(a: np.ndarray) -> np.ndarray:
    """bf16/f8 arrays (NumPy kind 'V') as f32, so NaNs compare as NaNs."""
    return a.astype(np.float32) if a.dtype.kind == "V" else a


def run_cpu(model: Model, inputs: Sequence[np.ndarray], config: dict[str, str] | None = None
            ) -> tuple[list[np.ndarray], list[PerfCount]]:
    """Profiled outputs (each step run on its own) and perf counts."""
    runner = CPUExecutable(model, cpu_config(config)).create_runner(profile=True)
    outs = runner.run(list(inputs))
    return outs, runner.perf_counts()


def run_cpu_plain(model: Model, inputs: Sequence[np.ndarray], config: dict[str, str] | None = None
                  ) -> list[list[np.ndarray]]:
    """Outputs of three unprofiled runs: the first compiles the traced segments (segments.py) and every run takes
    the path it chose (compiled or step by step)."""
    runner = CPUExecutable(model, cpu_config(config)).create_runner()
    return [runner.run(list(inputs)) for _ in range(3)]


def check(model: Model, inputs: Sequence[np.ndarray], fast: str | None, rtol: float = 1e-5, atol: float = 1e-5,
          config: dict[str, str] | None = None) -> list[PerfCount]:
    """CPU equals REF (dtype and shape exactly, values within rtol/atol); `fast` is a substring the exec type of
    some step must contain (None: every step must run the reference kernel)."""
    want = run_ref(model, list(inputs))
    got, counts = run_cpu(model, inputs, config)
    what = " / ".join(p.exec_type for p in counts)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, f"dtype {g.dtype} != {w.dtype}"
    want = [_comparable(a) for a in want]
    assert_close([_comparable(a) for a in got], want, rtol=rtol, atol=atol, what=what)
    plain = run_cpu_plain(model, inputs, config)
    for k, outs in enumerate(plain):
        assert [o.dtype for o in outs] == [o.dtype for o in got]
        assert_close([_comparable(a) for a in outs], want, rtol=rtol, atol=atol, what=f"{what} (unprofiled run {k})")
        for a, b in zip(outs, plain[0]):  # the same inputs give the same bits on every run
            np.testing.assert_array_equal(_comparable(a), _comparable(b))
    kinds = [p.exec_type for p in counts]
    if fast is None:
        assert all(k == "ref" for k in kinds), kinds
    else:
        assert any(fast in k for k in kinds), f"expected a step running '{fast}', got {kinds}"
    return counts
