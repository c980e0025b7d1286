"""Runtime tests see bf16 numerics on every machine: IRFORGE_CPU_BF16=emulate keeps the bf16 hint on CPUs without
bf16 kernels (where it otherwise falls back to f32, as OpenVINO's does; test_runtime.py tests that fallback)."""
import pytest


@pytest.fixture(autouse=True)
def _emulate_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRFORGE_CPU_BF16", "emulate")
