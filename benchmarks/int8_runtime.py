"""INT8 inference side by side: irforge's CPU device on INT8 IR against irforge FP32, OpenVINO FP32 and OpenVINO
running NNCF's INT8 IR of the same model, in one run, same inputs, same thread count (default 2).

Models (from benchmarks/runtime_zoo.py): ResNet-50 as torchvision defines it and the MobileNetV3-style classifier,
both at 1x3x224x224, exported to ONNX once (opset 17). Calibration: the same `--samples` (default 32) random
standard-normal images for both quantizers:
* irforge: `irforge.quantize(model, samples)` of the converted model, with `overflow_fix="enable"` (7-bit weights
  in every layer, what CPUs without VNNI need to compute 8-bit products without 16-bit saturation; on such CPUs
  the CPU device then runs every layer as one exact INT8 kernel) -> column `irf int8`; and with the default
  `overflow_fix="first_layer"` -> `irf i8 1st` (8-bit weights after the first layer: the device splits them into
  two saturation-free kernels under IRFORGE_CPU_INT8=exact, the default);
* NNCF: `nncf.quantize(openvino_model_of_the_onnx, nncf.Dataset(samples))` (its defaults: first-layer overflow
  fix) -> `OV int8` (OpenVINO's CPU plugin) and `irf nncf` (irforge reading the same IR, IRFORGE_CPU_INT8=fast:
  single saturating kernels, as OpenVINO runs it on CPUs without VNNI).

Printed: median latency over interleaved rounds (one inference of every engine per round, as runtime_zoo.py times
them: load from other processes hits all alike), the ratios irforge FP32 / irforge INT8 (speed-up), irforge INT8 /
OpenVINO INT8, OpenVINO's own speed-up; then a table of process CPU time per inference with 1 thread (robust to
the machine's load); then accuracy: max |INT8 - FP32| of each engine's outputs on the benchmark input (relative to
the FP32 output range) and the top-1 agreement with FP32 over the calibration images.

With `--layers`, per-layer profiles at 1 thread follow each model: irforge's INT8 IR on irforge (PERF_COUNT) and
NNCF's INT8 IR on OpenVINO (PERF_COUNT), each step's minimum over the rounds, layers matched by node name (both IRs
come from the same ONNX file): totals per kernel kind, the matched layers where irforge loses most, and the steps one
side runs that the other fuses away (OpenVINO's residual Add lives in its convolution's post-ops).

With `--qdq`, instead: ONNX files pre-quantized by ONNX Runtime (`onnxruntime.quantization.quantize_static`, 8
random calibration inputs, i8 weights; tests/models/qdq.py) in QDQ per tensor / per channel with u8 or i8
activations and in QOperator format, for ResNet-50, MobileNetV3 and the BERT-mini encoder, each file run by
irforge (convert_model, CPU), ONNX Runtime and OpenVINO (both reading the file), interleaved, at `--threads`
(intra-op threads for all three); printed: median ms, irforge / ORT, irforge / OpenVINO, irforge / the faster of
the two, the cosine similarity of irforge's outputs with ORT's (worst output), and irforge's steps outside INT8
(convolutions / matrix products not on INT8 kernels, float FakeQuantize steps).

    python -m benchmarks.int8_runtime [--threads 2] [--rounds 20] [--only resnet50] [--samples 32]
                                      [--skip-single-thread] [--layers]
    python -m benchmarks.int8_runtime --qdq [--threads 1] [--rounds 20] [--only resnet50 bert]
                                      [--variants qdq_pc_u8 qop_pc_u8]
"""
from __future__ import annotations

import os

import irforge.runtime.devices.cpu  # noqa: E402,F401 - first: its GNU OpenMP default applies (read on load)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterator  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import irforge  # noqa: E402
from benchmarks.runtime_zoo import CACHE, MODELS, BenchModel, export, measure  # noqa: E402

INT8_MODELS = ("resnet50", "mobilenetv3")


def samples(bm: BenchModel, count: int) -> list[np.ndarray]:
    shape = bm.inputs()["input"].shape
    rng = np.random.default_rng(7)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]


def _key(path: Path, *parts: object) -> str:
    h = hashlib.sha256(path.read_bytes()[:1 << 20] + str(path.stat().st_size).encode())
    h.update(repr(parts).encode())
    h.update(irforge.__file__.encode())
    return h.hexdigest()[:12]


def irforge_int8(bm: BenchModel, path: Path, ir: irforge.Model, data: list[np.ndarray], overflow_fix: str
                 ) -> tuple[irforge.Model, float]:
    """irforge's INT8 model (cached as IR) and the seconds quantization took (0 when cached)."""
    out = CACHE / f"{bm.name}-irf-int8-{overflow_fix}-{len(data)}-{_key(path, overflow_fix, len(data))}.xml"
    if out.is_file():
        return irforge.read_model(str(out)), 0.0
    t0 = time.perf_counter()
    q = irforge.quantize(ir, data, subset_size=len(data), overflow_fix=overflow_fix, progress=False)
    took = time.perf_counter() - t0
    irforge.save_model(q, str(out), compress_to_fp16=False)
    return q, took


def nncf_int8(bm: BenchModel, path: Path, data: list[np.ndarray]) -> tuple[Path, float]:
    """NNCF's INT8 IR of the ONNX file (written with openvino.save_model, f32 constants)."""
    import nncf
    import openvino as ov

    out = CACHE / f"{bm.name}-nncf-int8-{len(data)}-{_key(path, 'nncf', len(data))}.xml"
    if out.is_file():
        return out, 0.0
    t0 = time.perf_counter()
    q = nncf.quantize(ov.Core().read_model(str(path)), nncf.Dataset(data), subset_size=len(data))
    took = time.perf_counter() - t0
    ov.save_model(q, str(out), compress_to_fp16=False)
    return out, took


@contextmanager
def int8_mode(mode: str) -> Iterator[None]:
    """IRFORGE_CPU_INT8 while a model compiles (plans of static models are built at compile time)."""
    old = os.environ.get("IRFORGE_CPU_INT8")
    os.environ["IRFORGE_CPU_INT8"] = mode
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("IRFORGE_CPU_INT8", None)
        else:
            os.environ["IRFORGE_CPU_INT8"] = old


Engine = Callable[[np.ndarray], list[np.ndarray]]


def engines(models: dict[str, Any], threads: int) -> dict[str, Engine]:
    """name -> f(input) -> outputs, for irforge's models (label -> (Model, IRFORGE_CPU_INT8)) and OpenVINO's
    (label -> path)."""
    import openvino as ov

    out: dict[str, Engine] = {}
    core = irforge.Core()
    ov_core = ov.Core()
    for label, spec in models.items():
        if label.startswith("irf"):
            model, mode = spec
            with int8_mode(mode):
                request = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                            "INFERENCE_NUM_THREADS": str(threads)}
                                             ).create_infer_request()
            out[label] = lambda x, r=request: list(r.infer([x]).values_list())
        else:
            compiled = ov_core.compile_model(str(spec), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                                "INFERENCE_NUM_THREADS": threads,
                                                                "PERFORMANCE_HINT": "LATENCY"})
            req = compiled.create_infer_request()
            out[label] = lambda x, r=req, c=compiled: [np.array(r.infer([x])[o]) for o in c.outputs]
    return out


def _ms(v: float | None) -> str:
    return f"{v * 1e3:9.2f}" if v is not None else f"{'-':>9s}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:7.2f}" if a and b else f"{'-':>7s}"


def _geo(v: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


COLUMNS = ("irf_f32", "irf_int8", "irf_i8_1st", "irf_nncf", "ov_f32", "ov_int8")
HEADS = ("irf f32", "irf int8", "irf i8 1st", "irf nncf", "OV f32", "OV int8")


def print_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"{'model':12s} " + " ".join(f"{h:>9s}" for h in HEADS) +
          f" | {'f32/int8':>8s} {'int8/OV8':>8s} {'OV f/i8':>8s} {'irf/OV32':>8s}")
    speed, vs_ov, ov_speed = [], [], []
    for name, med in rows:
        s = med["irf_f32"] / med["irf_int8"]
        v = med["irf_int8"] / med["ov_int8"]
        o = med["ov_f32"] / med["ov_int8"]
        speed.append(s)
        vs_ov.append(v)
        ov_speed.append(o)
        print(f"{name:12s} " + " ".join(_ms(med.get(c)) for c in COLUMNS) +
              f" | {s:8.2f} {v:8.2f} {o:8.2f} {_ratio(med['irf_f32'], med['ov_f32']):>8s}")
    print(f"{'geomean':12s} " + " ".join(f"{'':9s}" for _ in COLUMNS) +
          f" | {_geo(speed):8.2f} {_geo(vs_ov):8.2f} {_geo(ov_speed):8.2f}")


def accuracy(name: str, runs: dict[str, Engine], x: np.ndarray, data: list[np.ndarray]) -> None:
    """INT8 against FP32 of the same engine family: max |diff| on the benchmark input, top-1 agreement on `data`."""
    pairs = (("irf_int8", "irf_f32"), ("irf_i8_1st", "irf_f32"), ("irf_nncf", "irf_f32"), ("ov_int8", "ov_f32"))
    ref_cache: dict[str, list[np.ndarray]] = {}

    def logits(label: str) -> list[np.ndarray]:
        if label not in ref_cache:
            ref_cache[label] = [runs[label](d)[0] for d in data]
        return ref_cache[label]
    for int8, fp32 in pairs:
        if int8 not in runs:
            continue
        a, b = runs[int8](x)[0], runs[fp32](x)[0]
        rel = float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(b))), 1e-12)
        agree = np.mean([np.argmax(p) == np.argmax(q) for p, q in zip(logits(int8), logits(fp32))])
        print(f"  {name:12s} {int8:10s} vs {fp32:7s}: max |INT8 - FP32| {np.max(np.abs(a - b)):.4g} "
              f"({rel:.2%} of the FP32 range), top-1 agreement {agree:.0%} over {len(data)} images")


# ---------------------------------------------------------------- per-layer comparison
Layer = tuple[str, str, str, float]  # node name, op type, exec type, seconds


def fastest(profiles: list[list[Layer]]) -> list[Layer]:
    """Each step's minimum time over repeated profiles of one engine (robust to other processes' load), in order;
    OpenVINO's steps that did not run (0 s in every profile) are left out."""
    best: dict[str, Layer] = {}
    for prof in profiles:
        for name, kind, exec_type, sec in prof:
            old = best.get(name)
            if old is None or sec < old[3]:
                best[name] = (name, kind, exec_type, sec)
    return [v for v in best.values() if v[3] > 0]


def kernel_kind(layer: Layer) -> str:
    """A step's kernel without precision suffixes: `onednn_qconv+bias+relu+fq`, `Convolution jit_avx2_1x1_I8`."""
    _, kind, exec_type, _ = layer
    if "_I8" in exec_type and exec_type.startswith(("onednn", "torch", "mkl")):
        return exec_type.split("_I8")[0]
    return exec_type if exec_type.startswith(("onednn", "torch", "mkl", "ref")) else f"{kind} {exec_type}"


def layer_report(irf: list[Layer], ov: list[Layer], top: int = 12) -> list[str]:
    """Lines comparing two engines' fastest step times (ms): per kernel kind, matched layers (same node name)
    where irforge loses most, and the steps only one side runs."""
    lines = []
    for label, layers in (("irforge", irf), ("OpenVINO", ov)):
        total = sum(v[3] for v in layers)
        kinds: dict[str, float] = {}
        for v in layers:
            kinds[kernel_kind(v)] = kinds.get(kernel_kind(v), 0.0) + v[3]
        lines.append(f"  {label}: {total * 1e3:.2f} ms over {len(layers)} steps")
        lines += [f"    {sec * 1e3:8.2f} ms  {k}" for k, sec in sorted(kinds.items(), key=lambda kv: -kv[1])]
    ov_by_name = {v[0]: v for v in ov}
    pairs = [(a, ov_by_name[a[0]]) for a in irf if a[0] in ov_by_name]
    matched = {a[0] for a, _ in pairs}
    a_sum, b_sum = sum(a[3] for a, _ in pairs), sum(b[3] for _, b in pairs)
    lines.append(f"  matched layers: {len(pairs)}, irforge {a_sum * 1e3:.2f} ms, OpenVINO {b_sum * 1e3:.2f} ms")
    for a, b in sorted(pairs, key=lambda p: p[1][3] - p[0][3])[:top]:
        lines.append(f"    {a[3] * 1e3:7.3f} vs {b[3] * 1e3:7.3f} ms  {a[2]} / {b[2]}  {a[0]}")
    for label, layers in (("irforge only", [v for v in irf if v[0] not in matched]),
                          ("OpenVINO only", [v for v in ov if v[0] not in matched])):
        kinds = {}
        for v in layers:
            kinds[kernel_kind(v)] = kinds.get(kernel_kind(v), 0.0) + v[3]
        lines.append(f"  {label}: {sum(v[3] for v in layers) * 1e3:.2f} ms over {len(layers)} steps: " +
                     ", ".join(f"{k} {sec * 1e3:.2f}" for k, sec in sorted(kinds.items(), key=lambda kv: -kv[1])))
    return lines


def profile_layers(model: irforge.Model, nncf_path: Path, x: np.ndarray, rounds: int) -> list[str]:
    """1-thread per-layer profiles of irforge (INT8 IR, IRFORGE_CPU_INT8=exact) and OpenVINO (NNCF's IR)."""
    import openvino as ov

    torch.set_num_threads(1)
    with int8_mode("exact"):
        req = irforge.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": "1", "PERF_COUNT": "YES",
                                                          "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()
    compiled = ov.Core().compile_model(str(nncf_path), "CPU", {"INFERENCE_NUM_THREADS": 1, "PERF_COUNT": True,
                                                                "INFERENCE_PRECISION_HINT": "f32"})
    ov_req = compiled.create_infer_request()
    irf_runs, ov_runs = [], []
    for r in range(rounds + 2):
        req.infer([x])
        ov_req.infer([x])
        if r >= 2:  # warm-up rounds (traced segments, first-use primitive creation)
            irf_runs.append([(p.node_name, p.node_type, p.exec_type, p.seconds) for p in req.get_profiling_info()])
            ov_runs.append([(p.node_name, p.node_type, p.exec_type, p.real_time.total_seconds())
                            for p in ov_req.get_profiling_info()])
    return layer_report(fastest(irf_runs), fastest(ov_runs))


# ---------------------------------------------------------------- ONNX Runtime's pre-quantized files
QDQ_MODELS = ("resnet50", "mobilenetv3", "bert")


def qdq_file(bm: BenchModel, path: Path, variant: str) -> Path:
    """`path` quantized by ONNX Runtime in tests/models/qdq.py's `variant` (cached beside it)."""
    from tests.models import qdq

    def calibration(i: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(100 + i)
        return {k: rng.standard_normal(v.shape).astype(np.float32) if v.dtype == np.float32 else v
                for k, v in bm.inputs().items()}
    out = CACHE / f"{path.stem}-{variant}-{_key(path, variant, qdq.CALIBRATION)}.onnx"
    return qdq.quantize_file(path, out, qdq.VARIANTS[variant], [calibration(i) for i in range(qdq.CALIBRATION)])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64) + 1e-30))


def qdq_row(bm: BenchModel, path: Path, threads: int, rounds: int) -> dict[str, Any]:
    """Median seconds of irforge, ORT and OpenVINO on one pre-quantized file, worst cosine vs ORT, and irforge's
    non-INT8 steps (heavy, float FakeQuantize)."""
    import onnxruntime as ort
    import openvino as ov

    inputs = bm.inputs()
    arrays = list(inputs.values())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    model = irforge.convert_model(str(path))
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": str(threads)}
    core = irforge.Core()
    req = core.compile_model(model, "CPU", cfg).create_infer_request()
    prof = core.compile_model(model, "CPU", {**cfg, "PERF_COUNT": "YES"}).create_infer_request()
    try:
        ov_req = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS":
                                                             threads, "PERFORMANCE_HINT": "LATENCY"}
                                         ).create_infer_request()
    except RuntimeError as e:  # OpenVINO 2026.4 reads no per-channel QLinearConv, no QGemm
        print(f"  OpenVINO cannot read {path.name}: {str(e).splitlines()[-1] if str(e) else e}")
        ov_req = None
    want = sess.run(None, inputs)
    got = list(prof.infer(arrays).values_list())
    steps = prof.get_profiling_info()
    heavy = sum(1 for p in steps if p.node_type in ("Convolution", "GroupConvolution", "MatMul")
                and "_I8" not in p.exec_type)
    fq = sum(1 for p in steps if "fakequantize" in p.exec_type and "_I8" not in p.exec_type)
    int8 = sum(1 for p in steps if p.node_type in ("Convolution", "GroupConvolution", "MatMul")
               and "_I8" in p.exec_type)
    runs = {"irf": lambda: req.infer(arrays), "ort": lambda: sess.run(None, inputs)}
    if ov_req is not None:
        runs["ov"] = lambda: ov_req.infer(arrays)
    med: dict[str, float | None] = {"ov": None, **measure(runs, rounds)}
    return {**med, "cos": min(_cosine(g, w) for g, w in zip(got, want)), "heavy": heavy, "fq": fq, "int8": int8}


def qdq_main(args: argparse.Namespace) -> None:
    from benchmarks.cpu import cpu_description

    torch.set_num_threads(args.threads)
    print(f"ONNX Runtime pre-quantized files: threads {args.threads}, rounds {args.rounds}, {cpu_description()}, "
          f"load average at start {os.getloadavg()}")
    print(f"{'model':12s} {'variant':10s} {'irforge':>8s} {'ORT':>8s} {'OV':>8s} | {'irf/ORT':>7s} {'irf/OV':>7s} "
          f"{'irf/best':>8s} | {'cos':>7s} {'I8 mm':>5s} {'f32 mm':>6s} {'fq f32':>6s}")
    ratios = []
    for bm in MODELS:
        if bm.name not in QDQ_MODELS or (args.only and bm.name not in args.only):
            continue
        path = export(bm)
        for variant in args.variants:
            r = qdq_row(bm, qdq_file(bm, path, variant), args.threads, args.rounds)
            best = min(v for v in (r["ort"], r["ov"]) if v is not None)
            ratios.append(r["irf"] / best)
            print(f"{bm.name:12s} {variant:10s} {_ms(r['irf'])[1:]} {_ms(r['ort'])[1:]} {_ms(r['ov'])[1:]} | "
                  f"{_ratio(r['irf'], r['ort'])} {_ratio(r['irf'], r['ov'])} {r['irf'] / best:8.2f} | "
                  f"{r['cos']:7.4f} {r['int8']:5d} {r['heavy']:6d} {r['fq']:6d}", flush=True)
    print(f"geomean irforge / best: {_geo(ratios):.2f}; load average at end {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--skip-single-thread", action="store_true")
    parser.add_argument("--layers", action="store_true", help="per-layer profiles, irforge INT8 vs OpenVINO INT8")
    parser.add_argument("--qdq", action="store_true", help="ONNX Runtime's QDQ / QOperator files: irforge, ORT, OV")
    parser.add_argument("--variants", nargs="*", default=["qdq_pt_u8", "qdq_pc_u8", "qdq_pc_i8", "qop_pc_u8"])
    args = parser.parse_args()
    if args.qdq:
        qdq_main(args)
        return
    from benchmarks.cpu import threads_description

    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, rounds {args.rounds}, calibration samples {args.samples}, "
          f"{threads_description()}")
    rows, cpu_rows = [], []
    for bm in MODELS:
        if bm.name not in INT8_MODELS or (args.only and bm.name not in args.only):
            continue
        path = export(bm)
        ir = irforge.convert_model(str(path))
        data = samples(bm, args.samples)
        q_all, t_all = irforge_int8(bm, path, ir, data, "enable")
        q_first, t_first = irforge_int8(bm, path, ir, data, "first_layer")
        nncf_path, t_nncf = nncf_int8(bm, path, data)
        q_nncf = irforge.read_model(str(nncf_path))
        print(f"\n{bm.name}: quantization (0 = cached) irforge {t_all:.1f}s / {t_first:.1f}s, NNCF {t_nncf:.1f}s")
        models: dict[str, Any] = {"irf_f32": (ir, "exact"), "irf_int8": (q_all, "exact"),
                                  "irf_i8_1st": (q_first, "exact"), "irf_nncf": (q_nncf, "fast"),
                                  "ov_f32": path, "ov_int8": nncf_path}
        x = bm.inputs()["input"]
        runs = engines(models, args.threads)
        med = measure({k: (lambda r=r: r(x)) for k, r in runs.items()}, args.rounds)
        rows.append((bm.name, med))
        print("  " + "  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in med.items()))
        accuracy(bm.name, runs, x, data)
        del runs
        if not args.skip_single_thread:
            torch.set_num_threads(1)
            single = engines(models, 1)
            cpu_rows.append((bm.name, measure({k: (lambda r=r: r(x)) for k, r in single.items()}, args.rounds,
                                              clock=time.process_time)))
            torch.set_num_threads(args.threads)
            del single
        if args.layers:
            print(f"\n{bm.name}: per-layer, 1 thread, fastest of {args.rounds} profiled runs (ms)")
            print("\n".join(profile_layers(q_all, nncf_path, x, args.rounds)))
            torch.set_num_threads(args.threads)
    print_table(f"median latency, {args.threads} threads (ms)", rows)
    if cpu_rows:
        print_table("single thread, process CPU time per inference (ms; robust to other processes' load)", cpu_rows)
    print(f"\nload average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
