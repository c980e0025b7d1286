"""Where a target leaves irforge's REF device: every value of the converted model is made an output, both sides run
it, and the first op (topological order) whose output differs beyond the tolerance while its inputs agree is the
culprit. This is how the diagnoses in tests/models/test_corpus.py's KNOWN_FAILURES were made.

`python -m tests.models.corpus.diagnose ARCH EXPORTER [cpu|openvino]` (default openvino). Adding outputs can
change a device's fusions, so a divergence found here is confirmed against the unmodified model by the test."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import irforge
from irforge.ir.graph import Model, Node
from tests.models.corpus import export
from tests.models.corpus.check import convert
from tests.models.corpus.metrics import TOLERANCE, rel_err
from tests.models.harness import run_ref


def _probe_model(model: Model) -> tuple[Model, list[tuple[Node, int]]]:
    """`model` with every non-constant value added as an output (after the original outputs)."""
    probes = [(n, i) for n in model.ops() if n.type != "Constant" for i in range(len(n.outputs))]
    extra = [n.outputs[i] for n, i in probes]
    return Model(list(model.results) + extra, model.parameters, model.name), probes


def _run_openvino(xml: Path, names: list[str], inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """OpenVINO on the IR file with the values named `node_name:port` added as outputs."""
    import openvino as ov

    core = ov.Core()
    m = core.read_model(str(xml))
    by_name = {op.get_friendly_name(): op for op in m.get_ops()}
    outs = []
    for name in names:
        node, port = name.rsplit(":", 1)
        outs.append(by_name[node].output(int(port)))
    m.add_outputs(outs)
    compiled = core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled(list(inputs.values()))
    return [np.asarray(res[o]) for o in compiled.outputs]


def first_divergence(arch: str, exporter: str, target: str = "openvino", limit: int = 5) -> list[str]:
    """Lines describing the first `limit` ops whose output differs between REF and `target` beyond TOLERANCE
    while every non-constant input agrees."""
    inputs, _ = export.reference(arch)
    with tempfile.TemporaryDirectory() as d:
        conv = convert(arch, exporter, Path(d))
        probe, probes = _probe_model(conv.model)
        n_out = len(conv.model.results)
        ref = run_ref(probe, inputs)[n_out:]
        if target == "openvino":
            names = [f"{n.name}:{i}" for n, i in probes]
            xml = Path(d) / "probe.xml"
            irforge.save_model(probe, xml, compress_to_fp16=False)
            got = _run_openvino(xml, names, inputs)[n_out:]
        else:
            compiled = irforge.Core().compile_model(probe, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
            got = compiled(list(inputs.values())).values_list()[n_out:]
    errs = {(id(n), i): rel_err(g, r) if np.asarray(r).dtype.kind in "fiub" else 0.0
            for (n, i), g, r in zip(probes, got, ref)}
    lines = []
    for (node, i), g, r in zip(probes, got, ref):
        err = errs[(id(node), i)]
        if not err > TOLERANCE:
            continue
        ins = [errs.get((id(src.node), src.index), 0.0) for src in node.inputs]
        if any(e > TOLERANCE for e in ins):
            continue
        g, r = np.asarray(g), np.asarray(r)
        where: tuple[int, ...] = ()
        if r.size and g.shape == r.shape:
            where = np.unravel_index(np.argmax(np.abs(g.astype(np.float64) - r)), r.shape)
        lines.append(f"{node.type} '{node.name}' port {i} {r.dtype}{list(r.shape)}: rel err {err:.3g} "
                     f"(at {tuple(int(x) for x in where)}: {target} {g[where] if where else g!r}, REF "
                     f"{r[where] if where else r!r}); input types "
                     f"{[f'{s.node.type}:{s.element_type}' for s in node.inputs]}")
        if len(lines) >= limit:
            break
    return lines


def main() -> None:
    arch, exporter = sys.argv[1], sys.argv[2]
    target = sys.argv[3] if len(sys.argv) > 3 else "openvino"
    for line in first_divergence(arch, exporter, target) or ["no divergence found"]:
        print(line)


if __name__ == "__main__":
    main()
