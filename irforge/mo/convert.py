"""The Model Optimizer driver: load -> cut -> reshape -> layout/preprocessing -> optimize -> FP16 compression.
Every stage speaks `Model`; the report records what each did."""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx

from irforge.errors import OptionError
from irforge.frontends.onnx import convert_model as onnx_to_ir
from irforge.ir.graph import Model
from irforge.mo import cut, options, preprocess, reshape
from irforge.mo.compress import compress_to_fp16
from irforge.mo.report import ConversionReport, layer_histogram, weight_bytes
from irforge.transforms.base import PassManager
from irforge.transforms.pipeline import default_passes


@dataclass
class ConvertOptions:
    """The converter's options; strings take the command-line syntax (see irforge.mo.options)."""

    input_shape: str | None = None
    batch: int | None = None
    input: str | None = None
    output: str | Sequence[str] | None = None
    mean_values: str | None = None
    scale_values: str | None = None
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
    means = dict(options.parse_values(opts.mean_values, "--mean-values")) if opts.mean_values else {}
    scales = dict(options.parse_values(opts.scale_values, "--scale-values")) if opts.scale_values else {}
    if opts.scale is not None:
        if opts.scale_values:
            raise OptionError("--scale and --scale-values are exclusive")
        if opts.scale == 0:
            raise OptionError("--scale: must not be 0")
        scales = {None: [float(opts.scale)]}
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
    if opts.output:
        names = opts.output.split(",") if isinstance(opts.output, str) else list(opts.output)
        cut.cut_outputs(model, [n.strip() for n in names if n.strip()])
    if opts.input:
        cut.cut_inputs(model, options.parse_input(opts.input))
        reshape.reinfer(model)
    if opts.input_shape:
        reshape.set_input_shapes(model, options.parse_input_shape(opts.input_shape))
    layouts = _layouts(opts)
    if opts.batch is not None:
        reshape.set_batch(model, opts.batch, {p.name: _batch_axis(layouts, p.name) for p in model.inputs})
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


def convert_model(source: "str | os.PathLike[str] | onnx.ModelProto | Model", **kwargs: Any) -> Model:
    """Convert and optimize a model (ONNX path/proto) with `mo`-style keyword options, e.g.
    `convert_model("m.onnx", input_shape="[1,3,100,100]", compress_to_fp16=True)`."""
    try:
        opts = ConvertOptions(**kwargs)
    except TypeError as e:
        raise OptionError(f"convert_model: {e}") from None
    return convert(source, opts)[0]
