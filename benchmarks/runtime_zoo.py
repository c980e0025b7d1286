"""Inference latency side by side: irforge's CPU device against OpenVINO, ONNX Runtime and plain PyTorch, all on
the same ONNX files, the same inputs and the same thread count (default 2), in one run.

Models: ResNet-50 exactly as torchvision defines it (written out below: Bottleneck blocks [3, 4, 6, 3]), and, with
the architectures of tests/models/zoo.py, the MobileNetV3-style classifier at 224x224, the YOLO-style detector at
640x640 and the BERT-style encoder at the BERT-mini size (4 layers, hidden 256, 4 heads) on 1 x 128 tokens. Each
is exported with the TorchScript exporter (dynamo=False, opset 17) and converted with `irforge.convert_model`;
OpenVINO and ONNX Runtime read the ONNX file themselves.

Per model: median latency of irforge CPU f32, ONNX Runtime, OpenVINO f32, irforge bf16 (INFERENCE_PRECISION_HINT=
bf16: emulated on CPUs without native bf16, see irforge/runtime/devices/cpu/precision.py), OpenVINO with the bf16
hint (its default where the CPU has bf16; OpenVINO falls back to f32 where it has not) and PyTorch eager; the
ratios irforge/OpenVINO (f32 and bf16), irforge/ORT and irforge/PyTorch, and their geometric means. Engines are
timed in interleaved rounds (one inference each per round), so load from other processes hits them alike. Also
printed: the CPU device's per-step overhead, from a chain of tiny ops.

GNU OpenMP (irforge's and PyTorch's threads) runs with irforge's default short spin (GOMP_SPINCOUNT=5000) unless the
environment says otherwise: on a shared, oversubscribed machine libgomp's long default spin makes 2-thread runs
slower than 1-thread ones (see irforge/runtime/devices/cpu/__init__.py). OpenVINO (TBB) and ONNX Runtime have their
own pools.
`--single-thread-cpu` adds a table that is robust to other processes' load: process CPU time per inference of
irforge f32, ONNX Runtime and OpenVINO f32, each with 1 thread.

    python -m benchmarks.runtime_zoo [--models zoo corpus packages] [--exporter legacy|dynamo] [--threads 2]
                                     [--rounds 30] [--only resnet50 bert] [--skip-torch] [--skip-bf16]
                                     [--single-thread-cpu]

`--models corpus` adds the architectures of tests/models/corpus (transformers configs at real widths, 2 layers,
exported with `--exporter`), `--models packages` the trained models of scripts/fetch_package_models.py.
"""
from __future__ import annotations

import os

import irforge.runtime.devices.cpu  # noqa: E402,F401 - first: its GNU OpenMP default applies (read on load)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import irforge  # noqa: E402
from irforge.ir.graph import Model, make, parameter, result  # noqa: E402
from irforge.ir.types import Type  # noqa: E402
from benchmarks.cpu import cpu_description, threads_description  # noqa: E402
from tests.models import zoo  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "irforge_runtime_zoo"


# ---------------------------------------------------------------- ResNet-50 (torchvision's definition)
def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                                       nn.BatchNorm2d(planes * Bottleneck.expansion))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------- the benchmark zoo
@dataclass(frozen=True)
class BenchModel:
    name: str
    build: Callable[[], nn.Module] | None  # the PyTorch module (None: an ONNX file only, no PyTorch column)
    inputs: Callable[[], dict[str, np.ndarray]]
    source: Callable[[], Path] | None = None  # an ONNX file made elsewhere (the corpus, a package's model)


def _image(size: int) -> Callable[[], dict[str, np.ndarray]]:
    return lambda: {"input": np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)}


def _tokens() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    mask = np.ones((1, 128), np.int64)
    mask[0, 100:] = 0
    return {"input_ids": rng.integers(0, 30522, (1, 128), dtype=np.int64), "attention_mask": mask}


class _Encoder(nn.Module):
    """zoo.Bert at the BERT-mini size, returning its last hidden state and pooled output."""

    def __init__(self) -> None:
        super().__init__()
        self.bert = zoo.Bert(vocab=30522, hidden=256, heads=4, layers=4, max_pos=512)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bert(input_ids, attention_mask)


MODELS = [
    BenchModel("resnet50", lambda: zoo._init(50, ResNet50), _image(224)),
    BenchModel("mobilenetv3", lambda: zoo._init(2, lambda: zoo.MobileNetV3(1000)), _image(224)),
    BenchModel("yolo", lambda: zoo._init(3, lambda: zoo.Yolo(80)), _image(640)),
    BenchModel("bert", lambda: zoo._init(4, _Encoder), _tokens),
]


def export(bm: BenchModel) -> Path:
    """The model's ONNX file (exported once; keyed by this file's source and the torch version)."""
    if bm.source is not None:
        return bm.source()
    assert bm.build is not None
    key = hashlib.sha256(Path(__file__).read_bytes() + Path(zoo.__file__).read_bytes() + torch.__version__.encode())
    path = CACHE / f"{bm.name}-{key.hexdigest()[:12]}.onnx"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    model = bm.build()
    example = tuple(torch.from_numpy(v) for v in bm.inputs().values())
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(model, example, str(tmp), dynamo=False, opset_version=17, input_names=list(bm.inputs()))
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- engines
Engine = Callable[[], Any]


EXECUTORS: dict[str, str] = {}  # "model/precision" -> the CPU device's executor (native, torch: why not native)


def engines(bm: BenchModel, path: Path, ir: Model, threads: int, skip_torch: bool, skip_bf16: bool
            ) -> tuple[dict[str, Engine], dict[str, Callable[[], list[np.ndarray]]]]:
    """name -> one inference on the model's inputs; and name -> outputs (for the sanity check)."""
    import onnxruntime as ort
    import openvino as ov

    inputs = bm.inputs()
    arrays = list(inputs.values())
    runs: dict[str, Engine] = {}
    outs: dict[str, Callable[[], list[np.ndarray]]] = {}
    core = irforge.Core()
    for label, precision in (("irforge_f32", "f32"), ("irforge_bf16", "bf16")):
        if precision == "bf16" and skip_bf16:
            continue
        compiled_irf = core.compile_model(ir, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                      "INFERENCE_NUM_THREADS": str(threads)})
        request = compiled_irf.create_infer_request()
        request.infer(arrays)  # builds the plan of a dynamic model, so the executor below is known
        report = compiled_irf.executable.executor_report()
        EXECUTORS[f"{bm.name}/{precision}"] = str(report["executor"]) + (
            f" ({str(report['declined'])[:100]})" if report["declined"] else "")
        runs[label] = lambda r=request: r.infer(arrays)
        outs[label] = lambda r=request: list(r.infer(arrays).values_list())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    runs["ort"] = lambda: sess.run(None, inputs)
    outs["ort"] = lambda: sess.run(None, inputs)
    ov_core = ov.Core()
    for label, precision in (("ov_f32", "f32"), ("ov_bf16", "bf16")):
        if precision == "bf16" and skip_bf16:
            continue
        try:
            compiled = ov_core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                                "INFERENCE_NUM_THREADS": threads,
                                                                "PERFORMANCE_HINT": "LATENCY"})
        except RuntimeError as e:  # a model OpenVINO cannot run (silero-VAD's If): the others are still timed
            first = next((line for line in str(e).splitlines() if "Exception from" not in line and line.strip()), "")
            print(f"{bm.name}: OpenVINO cannot run it ({first.strip()[:120]})")
            break
        req = compiled.create_infer_request()
        runs[label] = lambda r=req: r.infer(arrays)
        outs[label] = lambda r=req, c=compiled: [np.array(r.infer(arrays)[o]) for o in c.outputs]
    if not skip_torch and bm.build is not None:
        module = bm.build()
        tensors = tuple(torch.from_numpy(a) for a in arrays)

        def eager() -> Any:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                return module(*tensors)
        runs["torch"] = eager
    return runs, outs


def measure(runs: dict[str, Engine], rounds: int, warmup: int = 3,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per engine over `rounds` interleaved rounds."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = clock()
            run()
            times[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def single_thread_cpu(bm: BenchModel, path: Path, ir: Model, rounds: int) -> dict[str, float]:
    """Median process CPU seconds per inference with 1 thread (irforge f32, ONNX Runtime, OpenVINO f32)."""
    runs, _ = engines(bm, path, ir, 1, skip_torch=True, skip_bf16=True)
    torch.set_num_threads(1)
    return measure(runs, rounds, clock=time.process_time)


# ---------------------------------------------------------------- per-step overhead
def overhead_chain(steps: int = 200) -> Model:
    """`steps` unfusable element-wise ops (alternating Sin and Cos) on a [1, 16] tensor."""
    p = parameter(Type.f32, [1, 16], "x")
    v = p.output(0)
    for i in range(steps):
        v = make("Sin" if i % 2 == 0 else "Cos", [v]).output(0)
    return Model([result(v)], [p])


def per_step_overhead(threads: int, steps: int = 200, rounds: int = 50) -> dict[str, float]:
    """Microseconds per step on the chain: irforge's torch-executor plan run step by step (one prebound closure
    per op, what profiling and untraceable ops use), the same plan with its traced segment, the same torch calls in
    a bare Python loop, and OpenVINO on the same IR. (The native executor would run these tiny Sin/Cos ops as NumPy
    steps: what is measured here is the torch plan's per-step cost.)"""
    import openvino as ov

    from irforge.ir.xml_io import model_to_xml
    from irforge.runtime.devices.cpu import CPUExecutable

    model = overhead_chain(steps)
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    before = os.environ.get("IRFORGE_CPU_EXECUTOR")
    os.environ["IRFORGE_CPU_EXECUTOR"] = "torch"
    try:
        ex = CPUExecutable(model, {"INFERENCE_NUM_THREADS": str(threads)})
    finally:
        if before is None:
            del os.environ["IRFORGE_CPU_EXECUTOR"]
        else:
            os.environ["IRFORGE_CPU_EXECUTOR"] = before
    runner = ex.create_runner()
    plan = ex.plan_for([x], threads)

    def stepwise() -> Any:
        with torch.inference_mode():
            env = plan._start([x])
            for r in plan.eager:
                r(env)
            return plan._finish(env)
    xt = torch.from_numpy(x)
    fns = [torch.sin if i % 2 == 0 else torch.cos for i in range(steps)]

    def bare() -> Any:
        v = xt
        with torch.inference_mode():
            for f in fns:
                v = f(v)
        return v
    xml, blob = model_to_xml(model)
    d = tempfile.mkdtemp()
    Path(d, "chain.xml").write_bytes(xml)
    Path(d, "chain.bin").write_bytes(blob)
    compiled = ov.Core().compile_model(str(Path(d, "chain.xml")), "CPU", {"INFERENCE_NUM_THREADS": threads})
    req = compiled.create_infer_request()
    med = measure({"stepwise": stepwise, "traced": lambda: runner.run([x]), "torch_loop": bare,
                   "openvino": lambda: req.infer([x])}, rounds)
    return {k: v / steps * 1e6 for k, v in med.items()}


# ---------------------------------------------------------------- report
def _max_err(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(a, b))


def corpus_models(exporter: str) -> list[BenchModel]:
    """The real-model corpus' architectures (tests/models/corpus: transformers configs at real widths, 2 layers),
    exported with `exporter`, skipping the exporter's known limitations."""
    from tests.models.corpus.architectures import ARCHITECTURES
    from tests.models.corpus.export import export as export_arch

    models = []
    for name, arch in ARCHITECTURES.items():
        if exporter in arch.exporter_failures:
            continue
        models.append(BenchModel(f"{name}-{exporter}", None, arch.inputs,
                                 lambda n=name: export_arch(n, exporter)))
    return models


def package_models() -> list[BenchModel]:
    """The trained models shipped in PyPI packages (scripts/fetch_package_models.py fetches them), on their first
    input set; models not fetched are left out."""
    from tests.models.package_models import MODELS as PACKAGES, locate

    models = []
    for name, pm in PACKAGES.items():
        path = locate(pm)
        if path is not None:
            models.append(BenchModel(name, None, lambda m=pm: dict(m.input_sets()[0]), lambda p=path: p))
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["zoo"], choices=["zoo", "corpus", "packages"],
                        help="model sets: the zoo (default), the transformers corpus, the package models")
    parser.add_argument("--exporter", default="legacy", choices=["legacy", "dynamo"],
                        help="which export of the corpus architectures to run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--skip-bf16", action="store_true")
    parser.add_argument("--single-thread-cpu", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(cpu_description())
    print(f"threads {args.threads}, rounds {args.rounds}, {threads_description()}")
    rows = []
    cpu_rows = []
    selected = (MODELS if "zoo" in args.models else []) + \
        (corpus_models(args.exporter) if "corpus" in args.models else []) + \
        (package_models() if "packages" in args.models else [])
    for bm in selected:
        if args.only and bm.name not in args.only:
            continue
        try:
            path = export(bm)
            t0 = time.perf_counter()
            ir = irforge.convert_model(str(path))
            convert_s = time.perf_counter() - t0
            runs, outs = engines(bm, path, ir, args.threads, args.skip_torch, args.skip_bf16)
            err_ort = _max_err(outs["irforge_f32"](), outs["ort"]())
            err_ov = _max_err(outs["irforge_f32"](), outs["ov_f32"]()) if "ov_f32" in outs else float("nan")
        except Exception as e:  # noqa: BLE001 - a model that does not run is reported, the others still run
            print(f"\n{bm.name}: not measured: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            continue
        med = measure(runs, args.rounds)
        rows.append((bm.name, med))
        del runs, outs
        if args.single_thread_cpu:
            cpu_rows.append((bm.name, single_thread_cpu(bm, path, ir, args.rounds)))
            torch.set_num_threads(args.threads)
        print(f"\n{bm.name}: converted in {convert_s:.1f}s; irforge f32 max |diff| vs ORT {err_ort:.2e}, "
              f"vs OpenVINO {err_ov:.2e}; executor {EXECUTORS.get(bm.name + '/f32')}")
        print("  " + "  ".join(f"{k} {v * 1e3:8.2f} ms" for k, v in med.items()))
    header = (f"\n{'model':24s} {'irf f32':>9s} {'ORT':>9s} {'OV f32':>9s} {'irf bf16':>9s} {'OV bf16':>9s} "
              f"{'torch':>9s} | {'irf/OV':>7s} {'irf/ORT':>7s} {'bf16/OV':>7s} {'irf/torch':>9s}")
    print(header)
    ratios: dict[str, list[float]] = {"irf/OV": [], "irf/ORT": [], "bf16/OV": [], "irf/torch": []}
    lat: dict[str, list[float]] = {}

    def ms(med: dict[str, float], k: str) -> str:
        return f"{med[k] * 1e3:9.2f}" if k in med else f"{'-':>9s}"

    for name, med in rows:
        r = {"irf/ORT": med["irforge_f32"] / med["ort"]}
        if "ov_f32" in med:
            r["irf/OV"] = med["irforge_f32"] / med["ov_f32"]
        if "irforge_bf16" in med and "ov_bf16" in med:
            r["bf16/OV"] = med["irforge_bf16"] / med["ov_bf16"]
        if "torch" in med:
            r["irf/torch"] = med["irforge_f32"] / med["torch"]
        for k, v in r.items():
            ratios[k].append(v)
        for k, v in med.items():
            lat.setdefault(k, []).append(v)
        cells = " ".join(f"{r[k]:7.2f}" if k in r else f"{'-':>7s}" for k in ("irf/OV", "irf/ORT", "bf16/OV"))
        tcell = f"{r['irf/torch']:9.2f}" if "irf/torch" in r else f"{'-':>9s}"
        print(f"{name:24s} {ms(med, 'irforge_f32')} {ms(med, 'ort')} {ms(med, 'ov_f32')} {ms(med, 'irforge_bf16')} "
              f"{ms(med, 'ov_bf16')} {ms(med, 'torch')} | {cells} {tcell}")

    def geo(v: list[float]) -> float:
        return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")
    gl = {k: geo(v) for k, v in lat.items()}
    cells = " ".join(f"{geo(ratios[k]):7.2f}" for k in ("irf/OV", "irf/ORT", "bf16/OV"))
    print(f"{'geomean':24s} {ms(gl, 'irforge_f32')} {ms(gl, 'ort')} {ms(gl, 'ov_f32')} {ms(gl, 'irforge_bf16')} "
          f"{ms(gl, 'ov_bf16')} {ms(gl, 'torch')} | {cells} {geo(ratios['irf/torch']):9.2f}")
    if cpu_rows:
        print(f"\nsingle thread, process CPU time per inference (robust to other processes' load)")
        print(f"{'model':24s} {'irf f32':>9s} {'ORT':>9s} {'OV f32':>9s} | {'irf/OV':>7s} {'irf/ORT':>7s}")
        cr: dict[str, list[float]] = {"irf/OV": [], "irf/ORT": []}
        for name, med in cpu_rows:
            b = med["irforge_f32"] / med["ort"]
            cr["irf/ORT"].append(b)
            a = f"{'-':>7s}"
            if "ov_f32" in med:
                cr["irf/OV"].append(med["irforge_f32"] / med["ov_f32"])
                a = f"{cr['irf/OV'][-1]:7.2f}"
            print(f"{name:24s} {ms(med, 'irforge_f32')} {ms(med, 'ort')} {ms(med, 'ov_f32')} | {a} {b:7.2f}")
        print(f"{'geomean':24s} {'':9s} {'':9s} {'':9s} | {geo(cr['irf/OV']):7.2f} {geo(cr['irf/ORT']):7.2f}")
    o = per_step_overhead(args.threads)
    print(f"\nper-step cost on a chain of 200 tiny ops ([1, 16] Sin/Cos): irforge plan step by step "
          f"{o['stepwise']:.2f} us/step, the same torch calls in a bare Python loop {o['torch_loop']:.2f} us/step "
          f"(plan overhead {o['stepwise'] - o['torch_loop']:+.2f} us/step), irforge plan with its traced segment "
          f"{o['traced']:.2f} us/step, OpenVINO {o['openvino']:.2f} us/step")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
