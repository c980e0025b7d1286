"""Fixed per-inference overhead: tiny models where the runtime's Python path, not the kernels, decides the time.

Models: one Relu on [1, 16]; a chain of 10 element-wise ops on [1, 16] (Sin, Cos, Abs, Neg, ... so nothing fuses
them away); silero-VAD (the trained voice-activity model, ~40 plan steps and a nested If body; present once
scripts/fetch_package_models.py fetched it) on one 512-sample 16 kHz chunk; the zoo's MobileNetV3 at 224x224
(benchmarks/runtime_zoo.py's definition) as a model where the kernels dominate.

Engines, all with 1 thread, f32, on the same ONNX file and the same arrays:
- `irf infer`: `request.infer({"name": array, ...})` (what OpenVINO users write);
- `irf call`: `compiled([arrays])` (CompiledModel.__call__ with a list);
- `irf preset`: one request whose input tensors were set once (`set_input_tensor`), then `request.infer()`;
- `ORT`: ONNX Runtime's `session.run(None, feeds)`;
- `OV`: OpenVINO's `request.infer(feeds)` (left out where OpenVINO cannot compile the model: silero-VAD's If has
  an input of dynamic rank, which its ONNX reader and its CPU plugin reject).

Each round times a batch of calls of every engine in turn (interleaved, so load from other processes hits all
alike), each batch after a few untimed calls (warm caches: the steady state of a model called in a loop, as a VAD
over an audio stream); the table shows the median microseconds per call over the rounds and the ratios to ORT
and OpenVINO.

    python -m benchmarks.overhead [--rounds 30] [--only relu chain10 silero_vad mobilenetv3] [--cpu-time]

`--cpu-time` times with the process' CPU time (every engine runs 1 thread, in the calling thread or its own
pool's one), which other processes' load on a shared machine barely moves.
"""
from __future__ import annotations

import os

import irforge.runtime.devices.cpu  # noqa: E402,F401 - first: its GNU OpenMP default applies (read on load)

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import irforge  # noqa: E402
from benchmarks.cpu import cpu_description  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "irforge_overhead"
F32 = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": "1"}
CHAIN_OPS = ("Sin", "Cos", "Abs", "Neg", "Exp", "Tanh", "Sigmoid", "Sqrt", "Relu", "Softsign")


@dataclass(frozen=True)
class TinyModel:
    name: str
    path: Callable[[], Path | None]  # the ONNX file (None: not available here, the model is skipped)
    inputs: Callable[[], dict[str, np.ndarray]]


def _onnx_chain(name: str, ops: tuple[str, ...]) -> Path:
    """An ONNX file applying `ops` one after the other to x: f32[1, 16]."""
    import onnx
    from onnx import TensorProto, helper

    path = CACHE / f"{name}.onnx"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    nodes, value = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"v{i}"
        nodes.append(helper.make_node(op, [value], [out], name=f"{op.lower()}{i}"))
        value = out
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
    return path


def _x16() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(0).uniform(0.1, 1.0, (1, 16)).astype(np.float32)}


def _silero_path() -> Path | None:
    from tests.models.package_models import MODELS, locate

    return locate(MODELS["silero_vad"])


def _silero_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"input": (0.1 * rng.standard_normal((1, 512))).astype(np.float32),
            "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)}


def _mobilenet_path() -> Path:
    from benchmarks.runtime_zoo import MODELS, export

    return export(next(m for m in MODELS if m.name == "mobilenetv3"))


def _mobilenet_inputs() -> dict[str, np.ndarray]:
    from benchmarks.runtime_zoo import MODELS

    return next(m for m in MODELS if m.name == "mobilenetv3").inputs()


MODELS = [
    TinyModel("relu", lambda: _onnx_chain("relu", ("Relu",)), _x16),
    TinyModel("chain10", lambda: _onnx_chain("chain10", CHAIN_OPS), _x16),
    TinyModel("silero_vad", _silero_path, _silero_inputs),
    TinyModel("mobilenetv3", _mobilenet_path, _mobilenet_inputs),
]


# ---------------------------------------------------------------- engines
Engine = Callable[[], Any]


def engines(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, Engine]:
    """Engine name -> one inference on `feeds` (all engines 1 thread, f32)."""
    import onnxruntime as ort
    import openvino as ov

    arrays = list(feeds.values())
    ir = irforge.convert_model(str(path))
    compiled = irforge.Core().compile_model(ir, "CPU", F32)
    request = compiled.create_infer_request()
    preset = compiled.create_infer_request()
    for i, a in enumerate(arrays):
        preset.set_input_tensor(i, irforge.Tensor(a))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ov_config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"}
    runs: dict[str, Engine] = {
        "irf infer": lambda: request.infer(feeds),
        "irf call": lambda: compiled(arrays),
        "irf preset": lambda: preset.infer(),
        "ORT": lambda: sess.run(None, feeds),
    }
    try:
        ov_request = ov.Core().compile_model(str(path), "CPU", ov_config).create_infer_request()
        runs["OV"] = lambda: ov_request.infer(feeds)
    except RuntimeError as e:  # silero-VAD: OpenVINO's ONNX reader (and its CPU plugin, on irforge's IR) reject
        lines = [line for line in str(e).splitlines() if line.strip()]  # its If
        print(f"  {path.name}: OpenVINO cannot compile it: {lines[-1] if lines else type(e).__name__}")
    return runs


def check_outputs(runs: dict[str, Engine]) -> float:
    """Largest difference of irforge's first output from ONNX Runtime's (a benchmark of wrong results is moot)."""
    a = np.asarray(runs["irf infer"]().to_tuple()[0], np.float64)
    b = np.asarray(runs["ORT"]()[0], np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def batch_size(run: Engine, target_s: float = 2e-3) -> int:
    """Calls per timed batch so that one batch takes about `target_s` (timer resolution and call noise average
    out; a slow model is timed one call at a time)."""
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < target_s / 4 and n < 1000:
        run()
        n += 1
    per = (time.perf_counter() - t0) / n
    return max(1, min(1000, int(target_s / per)))


def measure(runs: dict[str, Engine], rounds: int, warmup: int = 20, rewarm: int = 3,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per call of each engine over `rounds` interleaved rounds of one batch each. Before its batch
    an engine runs `rewarm` untimed calls: the first call after another engine's pays for caches the other one
    evicted (60-80 us on silero-VAD, more on MobileNetV3), which would otherwise land on whichever engine comes
    first in the round."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    sizes = {k: batch_size(r) for k, r in runs.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            for _ in range(rewarm):
                run()
            n = sizes[name]
            t0 = clock()
            for _ in range(n):
                run()
            times[name].append((clock() - t0) / n)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process' CPU time instead of the wall clock (robust to other processes' "
                             "load on a shared machine; every engine runs 1 thread)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(cpu_description())
    print(f"1 thread, f32, {args.rounds} interleaved rounds, medians of "
          f"{'process CPU time' if args.cpu_time else 'wall time'}; load average at start {os.getloadavg()}")
    names = ["irf infer", "irf call", "irf preset", "ORT", "OV"]
    print(f"\n{'model':12s} " + " ".join(f"{n:>10s}" for n in names) +
          f" | {'infer/ORT':>9s} {'call/ORT':>9s} {'infer/OV':>9s}   (us per call)")
    for tm in MODELS:
        if args.only and tm.name not in args.only:
            continue
        path = tm.path()
        if path is None:
            print(f"{tm.name:12s} not measured: its ONNX file is not fetched (scripts/fetch_package_models.py)")
            continue
        runs = engines(path, tm.inputs())
        err = check_outputs(runs)
        med = measure(runs, args.rounds, clock=clock)
        us = {k: v * 1e6 for k, v in med.items()}
        to_ov = f"{us['irf infer'] / us['OV']:9.2f}" if "OV" in us else f"{'-':>9s}"
        print(f"{tm.name:12s} " + " ".join(f"{us[n]:10.1f}" if n in us else f"{'-':>10s}" for n in names) +
              f" | {us['irf infer'] / us['ORT']:9.2f} {us['irf call'] / us['ORT']:9.2f} {to_ov}"
              f"   (max |irf - ORT| {err:.1e})")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
