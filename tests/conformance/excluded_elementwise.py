"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_ELEMENTWISE: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

ELEMENTWISE: dict[str, str] = {}

OPENVINO_ELEMENTWISE: dict[str, str] = {}
