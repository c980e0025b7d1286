"""Conformance: every in-scope ONNX backend node case converts, survives an IR round trip, and evaluates on
REF to the case's expected outputs (with the case's own rtol/atol)."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import irforge
from irforge.ir.xml_io import model_from_xml, model_to_xml
from tests.conformance.cases import in_scope_cases
from tests.conformance.excluded import EXCLUDED

CASES = in_scope_cases()


_SUB_BYTE = {np.dtype(ml_dtypes.int4): np.int8, np.dtype(ml_dtypes.uint4): np.uint8}


def case_array(value: object) -> np.ndarray:
    """Case data as irforge holds values: TensorProto decoded, 4-bit integers widened to (u)int8."""
    arr = numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)
    return arr.astype(_SUB_BYTE[arr.dtype]) if arr.dtype in _SUB_BYTE else arr


def _compare(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    want = case_array(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != expected {want.shape}"
    if want.dtype.kind in "fcV" or want.dtype in (np.dtype(ml_dtypes.bfloat16),):
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != expected {want.dtype}"
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=name)
    elif want.dtype.kind == "O":
        assert got.tolist() == want.tolist(), name
    else:
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != expected {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case) -> None:  # type: ignore[no-untyped-def]
    if case.name in EXCLUDED:
        pytest.skip(EXCLUDED[case.name])
    model = irforge.convert_model(case.model)
    model.validate()
    xml, blob = model_to_xml(model)
    model = model_from_xml(xml, blob)
    compiled = irforge.Core().compile_model(model, "REF")
    for inputs, expected in case.data_sets:
        result = compiled([case_array(v) for v in inputs]).values_list()
        assert len(result) == len(expected)
        for i, (got, want) in enumerate(zip(result, expected)):
            _compare(f"{case.name} output {i}", np.asarray(got), want, case.rtol, case.atol)


def test_conformance_scope_is_large() -> None:
    """Guards the filter itself: the in-scope set must cover the listed ops' cases, and every required op has
    a translator."""
    from irforge.frontends.onnx.registry import supported_ops
    from tests.conformance.cases import REQUIRED_OPS

    assert len(CASES) > 1000
    assert REQUIRED_OPS <= set(supported_ops())
    assert len([c for c in CASES if c.name not in EXCLUDED]) > 1000  # most of the scope actually runs


def test_exclusions_name_in_scope_cases() -> None:
    """Every exclusion names a case that is in scope (no stale or misspelt entries), and a case excluded on REF
    is not listed again among the OpenVINO-only ones."""
    from tests.conformance.excluded import EXCLUDED_OPENVINO

    names = {c.name for c in CASES}
    assert sorted(set(EXCLUDED) - names) == []
    assert sorted(set(EXCLUDED_OPENVINO) - names) == []
    assert sorted(set(EXCLUDED) & set(EXCLUDED_OPENVINO)) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case_openvino(case) -> None:  # type: ignore[no-untyped-def]
    """The IR irforge writes for the case loads in OpenVINO and computes the expected outputs there too."""
    from tests.conformance.excluded import EXCLUDED_OPENVINO
    from tests.util import run_openvino

    if case.name in EXCLUDED:
        pytest.skip(EXCLUDED[case.name])
    if case.name in EXCLUDED_OPENVINO:
        pytest.skip(EXCLUDED_OPENVINO[case.name])
    model = irforge.convert_model(case.model)
    for inputs, expected in case.data_sets:
        result = run_openvino(model, [case_array(v) for v in inputs])
        for i, (got, want) in enumerate(zip(result, expected)):
            want = case_array(want)
            if want.dtype.kind in "fcV" or want.dtype.itemsize < 4 and not want.dtype.kind in "iub":  # OpenVINO computes f64 in f32 and may widen/narrow integer outputs
                np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64),
                                           rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5), equal_nan=True,
                                           err_msg=f"{case.name} output {i}")
            else:
                np.testing.assert_array_equal(np.asarray(got).astype(want.dtype), want, err_msg=f"{case.name} output {i}")
