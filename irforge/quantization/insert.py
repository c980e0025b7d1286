"""Build a quantized model from a plan: a copy of the floating-point model with a FakeQuantize (levels 256, scalar
ranges, named `<producer>/fq_output_<port>` as NNCF names them, or `<consumer>/fq_input_<port>` when it feeds only
some consumers) on each planned tensor, i8 weights, corrected biases, and the groups in `reverted` left out of
INT8: "fp32" ones marked to stay f32 under a bf16/f16 runtime (rt_info `precise`, the attribute OpenVINO's
DisableFP16Compression serializes as), "lp" ones with f16-compressed weights. `simulate` ("bf16"/"f16") rounds
the inputs, weights and output of the "lp" layers to that type, to evaluate them as a low-precision runtime
would run them (used for evaluation only, never written)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

import numpy as np

from irforge.ir.clone import clone_model
from irforge.ir.graph import Model, Node, Output, constant, make
from irforge.ir.types import Type
from irforge.quantization.placement import ActivationQuantizer
from irforge.quantization.plan import QuantizationPlan
from irforge.quantization.ranges import FQRange
from irforge.quantization.weights import compress_weight_f16, insert_weight_chain

PRECISE = "precise"  # DisableFP16Compression's name in IR rt_info (OpenVINO 2024+)


def build(plan: QuantizationPlan, reverted: Mapping[int, str] | None = None, simulate: str | None = None,
          provenance: bool = False) -> Model:
    """The quantized model; `reverted` maps group ids to "fp32" or "lp"."""
    reverted = dict(reverted or {})
    model, mapping = clone_model(plan.model)
    placement = plan.placement
    for q in placement.quantizers:
        if q.group not in reverted:
            _insert_fq(q, plan.ranges[q.qid], mapping)
    for op in placement.ops:
        node = mapping[op.node.uid]
        mode = reverted.get(op.group)
        planned = plan.weights.get(op.node.uid)
        if mode is None:
            if planned is not None:
                insert_weight_chain(node, planned.target.index, planned.quantized)
                bias = plan.biases.get(op.node.uid)
                if bias is not None:
                    add = mapping[bias.add.uid]
                    add.set_input(bias.index, constant(bias.value, name=f"{add.name}/bias_corrected"))
        elif mode == "fp32":
            node.rt_info[PRECISE] = {"version": "0"}
            if planned is not None and planned.target.bias is not None:
                mapping[planned.target.bias[0].uid].rt_info[PRECISE] = {"version": "0"}
        elif mode == "lp":
            if simulate:
                _simulate_low_precision(node, planned.target.index if planned else None,
                                        planned.original if planned else None, simulate)
            elif planned is not None and _compressible(planned.original):
                compress_weight_f16(node, planned.target.index, planned.original)
    if provenance:
        _add_provenance(model, plan, reverted)
    return model


def _insert_fq(q: ActivationQuantizer, r: FQRange, mapping: Mapping[int, Node]) -> None:
    value = mapping[q.value.node.uid].outputs[q.value.index]
    dtype = value.element_type.dtype or np.float32
    if q.shared:
        name = f"{value.node.name}/fq_output_{value.index}"
        slots = list(value.uses)
    else:
        consumer, port = q.slots[0]
        name = f"{mapping[consumer.uid].name}/fq_input_{port}"
        slots = [(mapping[c.uid], i) for c, i in q.slots]
    lo = constant(np.asarray(r.low, dtype), name=f"{name}/input_low")
    hi = constant(np.asarray(r.high, dtype), name=f"{name}/input_high")
    olo = constant(np.asarray(r.low, dtype), name=f"{name}/output_low")
    ohi = constant(np.asarray(r.high, dtype), name=f"{name}/output_high")
    fq = make("FakeQuantize", [value, lo, hi, olo, ohi], name=name, levels=r.levels, auto_broadcast="numpy")
    for consumer, port in slots:
        if consumer is not fq:
            consumer.set_input(port, fq.output(0))


def _compressible(w: np.ndarray) -> bool:
    finite = np.abs(w[np.isfinite(w)])
    return w.dtype == np.float32 and (finite.size == 0 or float(finite.max()) <= float(np.finfo(np.float16).max))


def _round_trip(src: Output, precision: str, name: str) -> Output:
    low = make("Convert", [src], name=f"{name}/to_{precision}", destination_type=Type.from_name(precision))
    back = make("Convert", [low.output(0)], name=f"{name}/from_{precision}", destination_type=src.element_type)
    return back.output(0)


def _simulate_low_precision(node: Node, weight_index: int | None, weight: np.ndarray | None, precision: str) -> None:
    """Round the layer's inputs (and weights) and its output to `precision`."""
    for i, src in enumerate(list(node.inputs)):
        if not src.element_type.is_float:
            continue
        if i == weight_index and weight is not None:
            rounded = np.asarray(weight).astype(Type.from_name(precision).dtype).astype(weight.dtype)
            node.set_input(i, constant(rounded, name=f"{node.name}/weights_{precision}"))
        else:
            node.set_input(i, _round_trip(src, precision, f"{node.name}/in{i}"))
    out = node.outputs[0]
    uses = list(out.uses)
    back = _round_trip(out, precision, f"{node.name}/out")
    for consumer, port in uses:
        consumer.set_input(port, back)


def _add_provenance(model: Model, plan: QuantizationPlan, reverted: Mapping[int, str]) -> None:
    """`<rt_info><irforge><quantization>...` with the options used, as NNCF records its own."""
    opts = plan.options
    root = ET.Element("irforge")
    q = ET.SubElement(root, "quantization")
    fields = {
        "preset": opts.preset, "subset_size": opts.subset_size, "range_estimator": opts.range_estimator,
        "fast_bias_correction": opts.fast_bias_correction, "overflow_fix": opts.overflow_fix,
        "ignored_types": ",".join(opts.ignored_types), "ignored_names": ",".join(opts.ignored_names),
        "statistics_samples": plan.statistics_samples,
        "reverted_layers": ",".join(
            n.name for g in plan.placement.groups if g.gid in reverted for n in g.ops),
    }
    for key, value in fields.items():
        ET.SubElement(q, key, {"value": str(value)})
    model.rt_info["xml"] = [*[e for e in model.rt_info.get("xml", []) if e.tag != "irforge"], root]
