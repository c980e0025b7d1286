"""Conformance: every in-scope ONNX backend node case converts, survives an IR round trip, and evaluates on
REF to the case's expected outputs (with the case's own rtol/atol)."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

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


# Casting floating point to fixed point is undefined where the value is out of the target's range (the ONNX Cast
# spec: "fixed point: undefined if OOR"), and for NaN and infinities. The Cast/CastLike node cases still hold one
# answer for those elements, whatever the ml_dtypes installed when `onnx` generated them computes (the case data is
# made at collection time with `astype`: ml_dtypes 0.5+ gives 0 for float -> int4 out of range, older versions the
# wrapped low bits). Only the defined elements are compared; the out-of-range ones are left out, not the case.
_FIXED_RANGE = {TensorProto.INT4: (-8, 7), TensorProto.UINT4: (0, 15), TensorProto.INT8: (-128, 127),
                TensorProto.UINT8: (0, 255), TensorProto.INT16: (-2**15, 2**15 - 1), TensorProto.UINT16: (0, 2**16 - 1),
                TensorProto.INT32: (-2**31, 2**31 - 1), TensorProto.UINT32: (0, 2**32 - 1),
                TensorProto.INT64: (-2**63, 2**63 - 1), TensorProto.UINT64: (0, 2**64 - 1)}
_CASTS = {"Cast", "CastLike"}


def defined_elements(case, inputs: list[np.ndarray]) -> list[np.ndarray | None]:  # type: ignore[no-untyped-def]
    """Per output of a Cast/CastLike case from a floating-point input to an integer type: the elements the spec
    defines (finite inputs whose truncation lies in the target's range); None where every element is defined."""
    graph = case.model.graph
    ops = {n.op_type for n in graph.node}
    if not ops or not ops <= _CASTS or not inputs or inputs[0].dtype.kind not in "fV":
        return [None] * len(graph.output)
    x = inputs[0].astype(np.float64)
    masks: list[np.ndarray | None] = []
    for out in graph.output:
        bounds = _FIXED_RANGE.get(out.type.tensor_type.elem_type)
        if bounds is None:
            masks.append(None)
            continue
        with np.errstate(invalid="ignore"):
            t = np.trunc(x)
            masks.append(np.isfinite(x) & (t >= bounds[0]) & (t <= bounds[1]))
    return masks


def _compare(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float,
             defined: np.ndarray | None = None) -> None:
    want = case_array(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != expected {want.shape}"
    if defined is not None:  # undefined elements (see defined_elements) left out
        assert defined.shape == want.shape and defined.any(), f"{name}: no element is defined"
        got, want = got[defined], want[defined]
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
        arrays = [case_array(v) for v in inputs]
        result = compiled(arrays).values_list()
        assert len(result) == len(expected)
        for i, (got, want, defined) in enumerate(zip(result, expected, defined_elements(case, arrays))):
            _compare(f"{case.name} output {i}", np.asarray(got), want, case.rtol, case.atol, defined)


def test_conformance_scope_is_large() -> None:
    """Guards the filter itself: the in-scope set must cover the listed ops' cases, and every required op has
    a translator."""
    from irforge.frontends.onnx.registry import supported_ops
    from tests.conformance.cases import REQUIRED_OPS

    assert len(CASES) > 1000
    assert REQUIRED_OPS <= set(supported_ops())
    assert len([c for c in CASES if c.name not in EXCLUDED]) > 1000  # most of the scope actually runs


def test_exclusions_name_in_scope_cases() -> None:
    """Every exclusion gives its reason and names a case that is in scope (no stale or misspelt entries), and a
    case excluded on REF is not listed again among the OpenVINO-only ones. The lists are written against
    LISTS_ONNX: an older onnx (the lowest-versions run) lacks the cases added since, which are not stale there."""
    from tests.conformance.cases import all_cases
    from tests.conformance.excluded import EXCLUDED_OPENVINO, LISTS_ONNX

    names = {c.name for c in CASES}
    assert sorted(k for k, reason in {**EXCLUDED, **EXCLUDED_OPENVINO}.items() if len(reason.strip()) < 20) == []
    older = tuple(int(p) for p in onnx.__version__.split(".")[:2]) < LISTS_ONNX
    known = {c.name for c in all_cases()}
    for listed in (EXCLUDED, EXCLUDED_OPENVINO):
        assert sorted(n for n in set(listed) - names if not (older and n not in known)) == []
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
        arrays = [case_array(v) for v in inputs]
        result = run_openvino(model, arrays)
        for i, (got, want, defined) in enumerate(zip(result, expected, defined_elements(case, arrays))):
            want = case_array(want)
            got = np.asarray(got)
            if defined is not None:  # undefined elements (see defined_elements) left out
                assert defined.shape == want.shape and defined.any(), f"{case.name} output {i}: no element is defined"
                got, want = got[defined], want[defined]
            if want.dtype.kind in "fcV" or want.dtype.itemsize < 4 and not want.dtype.kind in "iub":  # OpenVINO computes f64 in f32 and may widen/narrow integer outputs
                np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64),
                                           rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5), equal_nan=True,
                                           err_msg=f"{case.name} output {i}")
            else:
                np.testing.assert_array_equal(np.asarray(got).astype(want.dtype), want, err_msg=f"{case.name} output {i}")
