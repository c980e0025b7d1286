"""ONNX node cases irforge does not pass, each with its reason. One dict per op family (owned by whoever works
on that family), merged here. Keep every entry justified."""
from tests.conformance.excluded_control import CONTROL
from tests.conformance.excluded_elementwise import ELEMENTWISE
from tests.conformance.excluded_movement import MOVEMENT
from tests.conformance.excluded_nn import NN
from tests.conformance.excluded_reduction import REDUCTION

# Ops outside the families (Constant, Identity, Dropout).
MISC: dict[str, str] = {
    name: "training-mode Dropout draws a random mask (the expected output comes from NumPy's RNG); irforge converts "
          "inference graphs and refuses training_mode=true"
    for name in ("test_training_dropout", "test_training_dropout_default", "test_training_dropout_default_mask",
                 "test_training_dropout_mask", "test_training_dropout_zero_ratio",
                 "test_training_dropout_zero_ratio_mask")  # (zero_ratio: the ratio is a graph input, unknown)
}

# The onnx release (major, minor) whose node cases these lists were checked against: with an older onnx, names of
# cases added since are not stale (test_exclusions_name_in_scope_cases).
LISTS_ONNX = (1, 23)

# Cases irforge's REF device does not pass: case name -> reason.
EXCLUDED: dict[str, str] = {**ELEMENTWISE, **NN, **MOVEMENT, **REDUCTION, **CONTROL, **MISC}

from tests.conformance.excluded_control import OPENVINO_CONTROL  # noqa: E402
from tests.conformance.excluded_elementwise import OPENVINO_ELEMENTWISE  # noqa: E402
from tests.conformance.excluded_movement import OPENVINO_MOVEMENT  # noqa: E402
from tests.conformance.excluded_nn import OPENVINO_NN  # noqa: E402
from tests.conformance.excluded_reduction import OPENVINO_REDUCTION  # noqa: E402

# Cases whose irforge IR OpenVINO cannot load/run or runs differently: case name -> reason.
EXCLUDED_OPENVINO: dict[str, str] = {
    **OPENVINO_ELEMENTWISE, **OPENVINO_NN, **OPENVINO_MOVEMENT, **OPENVINO_REDUCTION, **OPENVINO_CONTROL,
}
