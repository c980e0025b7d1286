"""Excluded ONNX node cases of this op family: {case name: reason}. Also OPENVINO_CONTROL: cases whose IR
irforge writes correctly but OpenVINO's CPU plugin cannot run or computes differently (with the reason)."""

CONTROL: dict[str, str] = {
    "test_lstm_with_peepholes": "LSTM peephole weights (input P, non-zero here): OpenVINO's LSTMSequence-5 has no "
                                "peephole input, so the LSTM translator rejects them instead of dropping them (a "
                                "decomposition into a Loop body is possible but not implemented)",
}

OPENVINO_CONTROL: dict[str, str] = {}
