"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_CONTROL: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

CONTROL: dict[str, str] = {}

OPENVINO_CONTROL: dict[str, str] = {}
