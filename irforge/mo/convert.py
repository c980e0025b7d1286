"""The Model Optimizer driver: load -> cut -> reshape -> layout/preprocessing -> optimize -> FP16 compression.
Every stage speaks `Model`; the report records what each did."""
from __future__ import annotations

import difflib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import onnx

from irforge.errors import ModelReadError, OptionError
from irforge.frontends.onnx import convert_model as onnx_to_ir
from irforge.ir.graph import Model
from irforge.mo import api_args, cut, options, preprocess, reshape
from irforge.mo.compress import compress_to_fp16
from irforge.mo.report import ConversionReport, layer_histogram, weight_bytes
from irforge.transforms.base import PassManager
from irforge.transforms.pipeline import default_passes


@dataclass
class ConvertOptions:
    """The converter's options. Strings take the command-line syntax (irforge.mo.options); the Python API also
    passes OpenVINO's object forms (lists, tuples, dicts, PartialShape, Type: irforge.mo.api_args), and
    `convert` reads both."""

    input_shape: Any = None
    batch: int | None = None
    input: Any = None
    output: str | Sequence[str] | None = None
    mean_values: Any = None
    scale_values: Any = None
    scale: float | None = None
    reverse_input_channels: bool = False
    layout: str | None = None
    source_layout: str | None = None
    target_layout: str | None = None
    compress_to_fp16: bool = False
    static_shape: bool = False
    optimize: bool = True
    disable_passes: Sequence[str] = field(default_factory=tuple)
    validate: bool = False


def _layouts(opts: ConvertOptions) -> dict[str | None, tuple[str | None, str]]:
    """Input name -> (source layout or None, model layout)."""
    out: dict[str | None, tuple[str | None, str]] = {}
    if opts.layout:
        for name, src, dst in options.parse_layout(opts.layout, "--layout"):
            out[name] = (src, dst)
    if opts.source_layout:
        for name, _, src in options.parse_layout(opts.source_layout, "--source-layout"):
            out[name] = (src, out.get(name, (None, ""))[1])
    if opts.target_layout:
        for name, _, dst in options.parse_layout(opts.target_layout, "--target-layout"):
            out[name] = (out.get(name, (None, ""))[0], dst)
    for name, (src, dst) in out.items():
        if src and not dst:
            raise OptionError(f"--source-layout '{src}' needs a --target-layout (or --layout {src}->TARGET)")
    return out


def _batch_axis(layouts: dict[str | None, tuple[str | None, str]], name: str) -> int:
    """The layout's N axis for input `name` (the source layout when the user feeds another one), default 0."""
    src, dst = layouts.get(name, layouts.get(None, (None, "")))
    layout = src or dst
    return layout.index("n") if layout and "n" in layout else 0


def _preprocessing(model: Model, opts: ConvertOptions, layouts: dict[str | None, tuple[str | None, str]]) -> None:
    means = dict(api_args.values_of(opts.mean_values, "mean_values")) if opts.mean_values is not None else {}
    scales = dict(api_args.values_of(opts.scale_values, "scale_values")) if opts.scale_values is not None else {}
    if opts.scale is not None:
        if opts.scale_values is not None:
            raise OptionError("--scale and --scale-values are exclusive")
        value = api_args.values_of(opts.scale, "scale")[0][1]
        if len(value) != 1 or value[0] == 0:
            raise OptionError(f"--scale: expected one non-zero number, got {opts.scale!r}")
        scales = {None: value}
    if not (means or scales or opts.reverse_input_channels):
        return
    names = set(means) | set(scales)
    if None in names:  # unnamed values: the only input, or every input for --scale
        targets: list[str | None] = [None] if len(model.inputs) == 1 else [p.name for p in model.inputs]
    else:
        targets = sorted(n for n in names if n is not None)
    if opts.reverse_input_channels and not names:
        targets = [p.name for p in model.inputs if p.shape.rank_is_static and p.shape.rank == 4]
    for t in targets:
        key = t if t in means or t in scales else None
        layout = layouts.get(t, layouts.get(None, (None, "")))[1] or None
        preprocess.apply_normalization(model, preprocess.InputPrep(
            name=t, mean=means.get(key), scale=scales.get(key), reverse_channels=opts.reverse_input_channels,
            layout=layout))


def _output_names(output: str | Sequence[str]) -> list[str]:
    try:
        names = output.split(",") if isinstance(output, str) else list(output)
    except TypeError:  # not iterable (True, 3, ...): the message below names what was given
        names = []
    if not names or any(not isinstance(n, str) or not n.strip() for n in names):
        raise OptionError(f"output: expected tensor names (a string 'a,b' or a list of strings), got {output!r}")
    return [n.strip() for n in names]


def _apply_inputs(model: Model, specs: list[options.InputSpec]) -> None:
    """Named entries select (or cut at) tensors; unnamed ones give the model's inputs, in order, new shapes and
    types."""
    unnamed = [s for s in specs if s.name is None]
    if unnamed and len(unnamed) != len(specs):
        raise OptionError("input: give every entry a name, or none (then they apply to the inputs in order)")
    if unnamed:
        reshape.set_input_shapes(model, specs, "input")
        return
    cut.cut_inputs(model, specs)
    reshape.reinfer(model)


def convert(source: "str | os.PathLike[str] | onnx.ModelProto | Model", opts: ConvertOptions | None = None,
            ) -> tuple[Model, ConversionReport]:
    """Run the whole conversion; returns the optimized Model and its report."""
    opts = opts or ConvertOptions()
    report = ConversionReport()
    t = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        report.stages[name] = report.stages.get(name, 0.0) + now - t
        t = now

    model = source if isinstance(source, Model) else onnx_to_ir(source)
    stage("load")
    report.layers_before = layer_histogram(model)
    report.weights_before = weight_bytes(model)
    if opts.output is not None:
        cut.cut_outputs(model, _output_names(opts.output))
    if opts.input is not None:
        _apply_inputs(model, api_args.input_specs_of(opts.input, "input"))
    if opts.input_shape is not None:
        reshape.set_input_shapes(model, api_args.input_shapes_of(opts.input_shape))
    layouts = _layouts(opts)
    reshape.check_layouts(model, layouts)
    if opts.batch is not None:
        batch = api_args.int_of(opts.batch, "batch")
        reshape.set_batch(model, batch, {p.name: _batch_axis(layouts, p.name) for p in model.inputs})
    if opts.static_shape:
        reshape.make_static(model)
    stage("reshape")
    for name, (src, dst) in layouts.items():
        if src and dst:
            preprocess.apply_layout(model, name, src, dst)
    _preprocessing(model, opts, layouts)
    stage("preprocess")
    if opts.optimize:
        report.passes = PassManager(default_passes(), opts.disable_passes, validate=opts.validate).run(model).records
    elif opts.disable_passes:
        PassManager(default_passes(), opts.disable_passes)  # still reject unknown names
    stage("optimize")
    if opts.compress_to_fp16:
        report.compressed_constants = compress_to_fp16(model)
        stage("compress")
    report.layers_after = layer_histogram(model)
    report.weights_after = weight_bytes(model)
    return model, report


def convert_model(input_model: Any, **kwargs: Any) -> Model:
    """Convert and optimize a model with ovc's Python-API keywords (`input`, `output`) and irforge's options
    (`input_shape`, `batch`, `mean_values`, `compress_to_fp16`, ...), e.g.
    `convert_model("m.onnx", input=[1, 3, 100, 100], compress_to_fp16=True)`. `input_model`: an .onnx path, ONNX
    bytes or a binary stream, an onnx.ModelProto, or an irforge Model."""
    opts = options_from_kwargs(kwargs)
    return convert(load_source(input_model), opts)[0]


_OPTION_NAMES = {f.name for f in fields(ConvertOptions)}
_NOT_FOR_ONNX = {"example_input": "it describes inputs of PyTorch models; use input= for ONNX models",
                 "dynamo": "it selects PyTorch's exporter"}


def options_from_kwargs(kwargs: dict[str, Any]) -> ConvertOptions:
    """ConvertOptions from keyword arguments; an unknown keyword, or one of ovc's that irforge does not support,
    fails with one line naming it."""
    kwargs = dict(kwargs)
    if kwargs.pop("verbose", False) not in (False, True):
        raise OptionError("verbose: expected True or False")
    share = kwargs.pop("share_weights", True)
    if share not in (True, False):
        raise OptionError(f"share_weights: expected True or False, got {share!r}")
    for key, why in _NOT_FOR_ONNX.items():
        if kwargs.get(key) is not None and kwargs.get(key) is not False:
            raise OptionError(f"convert_model: {key} is not supported for this model: {why}")
        kwargs.pop(key, None)
    if kwargs.get("extension") is not None:
        raise NotImplementedError("convert_model: extension= (custom frontend extensions) is not supported by irforge")
    kwargs.pop("extension", None)
    unknown = sorted(set(kwargs) - _OPTION_NAMES)
    if unknown:
        close = {u: difflib.get_close_matches(u, sorted(_OPTION_NAMES), n=1) for u in unknown}
        hints = [f"'{u}'" + (f" (did you mean '{close[u][0]}'?)" if close[u] else "") for u in unknown]
        raise OptionError(f"convert_model: unknown option(s) {', '.join(hints)}")
    for flag in ("reverse_input_channels", "compress_to_fp16", "static_shape", "optimize", "validate"):
        if flag in kwargs and not isinstance(kwargs[flag], bool):
            raise OptionError(f"{flag}: expected True or False, got {kwargs[flag]!r}")
    for text in ("layout", "source_layout", "target_layout"):
        if kwargs.get(text) is not None and not isinstance(kwargs[text], str):
            raise OptionError(f"{text}: expected a string such as 'nhwc->nchw', got {kwargs[text]!r}")
    passes = kwargs.get("disable_passes", ())
    if isinstance(passes, str) or not all(isinstance(p, str) for p in passes):
        raise OptionError(f"disable_passes: expected a list of pass names, got {passes!r}")
    return ConvertOptions(**kwargs)


def load_source(source: Any) -> "str | os.PathLike[str] | onnx.ModelProto | Model":
    """The model to convert: a path, an onnx.ModelProto or irforge Model as they are; ONNX bytes and binary
    streams parsed; anything else fails with one line."""
    if isinstance(source, (str, os.PathLike, onnx.ModelProto, Model)):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)) or hasattr(source, "read"):
        data = bytes(source) if not hasattr(source, "read") else source.read()
        if not isinstance(data, bytes):
            raise OptionError(f"input_model: the stream gave {type(data).__name__}, not bytes (open it in binary mode)")
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception:  # protobuf's DecodeError and friends
            proto = None
        if proto is None or not proto.HasField("graph"):
            raise ModelReadError("input_model: the bytes are not an ONNX model")
        return proto
    kind = type(source).__module__.split(".")[0]
    if kind == "torch":
        raise NotImplementedError("convert_model: PyTorch models are not supported yet; export the model to ONNX "
                                  "(torch.onnx.export) and convert the .onnx file")
    raise OptionError(f"input_model: expected a path to an .onnx file, ONNX bytes, a binary stream, an "
                      f"onnx.ModelProto or an irforge Model, got {type(source).__name__}")
