"""Suite-wide test setup: simulating another CPU, and module random generators that do not depend on test order.

Many test modules draw their data from a module-level `RNG = np.random.default_rng(seed)`. Under pytest-xdist the
tests a worker runs before a given test vary from run to run, so that test's draws did too: a case passed or failed
by the luck of the distribution (a bicubic resize off by two, an MVN whose every plane caught a NaN). Before each
test its module's `RNG` is put back to the state it had after the module was imported, so every test draws the
same data whatever ran before it.

IRFORGE_TEST_SIMULATE_CPU=bf16[,vnni][,amx] runs the suite as if the CPU had those ISA extensions, to check on an
AVX2-only machine that the tests (and the defaults they rely on) also hold on the CPUs users have:
* `bf16`: AVX512-BF16 (with AVX-512 F/BW/VL/DQ): the CPU device and registry default to INFERENCE_PRECISION_HINT
  bf16, as OpenVINO's CPU plugin does there. The bf16 kernels themselves cannot run here, so bf16 is emulated
  (IRFORGE_CPU_BF16=emulate: bf16-rounded weights and activation inputs, f32 arithmetic; a real bf16 kernel also
  accumulates in f32, and may round its output to bf16 too);
* `vnni`: AVX512-VNNI: quantization's overflow_fix=auto picks `first_layer` and the CPU device runs 8-bit weights
  in one INT8 kernel. The hardware here still saturates u8 x s8 pair sums (vpmaddubsw), so an INT8 result with
  saturating 8-bit weights differs from REF under this simulation only (a real VNNI CPU computes it exactly);
* `amx`: AMX-BF16 and AMX-INT8 (implies bf16 and vnni).
Only what irforge reads is patched: the host's CPU flags (irforge.runtime.host.cpu_flags, which every ISA decision
reads). Done in pytest_configure, before test modules are imported, so module-level skip conditions see it.

The `simulate_cpu` fixture does the same for one test (`simulate_cpu("bf16")`), so a test can check the behaviour
of such a CPU on every machine."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

SIMULATED_FLAGS = {
    "bf16": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"},
    "vnni": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"},
    "amx": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16",
            "amx_int8"},
}


def simulated_features() -> set[str]:
    raw = os.environ.get("IRFORGE_TEST_SIMULATE_CPU", "")
    wanted = {w.strip().lower() for w in raw.split(",") if w.strip()}
    unknown = wanted - set(SIMULATED_FLAGS)
    if unknown:
        raise pytest.UsageError(f"IRFORGE_TEST_SIMULATE_CPU: unknown {sorted(unknown)}; expected a comma-separated "
                                f"subset of {sorted(SIMULATED_FLAGS)}")
    return wanted


def _flags_with(features: set[str]) -> frozenset[str]:
    from irforge.runtime import host

    return frozenset(host.cpu_flags()).union(*(SIMULATED_FLAGS[f] for f in features))


def pytest_configure(config: pytest.Config) -> None:
    features = simulated_features()
    if not features:
        return
    from irforge.runtime import host

    flags = _flags_with(features)
    host.cpu_flags = lambda: flags  # type: ignore[assignment]  # the process runs tests only
    if flags & {"avx512_bf16", "amx_bf16"}:
        os.environ["IRFORGE_CPU_BF16"] = "emulate"  # the bf16 default needs kernels this CPU lacks


@pytest.fixture
def simulate_cpu(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """`simulate_cpu("bf16,vnni")`: this test runs as if the CPU had those features (see the module docstring)."""
    def apply(features: str) -> None:
        from irforge.runtime import host

        wanted = {f.strip().lower() for f in features.split(",") if f.strip()}
        assert wanted <= set(SIMULATED_FLAGS), wanted
        flags = _flags_with(wanted)
        monkeypatch.setattr(host, "cpu_flags", lambda: flags)
        if flags & {"avx512_bf16", "amx_bf16"}:
            monkeypatch.setenv("IRFORGE_CPU_BF16", "emulate")
    return apply


def pytest_report_header(config: pytest.Config) -> str | None:
    features = simulated_features()
    return f"simulated CPU features (IRFORGE_TEST_SIMULATE_CPU): {', '.join(sorted(features))}" if features else None


_RNG_STATES: dict[str, dict[str, Any]] = {}  # module name -> its RNG's state before any of its tests drew


@pytest.fixture(autouse=True)
def _module_rng_from_its_start(request: pytest.FixtureRequest) -> Iterator[None]:
    """Restore the test module's `RNG` (a NumPy Generator) to its state after import (see the module docstring)."""
    module = request.module
    rng = getattr(module, "RNG", None)
    if isinstance(rng, np.random.Generator):
        saved = _RNG_STATES.setdefault(module.__name__, rng.bit_generator.state)
        rng.bit_generator.state = saved
    yield
