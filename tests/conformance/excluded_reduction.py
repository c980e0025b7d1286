"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_REDUCTION: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

REDUCTION: dict[str, str] = {}

_DYNAMIC_RANK = ("axes is a graph input of 2 elements and keepdims=0: OpenVINO's ReduceSum shape inference then "
                 "gives a dynamic output rank (it counts the removed dims only for a 1-element axes input) and its "
                 "CPU plugin refuses to compile a ReduceSum of dynamic rank; OpenVINO's own ONNX import of the "
                 "case fails the same way")

OPENVINO_REDUCTION: dict[str, str] = {
    "test_reduce_max_empty_set": "reducing an empty axis: OpenVINO's CPU plugin returns -FLT_MAX where ONNX expects "
                                 "-inf (the OpenVINO spec leaves empty reductions undefined; REF gives -inf)",
    **{f"test_reduce_log_sum_{order}_axes{sfx}": _DYNAMIC_RANK for order in ("asc", "desc") for sfx in ("", "_expanded")},
}
