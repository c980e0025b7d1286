"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_NN: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

NN: dict[str, str] = {}

OPENVINO_NN: dict[str, str] = {}
