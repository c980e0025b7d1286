"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_MOVEMENT: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

MOVEMENT: dict[str, str] = {
    "test_range_bfloat16_type_positive_delta_expanded":
        "the expansion ends in Cast(to=bfloat16), i.e. Convert to bf16, whose kernel returns raw uint16 bit "
        "patterns while REF values (and the case) use ml_dtypes.bfloat16; Range itself passes "
        "(test_range_bfloat16_type_positive_delta)",
}

OPENVINO_MOVEMENT: dict[str, str] = {
    "test_range_bfloat16_type_positive_delta":
        "tests.util.run_openvino hands ml_dtypes.bfloat16 arrays to OpenVINO, which reads them as f16 and rejects "
        "them for the bf16 inputs (ParameterMismatch); fed real bf16 tensors, OpenVINO runs this IR and returns "
        "[1, 3] (checked by hand)",
}
