"""The "light" real-model cases shipped with onnx (onnx/backend/test/data/light): the classic ImageNet
architectures with the real topology but weights built in-graph by ConstantOfShape (so constant values matter).

Only the expected output is shipped. The input is the one onnx's backend test runner generates for these files
(onnx/backend/test/runner/__init__.py, `generate_dummy_data(..., random=False)`): for each non-initializer graph
input, `np.arange(n).reshape(shape) / n` in float32 (dynamic dims taken as 1). Tolerances are onnx's own for these
cases (onnx/backend/test/case/model/__init__.py: rtol 1e-3, atol 1e-7; densenet121 rtol 2e-3).

With constant weights every class gets the same logit, so a final Softmax yields exactly 1/1000 whatever the
logit: the shipped output alone would hide almost any error. `load` therefore adds the Softmax's input (the
logits, ~1e19 for resnet50) as a second graph output, to be compared with ONNX Runtime."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
NAMES = sorted(p.stem.removeprefix("light_") for p in LIGHT_DIR.glob("light_*.onnx"))
ATOL = 1e-7


@dataclass
class LightCase:
    name: str
    proto: onnx.ModelProto  # the shipped model, plus the logits output where it ends in Softmax
    inputs: dict[str, np.ndarray]
    expected: np.ndarray  # the shipped output_0
    rtol: float


def dummy_input(vi: onnx.ValueInfoProto) -> np.ndarray:
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def load(name: str) -> LightCase:
    proto = onnx.load(LIGHT_DIR / f"light_{name}.onnx")
    last = proto.graph.node[-1]
    if last.op_type == "Softmax":
        proto.graph.output.append(helper.make_tensor_value_info(last.input[0], onnx.TensorProto.FLOAT, None))
    inits = {i.name for i in proto.graph.initializer}
    inputs = {vi.name: dummy_input(vi) for vi in proto.graph.input if vi.name not in inits}
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT_DIR / f"light_{name}_output_0.pb")))
    return LightCase(name, proto, inputs, expected, 2e-3 if name == "densenet121" else 1e-3)
