"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_MOVEMENT: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

MOVEMENT: dict[str, str] = {
}

OPENVINO_MOVEMENT: dict[str, str] = {
}
