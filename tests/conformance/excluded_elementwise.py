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


def _cast_names(suffix: str) -> tuple[str, str, str]:
    """The Cast case, the CastLike case and CastLike's function-expanded case for one conversion."""
    return f"test_cast_{suffix}", f"test_castlike_{suffix}", f"test_castlike_{suffix}_expanded"


def _cast_cases() -> dict[str, str]:
    out: dict[str, str] = {}
    for a, b in _CAST_PAIRS:
        if _cast_reason(a, b):
            for name in _cast_names(f"{a}_to_{b}"):
                out[name] = _cast_reason(a, b)
    for a in ("FLOAT", "FLOAT16"):
        for b in ("FLOAT8E4M3FNUZ", "FLOAT8E5M2FNUZ"):  # (no_saturate to e4m3fn/e5m2 runs and passes)
            for name in _cast_names(f"no_saturate_{a}_to_{b}"):
                out[name] = _cast_reason(a, b)
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


ELEMENTWISE: dict[str, str] = {
    **_cast_cases(), **_quantize_cases(),
    "test_dynamicquantizelinear_expanded": (
        "the expansion's QuantizeLinear is a FakeQuantize (as OpenVINO converts it), which rounds x/scale + "
        "zero_point as a whole, halves to even; ONNX rounds x/scale first. Here 0.5/scale = 25.5 exactly and the "
        "zero point is 153: 178.5 -> 178 versus round(25.5) + 153 = 179 (OpenVINO computes 178 too)"),
}

# OpenVINO's CPU plugin (checked on this AVX2 machine without native bf16) narrows f32 results to bf16 by
# truncation, not round-to-nearest-even: Convert(f32 -> bf16) of 0.47031248 gives 0.46875, not 0.4707; a bf16
# Elu of -1.5 gives -0.7734 where exp(-1.5) - 1 = -0.77687 rounds to -0.7773. REF rounds to nearest even.
BF16_TRUNCATION = ("OpenVINO's CPU plugin narrows f32 results to bf16 by truncation instead of round-to-nearest-"
                   "even (1 bf16 ulp low in magnitude, beyond the case's tolerance); REF rounds to nearest and "
                   "passes")

OPENVINO_ELEMENTWISE: dict[str, str] = {
    **{name: "saturating cast to float8 = Clamp + Convert; OpenVINO's CPU Clamp turns the case's NaN into the "
             "lower bound (REF keeps NaN, as ONNX expects)"
       for a in ("FLOAT", "FLOAT16") for b in ("FLOAT8E4M3FN", "FLOAT8E5M2") for name in _cast_names(f"{a}_to_{b}")},
    **{name: "OpenVINO's CPU plugin runs f64 in f32 and its f32 <-> f64 conversions saturate: the case's +-inf "
             "come back as +-FLT_MAX (3.4e38); REF converts exactly and passes"
       for a, b in (("DOUBLE", "FLOAT"), ("FLOAT16", "DOUBLE"), ("FLOAT", "DOUBLE"))
       for name in _cast_names(f"{a}_to_{b}")},
    **{name: BF16_TRUNCATION for name in _cast_names("FLOAT_to_BFLOAT16")},
    "test_celu_bfloat16_expanded": BF16_TRUNCATION,
    "test_equal_string": "OpenVINO's CPU plugin has no Equal for string tensors (unsupported src_prc: string)",
    "test_equal_string_broadcast": "OpenVINO's CPU plugin has no Equal for string tensors (unsupported src_prc: "
                                   "string)",
    **{f"test_mod_float_edge_cases_fmod_0_{t}": (
        "OpenVINO's CPU FloorMod computes x - floor(x / y) * y: an infinite divisor gives NaN where ONNX "
        "(Python's %) gives x or an infinity, and an infinite dividend gives 0 instead of NaN")
       for t in ("float16", "float32", "float64")},
    "test_dynamicquantizelinear": (
        "OpenVINO's CPU plugin runs a Divide as a multiplication by the reciprocal: x / scale with scale = 5/255 "
        "gives -2.5 / scale = -127.49999 (f32; ONNX rounds it to -127, code 26), -2.5 * (1 / scale) = -2.5 * 51 "
        "= -127.5, a tie rounded to -128 (code 25); REF divides and passes"),
}
