"""The zoo fixture of tests/models (each zoo model exported, converted and read back once per session), and the
executor these tests see: the torch executor, whose steps, segments and exec types most of them inspect. A test
marked `native` (or one setting IRFORGE_CPU_EXECUTOR itself) gets the device's default choice: native where it runs
the graph (test_native.py, the native half of test_lowering_differential.py)."""
import pytest

from tests.models.conftest import zoo_ir  # noqa: F401  (re-exported fixture)


@pytest.fixture(autouse=True)
def _torch_executor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("native") is None:
        monkeypatch.setenv("IRFORGE_CPU_EXECUTOR", "torch")
    else:
        monkeypatch.delenv("IRFORGE_CPU_EXECUTOR", raising=False)
