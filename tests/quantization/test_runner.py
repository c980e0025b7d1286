"""Running models for statistics/validation: stacking samples along the batch axis gives the same statistics as
one sample at a time, the "auto" device choice, and the CPU device (with its fallback to REF) agreeing with REF."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from irforge.ir.graph import Model, constant, make, parameter, result
from irforge.ir.types import Type
from irforge.quantization import quantize_report
from irforge.quantization import runner as runner_mod
from irforge.quantization.runner import DevicePolicy, ModelRunner
from irforge.runtime.core import Core
from tests.quantization import digits


def _ranges(result_: object) -> list[tuple[float, float]]:
    model = result_.model  # type: ignore[attr-defined]
    return [(float(n.inputs[1].node.data), float(n.inputs[2].node.data)) for n in model.nodes()
            if n.type == "FakeQuantize"]


@pytest.mark.parametrize("estimator", ["quantile", "mean_minmax", "minmax"])
def test_stacked_statistics_equal_one_at_a_time(digits_model: Model, digits_data: digits.Digits,
                                                estimator: str) -> None:
    calib = digits_data.samples("train", 100)
    stacked = quantize_report(digits_model, calib, device="REF", progress=False, range_estimator=estimator)
    single = quantize_report(digits_model, calib, device="REF", progress=False, range_estimator=estimator,
                             batch_size=1)
    # the quantile histogram re-bins when its range grows, which depends on the batch boundaries: within 2 bins
    np.testing.assert_allclose(_ranges(stacked), _ranges(single), rtol=2e-3 if estimator == "quantile" else 1e-5)


def test_batch_mixing_model_runs_one_sample_at_a_time() -> None:
    """A model that mixes samples across the batch axis (x - mean over the batch) must not be stacked."""
    x = parameter(Type.f32, [-1, 4], "x")
    mean = make("ReduceMean", [x.output(0), constant(np.array([0], np.int64))], keep_dims=True)
    y = make("Subtract", [x.output(0), mean.output(0)])
    model = Model([result(y.output(0))], [x])
    rng = np.random.default_rng(0)
    samples = [[rng.standard_normal((1, 4)).astype(np.float32)] for _ in range(10)]
    policy = DevicePolicy("REF")
    outs = [o for _, _, o, _ in ModelRunner(model, policy, 8).run(samples)]
    assert len(outs) == 10 and all(np.allclose(o[0], 0.0) for o in outs)  # each sample alone: x - x = 0
    assert any("one at a time" in note for note in policy.notes)


def test_auto_prefers_ref_for_small_passes(digits_model: Model, digits_data: digits.Digits) -> None:
    result = quantize_report(digits_model, digits_data.samples("train", 50), progress=False)
    assert result.report.device == "REF"


def test_cpu_device_statistics_agree_with_ref(digits_model: Model, digits_data: digits.Digits,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With REF ruled out by the budget, "auto" runs on the CPU device (or falls back to REF with a note): the
    ranges must match REF's either way."""
    monkeypatch.setattr(runner_mod, "REF_BUDGET_S", 0.0)
    calib = digits_data.samples("train", 64)
    auto = quantize_report(digits_model, calib, progress=False)
    ref = quantize_report(digits_model, calib, device="REF", progress=False)
    assert auto.report.device in ("CPU", "REF, CPU", "CPU, REF")
    if "REF" in auto.report.device:
        assert any("CPU device failed" in note for note in auto.report.notes)
    np.testing.assert_allclose(_ranges(auto), _ranges(ref), rtol=1e-4)


def test_statistics_and_validation_run_in_f32_where_the_cpu_defaults_to_bf16(
        digits_model: Model, simulate_cpu: Callable[[str], None]) -> None:
    """On a CPU with native bf16 the CPU device defaults to bf16 (as OpenVINO's does); the models quantization runs
    (statistics, validation, the accuracy-aware search) still run in f32, so the ranges do not depend on the CPU."""
    simulate_cpu("bf16")
    assert Core().compile_model(digits_model, "CPU").get_property("INFERENCE_PRECISION_HINT") == "bf16"
    assert runner_mod.compile_for(digits_model, "CPU").get_property("INFERENCE_PRECISION_HINT") == "f32"
    assert runner_mod.compile_for(digits_model, "REF").get_property("INFERENCE_PRECISION_HINT") == "f32"
