"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_ELEMENTWISE: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

# Element types with no IR spelling (the FNUZ float8 variants, e8m0, float4 and 2-bit integers).
_NO_TYPE = {
    "FLOAT8E4M3FNUZ": "float8 e4m3fnuz",
    "FLOAT8E5M2FNUZ": "float8 e5m2fnuz", "FLOAT8E8M0": "float8 e8m0", "FLOAT4E2M1": "float4 e2m1",
    "INT2": "2-bit integer", "UINT2": "2-bit integer",
}
_CAST_PAIRS = [
    ("FLOAT", "FLOAT16"), ("FLOAT", "DOUBLE"), ("FLOAT16", "FLOAT"), ("FLOAT16", "DOUBLE"), ("DOUBLE", "FLOAT"),
    ("DOUBLE", "FLOAT16"), ("FLOAT", "BFLOAT16"), ("BFLOAT16", "FLOAT"),
    *((a, b) for a in ("FLOAT", "FLOAT16") for b in _NO_TYPE if b != "FLOAT8E8M0"),
    *((a, b) for a in _NO_TYPE if a != "FLOAT8E8M0" for b in ("FLOAT", "FLOAT16")),
    ("FLOAT", "UINT4"), ("FLOAT16", "UINT4"), ("FLOAT", "INT4"), ("FLOAT16", "INT4"), ("UINT4", "FLOAT"),
    ("UINT4", "FLOAT16"), ("UINT4", "UINT8"), ("INT4", "FLOAT"), ("INT4", "FLOAT16"), ("INT4", "INT8"),
    ("UINT2", "UINT8"), ("INT2", "INT8"),
]


def _cast_reason(a: str, b: str) -> str:
    missing = [t for t in (a, b) if t in _NO_TYPE]
    return f"irforge has no {_NO_TYPE[missing[0]]} element type" if missing else ""


def _cast_cases() -> dict[str, str]:
    out: dict[str, str] = {}
    for a, b in _CAST_PAIRS:
        if _cast_reason(a, b):
            out[f"test_cast_{a}_to_{b}"] = _cast_reason(a, b)
            out[f"test_castlike_{a}_to_{b}_expanded"] = _cast_reason(a, b)
    for a in ("FLOAT", "FLOAT16"):
        for b in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ"):
            out[f"test_cast_no_saturate_{a}_to_{b}"] = _cast_reason(a, b)
            out[f"test_castlike_no_saturate_{a}_to_{b}_expanded"] = _cast_reason(a, b)
    for a, b in (("FLOAT16", "FLOAT8E8M0"), ("FLOAT8E8M0", "FLOAT"), ("FLOAT8E8M0", "FLOAT16"),
                 ("FLOAT", "FLOAT8E8M0")):
        out[f"test_cast_e8m0_{a}_to_{b}"] = _cast_reason(a, b)
    return out


_F8_QUANT = ("float8 (de)quantization: irforge maps QuantizeLinear/DequantizeLinear to FakeQuantize on an integer "
             "grid (levels), which cannot express a float8 grid")


def _quantize_cases() -> dict[str, str]:
    out: dict[str, str] = {}
    for op in ("quantizelinear", "dequantizelinear"):
        for suffix, t in (("float4e2m1", "FLOAT4E2M1"), ("int2", "INT2"), ("uint2", "UINT2")):
            out[f"test_{op}_{suffix}"] = f"irforge has no {_NO_TYPE[t]} element type"
        for suffix in ("e4m3fn", "e5m2"):
            out[f"test_{op}_{suffix}"] = _F8_QUANT
    for suffix in ("e4m3fn_float16", "e4m3fn_zero_point"):
        out[f"test_dequantizelinear_{suffix}"] = _F8_QUANT
    out["test_quantizelinear_uint16"] = (
        "QuantizeLinear is a FakeQuantize (as OpenVINO converts it), which rounds x/scale + zero_point - low as a "
        "whole, halves to even; ONNX rounds x/scale first and then adds the zero point. With the odd zero point "
        "32767 the ties 3/2 and -3/2 land one apart (32768 vs 32769); OpenVINO's own ONNX import gives the same")
    return out


ELEMENTWISE: dict[str, str] = {**_cast_cases(), **_quantize_cases()}

OPENVINO_ELEMENTWISE: dict[str, str] = {
    **{f"test_{op}_{a}_to_{b}{sfx}": "saturating cast to float8 = Clamp + Convert; OpenVINO's CPU Clamp turns the "
                                       "case's NaN into the lower bound (REF keeps NaN, as ONNX expects)"
       for op, sfx in (("cast", ""), ("castlike", "_expanded"))
       for a in ("FLOAT", "FLOAT16") for b in ("FLOAT8E4M3FN", "FLOAT8E5M2")},
    **{f"test_{op}_{a}_to_{b}{sfx}": "OpenVINO's CPU plugin runs f64 in f32: the case's values beyond the f32 range "
                                       "become inf there (REF computes in f64 and passes)"
       for op, sfx in (("cast", ""), ("castlike", "_expanded"))
       for a, b in (("DOUBLE", "FLOAT"), ("FLOAT16", "DOUBLE"), ("FLOAT", "DOUBLE"))},
    **{f"test_{op}_FLOAT_to_BFLOAT16{sfx}": "OpenVINO's CPU plugin rounds one f32 value (0.4707...) to a "
                                           "different bf16 neighbour than round-to-nearest-even (REF passes)"
       for op, sfx in (("cast", ""), ("castlike", "_expanded"))},
    "test_equal_string": "OpenVINO's CPU plugin has no Equal for string tensors (unsupported src_prc: string)",
    "test_equal_string_broadcast": "OpenVINO's CPU plugin has no Equal for string tensors (unsupported src_prc: "
                                   "string)",
    **{f"test_mod_float_edge_cases_fmod_0_{t}": (
        "OpenVINO's CPU FloorMod computes x - floor(x / y) * y: an infinite divisor gives NaN where ONNX "
        "(Python's %) gives x or an infinity, and an infinite dividend gives 0 instead of NaN")
       for t in ("float16", "float32", "float64")},
}
