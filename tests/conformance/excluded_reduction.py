"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_REDUCTION: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

REDUCTION: dict[str, str] = {}

_DYNAMIC_RANK = ("axes is a graph input and keepdims=0, so OpenVINO infers a dynamic output rank for ReduceSum and "
                 "its CPU plugin cannot compile the Log that follows (OpenVINO's own ONNX frontend fails the same way)")

OPENVINO_REDUCTION: dict[str, str] = {
    "test_reduce_max_empty_set": "reducing an empty axis: OpenVINO's CPU plugin returns -FLT_MAX where ONNX expects "
                                 "-inf (the OpenVINO spec leaves empty reductions undefined; REF gives -inf)",
    "test_reduce_log_sum_asc_axes_expanded": _DYNAMIC_RANK,
    "test_reduce_log_sum_desc_axes_expanded": _DYNAMIC_RANK,
}
