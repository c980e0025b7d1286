"""irforge/openvino_names.py lists OpenVINO's Python API per class; every listed name either works on irforge's
object or raises NotImplementedError naming it, and the list covers the installed openvino's API (when openvino
grows, `python -m tests.api.test_openvino_names` prints the table anew)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import irforge
from irforge.openvino_names import OPENVINO_NAMES

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "mobilenet_v2_tiny.onnx")
_CLASSES = ["Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "Model", "Output", "Node", "Tensor", "Type",
            "Dimension", "PartialShape", "Shape", "Layout"]


# what the drop-in issue requires of each class (never NotImplementedError)
REQUIRED = {k: set(v.split()) for k, v in {
    "module": """Core Model Tensor Type Shape PartialShape Dimension Layout Output ConstOutput Node AsyncInferQueue
        CompiledModel InferRequest ProfilingInfo Version compile_model convert_model save_model serialize preprocess
        layout_helpers get_version""",
    "Core": "read_model compile_model available_devices get_available_devices get_property set_property query_model "
            "get_versions",
    "CompiledModel": "create_infer_request get_property infer_new_request input inputs output outputs",
    "InferRequest": """infer start_async wait wait_for get_tensor set_tensor get_input_tensor get_output_tensor
        set_input_tensor set_input_tensors set_output_tensor set_output_tensors input_tensors output_tensors results
        profiling_info get_profiling_info latency set_callback userdata model_inputs model_outputs
        get_compiled_model""",
    "AsyncInferQueue": "set_callback start_async wait_all is_ready userdata get_idle_request_id",
    "Model": """inputs outputs input output reshape get_parameters get_results get_ops get_ordered_ops friendly_name
        get_friendly_name set_friendly_name get_rt_info set_rt_info has_rt_info get_name clone is_dynamic
        get_output_size get_output_partial_shape get_output_element_type get_output_shape add_outputs parameters
        results name""",
    "Output": """get_partial_shape get_shape get_element_type get_any_name get_names partial_shape any_name names
        element_type shape index get_index node get_node get_rt_info rt_info set_names add_names""",
    "Node": """get_friendly_name friendly_name set_friendly_name get_type_name get_output_size
        get_output_partial_shape get_output_element_type get_element_type get_rt_info name get_name output""",
    "Tensor": """data shape get_shape element_type get_element_type size get_size byte_size get_byte_size strides
        get_strides set_shape copy_to copy_from is_continuous""",
    "Type": """bf16 boolean f16 f32 f64 i4 i8 i16 i32 i64 u1 u4 u8 u16 u32 u64 f8e4m3 f8e5m2 string dynamic
        get_type_name to_dtype is_static is_dynamic is_real is_integral is_signed bitwidth size""",
    "Dimension": "get_length get_min_length get_max_length is_static is_dynamic to_string compatible dynamic",
    "PartialShape": "rank is_static is_dynamic to_shape get_shape to_string compatible dynamic get_min_shape "
                    "get_max_shape",
    "Shape": "to_string",
    "Layout": "to_string has_name get_index_by_name empty",
}.items()}


def _openvino_names() -> dict[str, set[str]]:
    import openvino as ov

    out = {"module": {n for n in dir(ov) if not n.startswith("_")}}
    for name in _CLASSES:
        out[name] = {n for n in dir(getattr(ov, name)) if not n.startswith("_")}
    out["Output"] |= {n for n in dir(ov.ConstOutput) if not n.startswith("_")}
    return out


@pytest.fixture(scope="module")
def objects() -> dict[str, Any]:
    model = irforge.convert_model(EXAMPLE)
    compiled = irforge.compile_model(model, "REF")
    request = compiled.create_infer_request()
    request.infer(np.zeros((1, 3, 224, 224), np.float32))
    return {"module": irforge, "Core": irforge.Core(), "CompiledModel": compiled, "InferRequest": request,
            "AsyncInferQueue": irforge.AsyncInferQueue(compiled, 1), "Model": model, "Output": model.output(0),
            "Node": model.get_parameters()[0], "Tensor": irforge.Tensor(np.zeros(3, np.float32)),
            "Type": irforge.Type.f32, "Dimension": irforge.Dimension(3), "PartialShape": irforge.PartialShape([1, 2]),
            "Shape": irforge.Shape([1, 2]), "Layout": irforge.Layout("NCHW")}


def test_table_covers_the_installed_openvino() -> None:
    pytest.importorskip("openvino")
    for owner, names in _openvino_names().items():
        assert names <= OPENVINO_NAMES[owner], (owner, sorted(names - OPENVINO_NAMES[owner]))


@pytest.mark.parametrize("owner", ["module", *_CLASSES])
def test_every_name_works_or_says_it_is_not_supported(owner: str, objects: dict[str, Any]) -> None:
    target = objects[owner]
    missing = []
    for name in sorted(OPENVINO_NAMES[owner]):
        try:
            getattr(target, name)
        except NotImplementedError as e:
            assert name in str(e) and "not supported by irforge" in str(e) and "\n" not in str(e)
            missing.append(name)
    assert not set(missing) & REQUIRED.get(owner, set()), (owner, sorted(set(missing) & REQUIRED[owner]))


def test_unknown_names_stay_attribute_errors(objects: dict[str, Any]) -> None:
    for target in objects.values():
        with pytest.raises(AttributeError) as info:
            getattr(target, "no_such_name_anywhere")
        assert not isinstance(info.value, NotImplementedError)


if __name__ == "__main__":
    for owner, names in sorted(_openvino_names().items()):
        print(f'    "{owner}": """{" ".join(sorted(names | OPENVINO_NAMES.get(owner, set())))}""",')
