"""Fixtures of the model tests: each zoo model is exported, converted and written as IR once per session."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from irforge.ir.graph import Model
from irforge.mo.report import ConversionReport
from tests.models import zoo
from tests.models.harness import convert_with_report


@dataclass
class Converted:
    name: str
    opset: int
    onnx_path: Path
    xml_path: Path  # the IR irforge wrote
    model: Model  # that IR, read back by irforge
    report: ConversionReport  # layer histograms before/after optimization


@pytest.fixture(scope="session")
def zoo_ir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], Converted]:
    """`zoo_ir(name, opset)`: the zoo model converted by irforge (a conversion error is re-raised on every use,
    so each test that needs the model fails with it)."""
    done: dict[tuple[str, int], Converted | Exception] = {}
    root = tmp_path_factory.mktemp("zoo_ir")

    def get(name: str, opset: int) -> Converted:
        key = (name, opset)
        if key not in done:
            try:
                onnx_path = zoo.export(name, opset)
                xml = root / f"{name}-opset{opset}.xml"
                done[key] = Converted(name, opset, onnx_path, xml, *convert_with_report(onnx_path, xml))
            except Exception as e:  # noqa: BLE001 - remembered and re-raised below
                done[key] = e
        got = done[key]
        if isinstance(got, Exception):
            raise got
        return got

    return get
