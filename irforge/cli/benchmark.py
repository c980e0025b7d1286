"""`irforge benchmark MODEL(.xml|.onnx) [-d CPU] [--hint latency|throughput] [-t S | -n N] [-b N] [--shape ...]
[--infer-precision f32|bf16] [--nireq N] [--nstreams N] [--nthreads N] [--json FILE] [--perf-counts]
[--compare onnxruntime,openvino]`: latency and throughput on random inputs, like OpenVINO's benchmark_app."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from irforge.cli.bench_engines import (PEERS, IRForgeEngine, OnnxRuntimeEngine, OpenVINOEngine,
                                       onnx_with_input_shapes)
from irforge.cli.bench_measure import Progress, measure
from irforge.cli.bench_report import (PeerResult, aggregate_perf, compare_lines, figure_lines, perf_json,
                                      perf_lines)
from irforge.cli.terminal import printable
from irforge.errors import IRForgeError, ModelReadError, OptionError
from irforge.files import check_output_file, write_files
from irforge.ir.graph import Model, Output
from irforge.runtime.compiled_model import CompiledModel
from irforge.runtime.core import Core
from irforge.runtime.registry import get_device

DEFAULT_SECONDS = 10.0


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("benchmark", help="measure latency and throughput on random inputs (like benchmark_app)")
    p.add_argument("model", help="path to an IR .xml or an .onnx (converted first with irforge.convert_model)")
    p.add_argument("-d", "--device", default="CPU", help="device: CPU (default) or REF")
    p.add_argument("--hint", default="latency", help="performance hint: latency (default) or throughput")
    p.add_argument("-t", "--time", metavar="SECONDS", help=f"run for this long (default: {DEFAULT_SECONDS:g} s)")
    p.add_argument("-n", "--niter", metavar="ITERS", help="run this many inferences instead of a fixed time")
    p.add_argument("-b", "--batch", metavar="N", help="set the batch dimension of every input")
    p.add_argument("--shape", help="input shapes in the converter's syntax: [1,3,224,224] or x[1,3,224,224],y[1,10]")
    p.add_argument("--infer-precision", metavar="f32|bf16", help="inference precision (default: the device's)")
    p.add_argument("--nireq", metavar="N", help="infer requests (default: OPTIMAL_NUMBER_OF_INFER_REQUESTS)")
    p.add_argument("--nstreams", metavar="N", help="streams (default: from the hint)")
    p.add_argument("--nthreads", metavar="N", help="threads in all (default: every physical core)")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    p.add_argument("--perf-counts", action="store_true", help="profile: per-op times (per node and per op type)")
    p.add_argument("--compare", metavar="RUNTIMES", help="also run onnxruntime and/or openvino (comma-separated) "
                                                        "with the same inputs, threads and hint")
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)


def _positive(text: str | None, option: str, kind: type = int) -> Any:
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise OptionError(f"{option}: expected a positive {'integer' if kind is int else 'number'}, got '{text}'")
    return value


def _choice(text: str | None, option: str, choices: tuple[str, ...], lower: bool = True) -> str | None:
    if text is None:
        return None
    value = text.strip().lower() if lower else text.strip()
    if value not in choices:
        raise OptionError(f"{option}: expected one of {', '.join(choices)}, got '{text}'")
    return value


def _peers(text: str | None) -> list[str]:
    if not text:
        return []
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() not in PEERS:
            raise OptionError(f"--compare: unknown runtime '{part}' (known: onnxruntime, openvino)")
        if PEERS[part.lower()] not in out:
            out.append(PEERS[part.lower()])
    return out


def _load(path: str, shape: str | None, batch: int | None) -> Model:
    """The model to benchmark: an .onnx converted (with the shape options), an .xml read and reshaped."""
    import irforge
    from irforge.mo.convert import ConvertOptions, convert

    if not os.path.isfile(path):
        raise ModelReadError(f"{path}: no such file")
    if path.endswith(".onnx"):
        return irforge.convert_model(path, input_shape=shape, batch=batch)
    if not path.endswith(".xml"):
        raise OptionError(f"{path}: expected an IR .xml or an .onnx model")
    model = Core().read_model(path)
    if shape or batch:
        model = convert(model, ConvertOptions(input_shape=shape, batch=batch, optimize=False))[0]
    return model


def memory_lines(compiled: Any) -> list[str]:
    """The CPU device's executor and activation plan, next to this process's peak resident set."""
    import resource

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    report = getattr(compiled.executable, "executor_report", None)
    if report is None:
        return [f"Memory:       peak RSS {peak_mb:.1f} MB"]
    r = report()
    lines = [f"Executor:     {r['executor']}" + (f" (native declined: {r['declined']})" if r["declined"] else "")]
    plan = f"activation plan {r['activation_bytes'] / 2**20:.1f} MB per infer request; " \
        if r["activation_bytes"] is not None else ""
    lines.append(f"Memory:       {plan}peak RSS {peak_mb:.1f} MB")
    return lines


def _static_shapes(model: Model, args: argparse.Namespace) -> tuple[Model, list[str]]:
    """Every input static; a dynamic batch (first dim) alone becomes 1 with a note, anything else is an error."""
    from irforge.mo.convert import ConvertOptions, convert

    notes: list[str] = []
    dynamic = [p for p in model.inputs if not p.shape.is_static]
    if dynamic and not args.shape and not args.batch:
        only_batch = all(p.shape.rank_is_static and p.shape.rank > 0 and
                         all(d.is_static for d in p.shape.dims[1:]) for p in dynamic)
        if only_batch:
            model = convert(model, ConvertOptions(batch=1, optimize=False))[0]
            notes.append(f"dynamic batch of {', '.join(p.name for p in dynamic)} set to 1 (use -b N to change it)")
            dynamic = [p for p in model.inputs if not p.shape.is_static]
    if dynamic:
        shown = ", ".join(f"'{p.name}' {p.element_type}[{p.shape}]" for p in dynamic)
        raise OptionError(f"input(s) {shown} have dynamic dimensions; give them with --shape "
                          f"(e.g. --shape {dynamic[0].name}[...]) or -b")
    return model, notes


def _check_input_sizes(inputs: list[Output]) -> None:
    """Random inputs must fit in memory (generated through 8-byte values): an absurd --shape fails with one line
    naming the input rather than in the allocator or the device."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    for p in inputs:
        need = math.prod(p.shape.to_shape()) * 8
        if need > memory // 2:
            raise OptionError(f"input '{p.name}' of shape [{p.shape}] needs {need / 2**30:.1f} GiB of random data, "
                              f"more than half of this machine's {memory / 2**30:.1f} GiB; give a smaller --shape")


def random_inputs(inputs: list[Output], seed: int) -> list[np.ndarray]:
    """Random data of each input's static shape and type: floats ~ N(0, 1), integers in [0, 10), booleans."""
    rng = np.random.default_rng(seed)
    out = []
    for p in inputs:
        dtype, shape = p.element_type.dtype, p.shape.to_shape()
        if dtype is None:
            raise OptionError(f"input '{p.name}' has element type {p.element_type}, which has no random data")
        if dtype == np.bool_:
            arr = rng.integers(0, 2, shape).astype(np.bool_)
        elif np.issubdtype(dtype, np.integer):
            arr = rng.integers(0, 10, shape).astype(dtype)
        else:
            arr = rng.standard_normal(shape).astype(np.float32).astype(dtype)
        out.append(arr)
    return out


def _batch_of(model: Model, batch: int | None) -> int:
    if batch:
        return batch
    first = model.inputs[0].shape if model.inputs else None
    return int(first.dims[0].min) if first is not None and first.rank_is_static and first.rank >= 2 else 1


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _run_peer(name: str, args: argparse.Namespace, model: Model, compiled: CompiledModel,
              inputs: list[np.ndarray], mine: list[np.ndarray], nireq: int, iterations: int | None,
              seconds: float | None, batch: int, tmp: str) -> PeerResult:
    try:
        __import__(name)
    except ImportError:
        return PeerResult(name, "not installed")
    threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
    streams = int(compiled.get_property("NUM_STREAMS"))
    engine: Any = None
    try:
        if name == "onnxruntime":
            if not args.model.endswith(".onnx"):
                return PeerResult(name, "needs the .onnx model (an IR .xml was given; ONNX Runtime cannot read IR)")
            source, changed = onnx_with_input_shapes(args.model, {p.name: a.shape for p, a in zip(model.inputs, inputs)})
            engine = OnnxRuntimeEngine(source, [p.name for p in model.inputs], inputs, compiled.output_names,
                                       threads, streams, nireq)
            note = (f"version {_version('onnxruntime')} on {Path(args.model).name}"
                    f"{' (input dims of ' + ', '.join(changed) + ' set to the benchmark shapes)' if changed else ''}"
                    f", {threads} thread(s){f' in {streams} sessions' if nireq > 1 else ''}")
        else:
            import irforge

            xml = os.path.join(tmp, "model.xml")
            irforge.save_model(model, xml, compress_to_fp16=False)
            config = {"PERFORMANCE_HINT": compiled.get_property("PERFORMANCE_HINT"), "NUM_STREAMS": streams,
                      "INFERENCE_NUM_THREADS": threads,
                      "INFERENCE_PRECISION_HINT": compiled.get_property("INFERENCE_PRECISION_HINT")}
            engine = OpenVINOEngine(xml, inputs, config, nireq)
            note = (f"version {_version('openvino')}, CPU plugin on the same IR, {threads} thread(s) in {streams} "
                    "stream(s)")
        result = measure(engine, iterations, seconds, batch, Progress(name, iterations, seconds))
        theirs = engine.outputs()
        diffs = [float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
                 for a, b in zip(mine, theirs) if a.shape == b.shape and a.dtype.kind in "fiub"]
        return PeerResult(name, note, result, max(diffs) if diffs else None)
    except IRForgeError:
        raise
    except Exception as e:  # a peer that cannot run this model is reported, not fatal
        text = " ".join(str(e).split()) or type(e).__name__
        return PeerResult(name, f"failed: {text[:300]}")
    finally:
        if hasattr(engine, "close"):
            engine.close()


def run(args: argparse.Namespace) -> int:
    hint = _choice(args.hint, "--hint", ("latency", "throughput"))
    precision = _choice(args.infer_precision, "--infer-precision", ("f32", "bf16"))
    if args.time is not None and args.niter is not None:
        raise OptionError("-t/--time and -n/--niter are exclusive")
    iterations = _positive(args.niter, "-n/--niter")
    seconds = _positive(args.time, "-t/--time", float) if args.time is not None else (
        None if iterations else DEFAULT_SECONDS)
    batch = _positive(args.batch, "-b/--batch")
    nireq = _positive(args.nireq, "--nireq")
    nstreams = _positive(args.nstreams, "--nstreams")
    nthreads = _positive(args.nthreads, "--nthreads")
    peers = _peers(args.compare)
    device = get_device(args.device).name

    if args.json:
        check_output_file(args.json, "--json")
    try:
        model = _load(args.model, args.shape, batch)
    except OptionError as e:  # the converter names its own option; here it is --shape
        raise OptionError(str(e).replace("--input-shape", "--shape")) from None
    model, notes = _static_shapes(model, args)
    _check_input_sizes(model.inputs)  # before the device plans buffers for them
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint.upper(), "PERF_COUNT": bool(args.perf_counts)}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    if nstreams:
        config["NUM_STREAMS"] = nstreams
    if nthreads:
        config["INFERENCE_NUM_THREADS"] = nthreads
    compiled = Core().compile_model(model, device, config)
    nireq = nireq or int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    inputs = random_inputs(model.inputs, args.seed)
    b = _batch_of(model, batch)

    how = ", converted by irforge.convert_model" if args.model.endswith(".onnx") else ""
    print(f"Model: {printable(args.model)} ('{printable(model.name)}'{how})")
    for note in notes:
        print(f"Note: {note}")
    for p, arr in zip(model.inputs, inputs):
        print(f"Input: {printable(p.name)} {p.element_type}[{p.shape}] (random)")
    print(f"Device: {device} ({Core().get_property(device, 'FULL_DEVICE_NAME')}), hint {compiled.get_property('PERFORMANCE_HINT')}, "
          f"{compiled.get_property('NUM_STREAMS')} stream(s), {compiled.get_property('INFERENCE_NUM_THREADS')} thread(s), "
          f"{nireq} infer request(s), precision {compiled.get_property('INFERENCE_PRECISION_HINT')}, "
          f"{'sync' if nireq == 1 else 'async'}, "
          f"{f'{iterations} iterations' if iterations else f'{seconds:g} s'}")
    engine = IRForgeEngine(compiled, inputs, nireq)
    mine = measure(engine, iterations, seconds, b, Progress(engine.label, iterations, seconds))
    print("\n".join(figure_lines(mine)))
    memory = memory_lines(compiled)
    print("\n".join(memory))
    profiles = list(engine.profiles)
    report: dict[str, Any] = {
        "model": args.model, "device": device, "notes": notes,
        "inputs": [{"name": p.name, "type": str(p.element_type), "shape": list(p.shape.to_shape())} for p in model.inputs],
        "properties": {k: v for k, v in compiled.properties().items() if k != "SUPPORTED_PROPERTIES"},
        "infer_requests": nireq, "irforge": mine.to_json(),
    }
    if args.perf_counts:
        nodes = aggregate_perf(profiles)
        if nodes:
            print("\n".join(perf_lines(nodes, len(profiles))))
        else:
            print(f"Performance counters: the {device} device reported none")
        report["perf_counts"] = perf_json(nodes, len(profiles))
    if peers:
        outputs = engine.outputs()
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            for name in peers:
                results.append(_run_peer(name, args, model, compiled, inputs, outputs, nireq, iterations, seconds,
                                         b, tmp))
        print("\n".join(compare_lines(engine.label, mine, results)))
        report["compare"] = {r.name: r.to_json(mine) for r in results}
    if args.json:
        try:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            write_files([(Path(args.json), [(json.dumps(report, indent=2, default=str) + "\n").encode("utf-8")])],
                        "--json")
        except OSError as e:
            raise OptionError(f"--json: cannot write '{args.json}' ({e.strerror})") from None
        print(f"Figures written to {args.json}", file=sys.stderr)
    return 0
