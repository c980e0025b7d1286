"""GatherElements against ONNX Runtime on generated cases: indices of the data's rank whose dims other than the
axis may be smaller than the data's (the output has the indices' shape; REF once broadcast them to the data's),
negative indices, constant (the CPU device's precomputed offsets) or runtime indices, on REF and CPU."""
from __future__ import annotations

import numpy as np
import onnx
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import irforge
from tests.util import run_ort

CPU_F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_gather_elements_matches_onnxruntime(data: st.DataObject) -> None:
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    axis = data.draw(st.integers(0, len(shape) - 1))
    ishape = [data.draw(st.integers(1, 4)) if k == axis else data.draw(st.integers(1, n)) for k, n in
              enumerate(shape)]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal(shape).astype(np.float32)
    idx = rng.integers(-shape[axis], shape[axis], ishape).astype(np.int64)
    runtime = data.draw(st.booleans())
    node = helper.make_node("GatherElements", ["x", "idx"], ["y"],
                            axis=axis - len(shape) if data.draw(st.booleans()) else axis)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    inputs += [helper.make_tensor_value_info("idx", TensorProto.INT64, ishape)] if runtime else []
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [] if runtime else [numpy_helper.from_array(idx, "idx")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    feeds = {"x": x, **({"idx": idx} if runtime else {})}
    want = run_ort(proto, feeds)[0]
    model = irforge.convert_model(proto)
    core = irforge.Core()
    for device in ("REF", "CPU"):
        got = core.compile_model(model, device, CPU_F32 if device == "CPU" else {})(list(feeds.values()))[0]
        np.testing.assert_array_equal(got, want, err_msg=f"{device}: data {shape} indices {ishape} axis {axis}")
