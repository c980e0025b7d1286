"""The accuracy-aware search on the digits CNN: ranking by how much a revert reduces the error, low precision
tried before FP32, undo and re-rank when a revert makes things worse, a clear failure when the target is out of
reach, and how reverted layers are marked in the IR."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import irforge
from irforge.ir.graph import Model
from irforge.ir.xml_io import model_to_xml
from irforge.quantization import QuantizationError, quantize_with_accuracy_control_report
from irforge.quantization.insert import build
from irforge.quantization.options import QuantizationOptions
from irforge.quantization.pipeline import prepare
from tests.quantization import digits


def _scripted(values: Sequence[Any]) -> Callable[[Any, Any], Any]:
    """A validation_fn returning `values` in order (FP32, INT8, then one per trial), whatever the model."""
    calls = iter(values)

    def fn(compiled: Any, items: Any) -> float:
        return next(calls)

    return fn


def _run(model: Model, data: digits.Digits, fn: Callable[[Any, Any], Any], max_drop: float, **kw: Any) -> Any:
    return quantize_with_accuracy_control_report(model, data.samples("train", 100), data.samples("val", 64), fn,
                                                 max_drop=max_drop, device="REF", progress=False, **kw)


def _nmse_metric(reference: list[np.ndarray]) -> Callable[[Any, Any], float]:
    def fn(compiled: Any, items: list[np.ndarray]) -> float:
        errs = [float(np.sum((compiled(x)[0] - r) ** 2) / np.sum(r ** 2)) for x, r in zip(items, reference)]
        return -float(np.mean(errs))

    return fn


def test_first_revert_is_the_group_that_helps_most(digits_model: Model, digits_data: digits.Digits) -> None:
    val = digits_data.samples("val", 64)
    fp = irforge.Core().compile_model(digits_model, "REF")
    metric = _nmse_metric([fp(x)[0] for x in val])
    prepared = prepare(digits_model, digits_data.samples("train", 100), QuantizationOptions(device="REF",
                                                                                            progress=False))
    plan = prepared.plan
    full = metric(irforge.Core().compile_model(build(plan), "REF"), val)
    alone = {g.gid: metric(irforge.Core().compile_model(build(plan, {g.gid: "fp32"}), "REF"), val)
             for g in plan.placement.groups}
    best = max(alone, key=alone.__getitem__)
    result = _run(digits_model, digits_data, metric, max_drop=-full * 0.5, ranking_subset_size=64,
                  fallback_precision="none")
    first = result.report.reverts[0]
    assert first.layers == [n.name for n in plan.placement.groups[best].ops]
    assert first.precision == "fp32" and first.recovered > 0
    assert result.report.drop <= -full * 0.5


def test_low_precision_kept_when_it_meets_the_target(digits_model: Model, digits_data: digits.Digits) -> None:
    result = _run(digits_model, digits_data, _scripted([1.0, 0.9, 1.0]), max_drop=0.01)
    (step,) = result.report.reverts
    assert step.precision == "bf16" and step.kept and step.recovered == pytest.approx(0.1)
    layer = next(n for n in result.model.nodes() if n.name == step.layers[0])
    weights = layer.inputs[1].node
    assert weights.type == "Convert" and "decompression" in weights.rt_info  # f16 weights, decompressed
    assert weights.inputs[0].node.attrs["element_type"].name == "f16"
    assert "precise" not in layer.rt_info


def test_fp32_revert_marks_layers_precise(digits_model: Model, digits_data: digits.Digits) -> None:
    # FP32 1.0, INT8 0.9, group in bf16 0.92 (misses), group in FP32 1.0 (better: kept)
    result = _run(digits_model, digits_data, _scripted([1.0, 0.9, 0.92, 1.0]), max_drop=0.01)
    (step,) = result.report.reverts
    assert step.precision == "fp32"
    layer = next(n for n in result.model.nodes() if n.name == step.layers[0])
    assert layer.rt_info.get("precise") == {"version": "0"}
    assert layer.inputs[1].node.type == "Constant" and layer.inputs[1].node.attrs["element_type"].name == "f32"
    xml, _ = model_to_xml(result.model)
    assert b'<attribute name="precise" version="0"' in xml


def test_precise_mark_is_read_by_openvino(digits_model: Model, digits_data: digits.Digits, tmp_path: Any) -> None:
    import openvino as ov

    result = _run(digits_model, digits_data, _scripted([1.0, 0.9, 0.92, 1.0]), max_drop=0.01)
    irforge.save_model(result.model, tmp_path / "m.xml")
    name = result.report.reverts[0].layers[0]
    op = next(o for o in ov.Core().read_model(tmp_path / "m.xml").get_ops() if o.get_friendly_name() == name)
    assert len(op.get_rt_info()) > 0  # OpenVINO's reader knows the attribute (DisableFP16Compression)


def test_worse_revert_is_undone_and_the_rest_reranked(digits_model: Model, digits_data: digits.Digits) -> None:
    # FP32 1.0, INT8 0.9; first group: bf16 0.8, fp32 0.85 (both worse: undone); second group: bf16 1.0
    result = _run(digits_model, digits_data, _scripted([1.0, 0.9, 0.8, 0.85, 1.0]), max_drop=0.01)
    first, second = result.report.reverts
    assert not first.kept and second.kept
    assert first.layers != second.layers
    assert result.report.reverted_layers == second.layers
    assert "undone" in result.report.table()
    for name in first.layers:  # the undone group is back in INT8: i8 weights behind Convert -> Multiply
        layer = next(n for n in result.model.nodes() if n.name == name)
        chain = layer.inputs[1].node
        assert chain.type == "Multiply" and chain.inputs[0].node.inputs[0].node.attrs["element_type"].name == "i8"


def test_unreachable_target_fails_with_best_drop(digits_model: Model, digits_data: digits.Digits) -> None:
    with pytest.raises(QuantizationError, match=r"cannot be brought within 0.01 .*best drop found is 0.7"):
        _run(digits_model, digits_data, _scripted([1.0, 0.2] + [0.3] * 20), max_drop=0.01)


def test_search_goes_on_until_the_target_is_met(digits_model: Model, digits_data: digits.Digits) -> None:
    # a metric that only an INT8-free model satisfies: every group must be reverted, none undone
    def fn(compiled: Any, items: Any) -> float:
        return 1.0 if not any(n.type == "FakeQuantize" for n in compiled.model.nodes()) else 0.0

    result = _run(digits_model, digits_data, fn, max_drop=0.01, fallback_precision="none")
    report = result.report
    assert report.drop == 0.0 and all(step.kept for step in report.reverts)
    assert not report.int8_layers and len(report.reverted_layers) == len(report.layers)


def test_nncf_style_tuple_result_and_bad_results(digits_model: Model, digits_data: digits.Digits) -> None:
    pairs: list[Any] = [(1.0, [1.0]), (0.999, [1.0])]
    result = _run(digits_model, digits_data, _scripted(pairs), max_drop=0.01)
    assert result.report.reverts == [] and result.report.int8_metric == pytest.approx(0.999)
    with pytest.raises(QuantizationError, match="validation_fn must return a finite number"):
        _run(digits_model, digits_data, lambda c, items: "good", max_drop=0.01)
    with pytest.raises(QuantizationError, match="validation_fn must return a finite number"):
        _run(digits_model, digits_data, lambda c, items: float("nan"), max_drop=0.01)


def test_relative_drop(digits_model: Model, digits_data: digits.Digits) -> None:
    # relative drop (2 - 1.9) / 2 = 0.05 > 0.04: one revert
    result = _run(digits_model, digits_data, _scripted([2.0, 1.9, 2.0]), max_drop=0.04, drop_type="relative")
    assert len(result.report.reverts) == 1 and result.report.drop == 0.0
