"""Where a target (irforge CPU, or OpenVINO on irforge's IR) leaves irforge's REF device on a corpus case.

Two ways to look, both over the converted model's non-constant values in topological order:
* probe (default): every value is made an output at once and both sides run that model; the first op whose output
  differs beyond the tolerance while its inputs agree is the culprit. Fast, but the extra outputs can change the
  device's fusions (OpenVINO's SDPA / MHA fusions for one), so a fused-op error can vanish;
* truncate (`--truncate`): one model per value, that value its only output, until the first that differs. Slower
  (one compile per value), but each model keeps the device's fusions up to that value. This is how the T5 case in
  check.py was found (OpenVINO drops the constant position bias of the first ScaledDotProductAttention's mask).

`python -m tests.models.corpus.diagnose [--truncate] ARCH EXPORTER [cpu|openvino]` (default openvino)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import irforge
from irforge.ir.graph import Model, Node, Output
from tests.models.corpus import export
from tests.models.corpus.check import convert, run_cpu
from tests.models.corpus.metrics import TOLERANCE, rel_err
from tests.models.harness import run_openvino_xml, run_ref


def _values(model: Model) -> list[tuple[Node, int]]:
    return [(n, i) for n in model.ops() if n.type != "Constant" for i in range(len(n.outputs))]


def _run(target: str, model: Model, inputs: dict[str, np.ndarray], d: Path) -> list[np.ndarray]:
    if target == "cpu":
        return run_cpu(model, inputs)
    xml = d / "diagnose.xml"
    irforge.save_model(model, xml, compress_to_fp16=False)
    return run_openvino_xml(xml, inputs)


def _describe(node: Node, port: int, got: np.ndarray, ref: np.ndarray, target: str) -> str:
    got, ref = np.asarray(got), np.asarray(ref)
    at = ""
    if ref.size and got.shape == ref.shape:
        where = np.unravel_index(np.argmax(np.abs(got.astype(np.float64) - ref)), ref.shape)
        at = f" (largest at {tuple(int(x) for x in where)}: {target} {got[where]}, REF {ref[where]})"
    inputs = ", ".join(f"{s.node.type} {s.element_type}[{s.shape}]" for s in node.inputs)
    return (f"{node.type} '{node.name}' port {port} {ref.dtype}{list(ref.shape)}: rel err "
            f"{rel_err(got, ref):.3g}{at}; inputs: {inputs}")


def probe(model: Model, inputs: dict[str, np.ndarray], target: str, d: Path, limit: int = 5) -> list[str]:
    values = _values(model)
    wide = Model(list(model.results) + [n.outputs[i] for n, i in values], model.parameters, model.name)
    n_out = len(model.results)
    ref = run_ref(wide, inputs)[n_out:]
    got = _run(target, wide, inputs, d)[n_out:]
    errs = {(id(n), i): rel_err(g, r) for (n, i), g, r in zip(values, got, ref)}
    lines = []
    for (node, i), g, r in zip(values, got, ref):
        if errs[(id(node), i)] > TOLERANCE and all(errs.get((id(s.node), s.index), 0.0) <= TOLERANCE
                                                   for s in node.inputs):
            lines.append(_describe(node, i, g, r, target))
            if len(lines) >= limit:
                break
    return lines


def truncate(model: Model, inputs: dict[str, np.ndarray], target: str, d: Path) -> list[str]:
    for node, i in _values(model):
        value: Output = node.outputs[i]
        if value.element_type.name not in ("f32", "f16", "bf16"):
            continue
        cut = Model([value], model.parameters, model.name)
        ref, got = run_ref(cut, inputs)[0], _run(target, cut, inputs, d)[0]
        if rel_err(got, ref) > TOLERANCE:
            return [_describe(node, i, got, ref, target)]
    return []


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--truncate"]
    arch, exporter = args[0], args[1]
    target = args[2] if len(args) > 2 else "openvino"
    inputs, _ = export.reference(arch)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        model = convert(arch, exporter, d).model
        find = truncate if "--truncate" in sys.argv else probe
        for line in find(model, inputs, target, d) or ["no divergence found"]:
            print(line)


if __name__ == "__main__":
    main()
