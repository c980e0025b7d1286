"""The public names of OpenVINO's Python API (openvino 2026.4) that irforge mirrors, per class and for the
package itself. A name irforge lacks raises one NotSupportedError (a NotImplementedError) naming it, instead of
a bare AttributeError, so a script written for `import openvino as ov` says exactly what it needs.
tests/api/test_openvino_names.py checks this table against the installed openvino and prints it anew."""
from __future__ import annotations

from typing import NoReturn

from irforge.errors import NotSupportedError

OPENVINO_NAMES: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "module": """AsyncInferQueue AxisSet AxisVector CompiledModel ConstOutput Coordinate CoordinateDiff Core Dimension
        DiscreteTypeInfo Extension InferRequest Input Layout Model Node OVAny Op OpExtension Output PartialShape
        ProfilingInfo RTMap RemoteContext RemoteTensor Shape Strides Symbol Tensor TensorVector Type VAContext
        VASurfaceTensor Version compile_model convert_model exceptions experimental frontend get_batch get_version
        helpers layout_helpers op opset1 opset10 opset11 opset12 opset13 opset14 opset15 opset16 opset17 opset2
        opset3 opset4 opset5 opset6 opset7 opset8 opset9 package_utils preprocess properties save_model serialize
        set_batch shutdown tensor_from_file tools utils""",
    "Core": """add_extension available_devices compile_model create_context get_available_devices get_default_context
        get_property get_versions import_model query_model read_model register_plugin register_plugins set_property
        unload_plugin""",
    "CompiledModel": """create_infer_request export_model get_property get_runtime_model infer_new_request input
        inputs output outputs query_state release_memory reset_state set_property""",
    "InferRequest": """cancel get_compiled_model get_input_tensor get_output_tensor get_profiling_info get_tensor infer
        input_tensors latency model_inputs model_outputs output_tensors profiling_info query_state reset_state results
        set_callback set_input_tensor set_input_tensors set_output_tensor set_output_tensors set_tensor set_tensors
        start_async userdata wait wait_for""",
    "AsyncInferQueue": "get_idle_request_id is_ready set_callback start_async userdata wait_all",
    "Model": """add_outputs add_parameters add_results add_sinks add_variables clone dynamic evaluate friendly_name
        get_friendly_name get_name get_ops get_ordered_ops get_output_element_type get_output_op
        get_output_partial_shape get_output_shape get_output_size get_parameter_index get_parameters get_result
        get_result_index get_results get_rt_info get_sink_index get_sinks get_variable_by_id get_variables has_rt_info
        input inputs is_dynamic name output outputs parameters remove_parameter remove_result remove_sink
        remove_variable replace_parameter reshape result results rt_info set_friendly_name set_rt_info sinks
        validate_nodes_and_infer_types variables""",
    "Output": """add_names any_name element_type get_any_name get_element_type get_index get_names get_node
        get_partial_shape get_rt_info get_shape get_target_inputs get_tensor index names node partial_shape
        remove_target_input replace rt_info set_names set_rt_info shape target_inputs tensor""",
    "Node": """constructor_validate_and_infer_types evaluate friendly_name get_attributes get_element_type
        get_friendly_name get_input_element_type get_input_partial_shape get_input_shape get_input_size
        get_input_tensor get_instance_id get_name get_output_element_type get_output_partial_shape get_output_shape
        get_output_size get_output_tensor get_rt_info get_type_info get_type_name input input_value input_values
        inputs name output outputs rt_info set_argument set_arguments set_attribute set_friendly_name
        set_output_size set_output_type set_rt_info shape type_info validate_and_infer_types visit_attributes""",
    "Tensor": """byte_size bytes_data copy_from copy_to data element_type get_byte_size get_element_type get_shape
        get_size get_strides is_continuous set_shape shape size str_data strides""",
    "Type": """bf16 bitwidth boolean compatible dynamic f16 f32 f4e2m1 f64 f8e4m3 f8e5m2 f8e8m0 get_bitwidth get_size
        get_type_name i16 i32 i4 i64 i8 integral integral_number is_dynamic is_integral is_integral_number
        is_quantized is_real is_signed is_static merge nf4 quantized real signed size string to_dtype to_string
        type_name u1 u16 u2 u3 u32 u4 u6 u64 u8""",
    "Dimension": """compatible dynamic get_length get_max_length get_min_length get_symbol has_symbol is_dynamic
        is_static max_length min_length refines relaxes same_scheme set_symbol to_string""",
    "PartialShape": """all_non_negative compatible dynamic get_dimension get_max_shape get_min_shape get_shape
        is_dynamic is_static rank refines relaxes same_scheme to_shape to_string""",
    "Shape": "to_string",
    "Layout": "empty get_index_by_name has_name scalar to_string",
}.items()}


def missing(owner: str, name: str) -> NoReturn:
    """Raise for attribute `name` of `owner` (a key of OPENVINO_NAMES): NotSupportedError when it is a name of
    OpenVINO's API, else the AttributeError Python would raise."""
    if name in OPENVINO_NAMES.get(owner, ()):
        where = "openvino" if owner == "module" else f"openvino.{owner}"
        raise NotSupportedError(f"{where}.{name} is not supported by irforge")
    raise AttributeError(f"'{owner}' object has no attribute '{name}'" if owner != "module"
                         else f"module 'irforge' has no attribute '{name}'")


class OpenVINONames:
    """Mixin: attribute lookups that fail go through `missing`, with the class's name as owner (override
    `_openvino_class` when the OpenVINO class has another name)."""

    __slots__ = ()
    _openvino_class: str = ""

    def __getattr__(self, name: str) -> NoReturn:
        missing(type(self)._openvino_class or type(self).__name__, name)
