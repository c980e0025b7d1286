"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_REDUCTION: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

REDUCTION: dict[str, str] = {}

OPENVINO_REDUCTION: dict[str, str] = {}
