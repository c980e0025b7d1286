"""Throughput and batch size side by side: irforge's CPU device against OpenVINO on the zoo's models
(benchmarks/runtime_zoo.py's definitions and exports), f32.

Two measurements per model, each runtime in turn, interleaved rounds in one process:
- throughput mode: `PERFORMANCE_HINT=THROUGHPUT` (each runtime picks its streams), an AsyncInferQueue with
  OPTIMAL_NUMBER_OF_INFER_REQUESTS requests kept busy for `--seconds`; frames per second;
- batch sizes (`--batches`, default 1 4 16) in latency mode: the model reshaped to each batch, median ms per
  sample over `--rounds`.
Prints the CPU and its ISA flags, the figures and irforge / OpenVINO ratios (throughput: irforge / OpenVINO fps,
higher is better; batches: ms per sample, lower is better).

    python -m benchmarks.throughput [--models resnet50 bert path/to/m.onnx] [--batches 1 4 16] [--seconds 5]
                                    [--threads 2]

--models takes the zoo's names or paths to .onnx files (inputs: random values of their static input shapes;
the corpus' transformers exports keep the batch dynamic, where the zoo's BERT bakes batch 1 into its Reshapes).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cold_start import _random_inputs
from benchmarks.cpu import cpu_description
from benchmarks.runtime_zoo import MODELS, export

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _batched(inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(np.repeat(v[:1], batch, axis=0)) for k, v in inputs.items()}


def _fps(rt: Any, model: Any, inputs: dict[str, np.ndarray], seconds: float, threads: int) -> float:
    """Frames per second of an AsyncInferQueue kept full for `seconds` under the THROUGHPUT hint."""
    compiled = rt.Core().compile_model(model, "CPU", {**F32, "PERFORMANCE_HINT": "THROUGHPUT",
                                                      "INFERENCE_NUM_THREADS": threads})
    jobs = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    queue = rt.AsyncInferQueue(compiled, jobs)
    feeds = list(inputs.values())
    for _ in range(jobs):  # warm-up: every request compiles/traces once
        queue.start_async(feeds)
    queue.wait_all()
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        queue.start_async(feeds)
        done += 1
    queue.wait_all()
    return done * next(iter(inputs.values())).shape[0] / (time.perf_counter() - t0)


def _latency(rt: Any, model: Any, inputs: dict[str, np.ndarray], threads: int) -> Callable[[], Any]:
    compiled = rt.Core().compile_model(model, "CPU", {**F32, "PERFORMANCE_HINT": "LATENCY",
                                                      "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    feeds = list(inputs.values())
    return lambda: request.infer(feeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["resnet50", "bert"])
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import openvino as ov

    import irforge
    print(cpu_description())
    print(f"threads {args.threads}, f32\n")
    runtimes = {"irforge": irforge, "openvino": ov}
    zoo = {bm.name: bm for bm in MODELS}
    for spec in args.models:
        if spec.endswith(".onnx"):
            path, label = Path(spec), Path(spec).stem
            inputs = _random_inputs(path)
        elif spec in zoo:
            path, label = export(zoo[spec]), spec
            inputs = zoo[spec].inputs()
        else:
            raise SystemExit(f"--models: unknown {spec} (zoo: {', '.join(zoo)}; or paths to .onnx files)")
        fps = {}
        for name, rt in runtimes.items():
            model = rt.Core().read_model(str(path))
            fps[name] = _fps(rt, model, inputs, args.seconds, args.threads)
        print(f"{label}: throughput mode {fps['irforge']:.1f} fps irforge, {fps['openvino']:.1f} fps OpenVINO, "
              f"ratio {fps['irforge'] / fps['openvino']:.2f}")
        for batch in args.batches:
            feeds = _batched(inputs, batch)
            runs = {}
            try:
                for name, rt in runtimes.items():
                    model = rt.Core().read_model(str(path))
                    model.reshape({k: list(v.shape) for k, v in feeds.items()})
                    runs[name] = _latency(rt, model, feeds, args.threads)
                    for _ in range(2):
                        runs[name]()
            except Exception as e:  # noqa: BLE001 - an export with the batch baked into a Reshape
                print(f"  batch {batch:3d}: not measured ({name}: {str(e).splitlines()[-1][:100]})")
                continue
            times: dict[str, list[float]] = {k: [] for k in runs}
            for _ in range(args.rounds):
                for name, run in runs.items():
                    t0 = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - t0)
            per = {k: statistics.median(v) * 1e3 / batch for k, v in times.items()}
            print(f"  batch {batch:3d}: {per['irforge']:8.2f} ms/sample irforge, {per['openvino']:8.2f} OpenVINO, "
                  f"ratio {per['irforge'] / per['openvino']:.2f}")


if __name__ == "__main__":
    main()
