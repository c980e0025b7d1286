"""The real-model corpus (tests/models/corpus): each Hugging Face architecture, exported by each torch.onnx exporter,
converts with irforge, and irforge REF, irforge CPU (f32) and OpenVINO (reading the IR irforge wrote) all match
ONNX Runtime within a relative error of 1e-4 per output (max abs error / max(1, max abs of ORT's output)).
ONNX Runtime is itself checked against the eager PyTorch outputs saved with the export. Where OpenVINO misses ORT
reading the ONNX file itself (its own import: T5's relative-position bias, see check.py), irforge's IR must give
what that import gives instead.

One test per (architecture, exporter) checks every target and reports all failures together, so a case is
exported, converted and run on ORT once. A known exporter failure (the entry's `exporter_failures`) skips the case
with the exporter's error; a known irforge failure is listed in KNOWN_FAILURES (a strict xfail: remove the entry when
the fix lands)."""
from __future__ import annotations

import importlib.metadata
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from tests.models.corpus import export
from tests.models.corpus.architectures import ARCHITECTURES, EXPORTERS
from tests.models.corpus.check import (Converted, Outcome, check_oracle, check_targets, convert, thread_share,
                                       torch_threads)


def _onnxscript_older_than(*release: int) -> bool:
    version = importlib.metadata.version("onnxscript")  # the metadata: importing onnxscript costs ~1 s
    return tuple(int(p) for p in version.split(".")[:len(release)]) < release


# Failures that depend on the environment are entered only where they occur (the lowest-versions run has
# onnxscript 0.6). Swin: onnxscript 0.6's aten::as_strided (its pooler, an AdaptiveAvgPool1d) builds the strided
# indices in a Loop over the rank with ONNX sequences; 0.7's optimizer folds them away (static shapes).
_SWIN_SEQUENCES = ("irforge ONNX frontend: no sequence ops ('UnsupportedOpsError: Unsupported ONNX ops: SequenceEmpty "
                   "(node 'n4'), ConcatFromSequence (node 'n0_13'), SequenceInsert (node 'n24')', the last two in "
                   "Loop 'n6_2'); the Loop's trip count and inputs are static, so folding it would do. OpenVINO's "
                   "own ONNX import fails on the same ops")

# (architecture, exporter) -> the failure: component, op / node, error text or size (diagnosed with
# tests/models/corpus/diagnose.py, the first op where a target leaves REF, or by hand)
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    **({("swin", "dynamo"): _SWIN_SEQUENCES} if _onnxscript_older_than(0, 7) else {}),
}
KEEP = 2  # converted cases kept in memory by the session cache


def _cases() -> Iterator[object]:
    for arch in ARCHITECTURES:
        for exporter in EXPORTERS:
            reason = KNOWN_FAILURES.get((arch, exporter))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(arch, exporter, id=f"{arch}-{exporter}", marks=marks)


@pytest.fixture(scope="session")
def corpus_ir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Converted]:
    """`corpus_ir(arch, exporter)`: the case exported and converted once per session (an error is remembered and
    re-raised on every use). Converted models are large (up to ~0.5 GB of weights) and each case has one test, so
    only the KEEP most recent stay in memory; a case evicted and asked for again is converted again."""
    done: OrderedDict[tuple[str, str], Converted | BaseException] = OrderedDict()
    root = tmp_path_factory.mktemp("corpus_ir")

    def get(arch: str, exporter: str) -> Converted:
        key = (arch, exporter)
        if key not in done:
            try:
                done[key] = convert(arch, exporter, root)
            except Exception as e:  # noqa: BLE001 - remembered and re-raised below
                done[key] = e
            while len(done) > KEEP:
                done.popitem(last=False)
        done.move_to_end(key)
        got = done[key]
        if isinstance(got, BaseException):
            raise got
        return got

    return get


@pytest.mark.parametrize(("arch", "exporter"), _cases())
def test_matches_onnxruntime(arch: str, exporter: str, corpus_ir: Callable[[str, str], Converted]) -> None:
    with torch_threads(thread_share()):
        try:
            conv = corpus_ir(arch, exporter)
        except export.ExporterLimitation as e:
            pytest.skip(f"known exporter limitation: {e}")
        inputs, eager = export.reference(arch)
        _check(arch, exporter, conv, inputs, eager)


def _check(arch: str, exporter: str, conv: Converted, inputs: dict[str, np.ndarray], eager: list[np.ndarray]
           ) -> None:
    outcome = Outcome()
    want = check_oracle(arch, conv.onnx_path, inputs, eager, outcome)
    assert "export" not in outcome.failures, f"{arch} {exporter}: {outcome.failures['export']} (not irforge's)"
    check_targets(conv, inputs, want, outcome)
    print(f"{arch} {exporter}: " + ", ".join(f"{t} {max(e):.2g}" for t, e in outcome.errors.items()))
    for note in outcome.notes:
        print(f"{arch} {exporter}: {note}")
    assert not outcome.failures, f"{arch} {exporter}: " + "; ".join(f"{t}: {m}" for t, m in outcome.failures.items())
