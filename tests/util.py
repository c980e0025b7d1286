"""Test helpers: run a Model on REF, on OpenVINO (through our own IR files) and an ONNX model on ONNX Runtime."""
from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

import irforge
from irforge.ir.graph import Model
from irforge.ir.types import ElementType
from irforge.ir.xml_io import model_to_xml, pack_constant, unpack_constant


def run_ref(model: Model, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Evaluate `model` on the REF device; outputs in model order."""
    return irforge.Core().compile_model(model, "REF")(inputs).values_list()


def run_openvino(model: Model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Serialize `model` with irforge's writer, load the IR in OpenVINO, run it on OpenVINO's CPU in f32."""
    import openvino as ov

    xml, blob = model_to_xml(model)
    core = ov.Core()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.xml")
        with open(path, "wb") as f:
            f.write(xml)
        with open(os.path.join(d, "m.bin"), "wb") as f:
            f.write(blob)
        ov_model = core.read_model(path)
        compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        request.infer([_ov_tensor(np.asarray(x), p.element_type) for x, p in zip(inputs, model.inputs)])
        outs = []
        for i, mine in enumerate(model.outputs):
            tensor = request.get_output_tensor(i)
            arr = np.array(tensor.data)
            if mine.element_type.dtype in _OV_ML_DTYPES:  # OpenVINO hands these out as raw bits
                arr = arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16).view(mine.element_type.dtype)
            elif mine.element_type.bits < 8:  # packed 4-bit/1-bit data
                arr = unpack_constant(arr.tobytes(), mine.element_type, list(tensor.shape))
            outs.append(arr)
        return outs


_OV_ML_DTYPES = {np.dtype(ml_dtypes.bfloat16): "bf16", np.dtype(ml_dtypes.float8_e4m3fn): "f8e4m3",
                 np.dtype(ml_dtypes.float8_e5m2): "f8e5m2"}


def _ov_tensor(arr: np.ndarray, et: ElementType) -> Any:
    """An OpenVINO tensor for `arr`: bf16 arrays as real bf16 tensors (OpenVINO would read them as f16) and
    4-bit values packed two per byte."""
    import openvino as ov

    ov_type = _OV_ML_DTYPES.get(arr.dtype)
    if ov_type is not None:
        t = ov.Tensor(getattr(ov.Type, ov_type), arr.shape)
        raw = arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)
        t.data.view(raw.dtype)[...] = raw
        return t
    if et.name in ("i4", "u4"):
        t = ov.Tensor(ov.Type.i4 if et.name == "i4" else ov.Type.u4, arr.shape)
        t.data.view(np.uint8)[...] = np.frombuffer(pack_constant(arr, et), np.uint8)
        return t
    return arr


def run_ort(onnx_model: Any, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run an ONNX model (path or ModelProto) on ONNX Runtime's CPU provider."""
    import onnxruntime as ort

    data = onnx_model if isinstance(onnx_model, (str, os.PathLike)) else onnx_model.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(data) if isinstance(data, os.PathLike) else data, opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, dict(inputs))


def max_abs_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def assert_close(got: Sequence[np.ndarray], want: Sequence[np.ndarray], rtol: float = 1e-4, atol: float = 1e-5,
                 what: str = "") -> None:
    assert len(got) == len(want), f"{what}: {len(got)} outputs != {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what} output {i}: shape {g.shape} != {w.shape}"
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol,
                                       equal_nan=True, err_msg=f"{what} output {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} output {i}")


def in_threads(work: Callable[[int], None], n: int) -> None:
    """Run work(0) ... work(n - 1) in n threads at once and wait for them; the first exception a worker raised is
    raised here (an assertion failing in a thread would otherwise only be printed)."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(e)
    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """`write(tmp)` into a temporary file beside `path`, then rename it to `path`: a concurrent reader (pytest -n
    workers sharing a cache) sees no file or the whole file, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
