"""Cold start and memory side by side: irforge's CPU device against OpenVINO and ONNX Runtime, one runtime per
fresh process.

Per model and runtime, in a new Python process each time (--repeat times): the time `import irforge` /
`import openvino` / `import onnxruntime` takes; the time to read the model, to compile it for the CPU (with its
infer request), of the first inference, and their sum, the time to the first result (the import excluded, but
anything the runtime imports on the way included: irforge's CPU device imports torch); the median of 20 more
inferences; the peak resident set (VmHWM, the imports included) and how much the resident set (VmRSS,
/proc/self/status) grew with reading the model, compiling it and the first inference. irforge and OpenVINO read the
same IR (written once by irforge, f32 weights unless --compress-to-fp16) and compile it with
INFERENCE_PRECISION_HINT f32; ONNX Runtime reads the .onnx (reading and compiling are one step there, reported
under compile). Times are the best of the repeats (the least disturbed by other processes), memory their median.

Models: ResNet-50 and the zoo of benchmarks/runtime_zoo.py (same definitions, same export, same inputs); --models
picks some of them by name, or takes paths to .onnx files (inputs: random values of their static input shapes).

    python -m benchmarks.cold_start [--models resnet50 bert path/to/m.onnx] [--repeat 3] [--compress-to-fp16]
                                    [--model-cache]
"""
from __future__ import annotations

import os
import sys
import time

from benchmarks.proc import status_mib  # standard library only

_T0 = time.perf_counter()  # the child measures from here: nothing heavy is imported above this line


# ---------------------------------------------------------------- child: one runtime, one model, one process
def _child(runtime: str, model_path: str, inputs_path: str, runs: int) -> dict[str, float]:
    out: dict[str, float] = {"rss_start": status_mib("VmRSS")}
    t = time.perf_counter()
    if runtime == "irforge":
        import irforge as rt
    elif runtime == "openvino":
        import openvino as rt
    else:
        import onnxruntime as rt
    out["import_s"] = time.perf_counter() - t
    import numpy as np

    with np.load(inputs_path) as z:
        feeds = {k: z[k] for k in z.files}
    arrays = list(feeds.values())
    r0 = status_mib("VmRSS")
    t = time.perf_counter()
    if runtime == "onnxruntime":
        r1, t1 = r0, t
        session = rt.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        r2, t2 = status_mib("VmRSS"), time.perf_counter()
        infer = lambda: session.run(None, feeds)  # noqa: E731
    else:
        core = rt.Core()
        model = core.read_model(model_path)
        r1, t1 = status_mib("VmRSS"), time.perf_counter()
        config = {"INFERENCE_PRECISION_HINT": "f32"}
        if os.environ.get("COLD_START_MODEL_CACHE"):  # --model-cache: the runtime's own CACHE_DIR
            config["CACHE_DIR"] = os.environ["COLD_START_MODEL_CACHE"]
        compiled = core.compile_model(model, "CPU", config)
        request = compiled.create_infer_request()
        r2, t2 = status_mib("VmRSS"), time.perf_counter()
        infer = lambda: request.infer(arrays)  # noqa: E731
    infer()
    t3 = time.perf_counter()
    out.update(read_s=t1 - t, compile_s=t2 - t1, infer1_s=t3 - t2, first_s=t3 - t)
    r3 = status_mib("VmRSS")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        infer()
        times.append(time.perf_counter() - t)
    times.sort()
    out.update(read_mb=r1 - r0, compile_mb=r2 - r1, infer_mb=r3 - r2, import_mb=r0 - out["rss_start"],
               steady_ms=times[len(times) // 2] * 1e3 if times else float("nan"), peak_mb=status_mib("VmHWM"),
               rss_end=status_mib("VmRSS"))
    return out


# ---------------------------------------------------------------- parent: prepare files, run children, report
RUNTIMES = ("irforge", "openvino", "onnxruntime")


def _prepare(names: list[str], cache: "os.PathLike[str]", compress: bool) -> list[tuple[str, str, str, str]]:
    """(name, .onnx, .xml, inputs .npz) per model: exported, converted and saved once (cached)."""
    from pathlib import Path

    import numpy as np

    import irforge

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    zoo_names = {n for n in names if not n.endswith(".onnx")}
    zoo = {}
    if zoo_names:
        from benchmarks import runtime_zoo

        zoo = {bm.name: bm for bm in runtime_zoo.MODELS}
        unknown = zoo_names - set(zoo)
        if unknown:
            raise SystemExit(f"--models: unknown {sorted(unknown)} (zoo: {', '.join(zoo)}; or paths to .onnx files)")
    for name in names:
        if name in zoo:
            onnx_path = runtime_zoo.export(zoo[name])
            inputs = zoo[name].inputs()
            label = name
        else:
            onnx_path = Path(name)
            inputs = _random_inputs(onnx_path)
            label = onnx_path.stem
        suffix = "-f16" if compress else ""
        xml = cache / f"{onnx_path.stem}{suffix}.xml"
        npz = cache / f"{onnx_path.stem}.npz"
        if not xml.is_file() or xml.stat().st_mtime < onnx_path.stat().st_mtime:
            irforge.save_model(irforge.convert_model(str(onnx_path)), xml, compress_to_fp16=compress)
        np.savez(npz, **inputs)
        out.append((label, str(onnx_path), str(xml), str(npz)))
    return out


def _random_inputs(path: "os.PathLike[str]") -> dict[str, "object"]:
    import numpy as np
    import onnx
    from onnx import helper

    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    rng = np.random.default_rng(0)
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
        out[vi.name] = rng.standard_normal(dims).astype(dtype) if dtype.kind == "f" else np.zeros(dims, dtype)
    return out


def _run_child(runtime: str, model: str, npz: str, runs: int, model_cache: str = "") -> dict[str, float]:
    import json
    import subprocess

    env = dict(os.environ)  # irforge's child sets its own GNU OpenMP waiting default (runtime/devices/cpu)
    if model_cache:
        env["COLD_START_MODEL_CACHE"] = model_cache
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cold_start", "--child", runtime, model, npz, str(runs)],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} on {model} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# (result key, title, format); every cell is as wide as its title
COLUMNS = [("import_s", "import s", ".2f"), ("read_s", "read s", ".2f"), ("compile_s", "compile s", ".2f"),
           ("infer1_s", "1st inf s", ".2f"), ("first_s", "1st res s", ".2f"), ("steady_ms", "infer ms", ".1f"),
           ("peak_mb", "peak MB", ".0f"), ("read_mb", "+read MB", ".1f"), ("compile_mb", "+compile", ".0f"),
           ("infer_mb", "+1st inf", ".0f")]


def _cell(value: float | None, title: str, fmt: str) -> str:
    return f"{'-':>{len(title)}s}" if value is None or value != value else f"{value:{len(title)}{fmt}}"


def _geo(values: list[float]) -> float:
    import math

    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def _compile_bytecode() -> None:
    """irforge's modules compiled to bytecode first, as installing a wheel does: an editable install under
    PYTHONDONTWRITEBYTECODE=1 (this workplace's machines) recompiles every module in every process, ~50 ms of
    read_model's time that no installed package pays."""
    import compileall

    import irforge

    compileall.compile_dir(os.path.dirname(irforge.__file__), quiet=1)
    print("irforge bytecode compiled (as an installed package has it)")


def main() -> None:
    import argparse
    import statistics
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["resnet50", "mobilenetv3", "yolo", "bert"],
                        help="zoo names (resnet50 mobilenetv3 yolo bert) or paths to .onnx files")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per model and runtime")
    parser.add_argument("--runs", type=int, default=20, help="inferences after the first, for the steady latency")
    parser.add_argument("--runtimes", nargs="*", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--compress-to-fp16", action="store_true", help="save the IR with f16 weights")
    parser.add_argument("--model-cache", action="store_true",
                        help="irforge and OpenVINO compile with CACHE_DIR (each its own, filled by a first process)")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "irforge_cold_start"))
    args = parser.parse_args()
    from benchmarks.cpu import cpu_description

    print(cpu_description())
    _compile_bytecode()
    if args.model_cache:
        print("CACHE_DIR on: irforge and OpenVINO each compile with their own model cache, filled beforehand")
    print(f"load average at start {os.getloadavg()}; {args.repeat} fresh processes per cell (times: best, memory: "
          "median); MB = MiB of VmRSS/VmHWM")
    models = _prepare(args.models, args.cache, args.compress_to_fp16)
    header = f"{'model':12s} {'runtime':12s} " + " ".join(title for _, title, _ in COLUMNS)
    ratios: dict[str, list[float]] = {key: [] for key, _, _ in COLUMNS}
    print()
    print(header)
    for label, onnx_path, xml, npz in models:
        results: dict[str, dict[str, float]] = {}
        for runtime in args.runtimes:
            source = onnx_path if runtime == "onnxruntime" else xml
            cache_dir = ""
            if args.model_cache and runtime != "onnxruntime":
                cache_dir = os.path.join(args.cache, "model_cache", f"{label}-{runtime}")
                _run_child(runtime, source, npz, 0, cache_dir)  # fills the cache (not measured)
            runs = [_run_child(runtime, source, npz, args.runs, cache_dir) for _ in range(args.repeat)]
            results[runtime] = {key: (min if key.endswith(("_s", "_ms")) else statistics.median)(r[key] for r in runs)
                                for key in runs[0]}
        for runtime, r in results.items():
            no_read = runtime == "onnxruntime"  # reading and compiling are one step there
            cells = " ".join(_cell(None if no_read and key.startswith("read") else r[key], title, fmt)
                             for key, title, fmt in COLUMNS)
            print(f"{label:12s} {runtime:12s} {cells}")
        if "irforge" in results and "openvino" in results:
            a, b = results["irforge"], results["openvino"]
            cells = []
            for key, title, _ in COLUMNS:
                # a growth of less than 0.5 MB makes no meaningful ratio
                ratio = a[key] / b[key] if b[key] > 0.5 or key.endswith(("_s", "_ms")) else None
                if ratio is not None:
                    ratios[key].append(ratio)
                cells.append(_cell(ratio, title, ".2f"))
            print(f"{label:12s} {'irf/OV':12s} " + " ".join(cells))
        print()
    if any(ratios.values()):
        cells = [_cell(_geo(ratios[key]), title, ".2f") for key, title, _ in COLUMNS]
        print(f"{'geomean':12s} {'irf/OV':12s} " + " ".join(cells))
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        import json

        result = _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        print(json.dumps(result))
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        main()
