"""The zoo fixture of tests/models (each zoo model exported, converted and read back once per session)."""
from tests.models.conftest import zoo_ir  # noqa: F401  (re-exported fixture)
