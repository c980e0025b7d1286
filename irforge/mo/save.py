"""OpenVINO's saving functions: `save_model` (f32 weights compressed to f16 by default, as OpenVINO's does) and
`serialize` (the model as it is). The model passed in is never changed: compression works on a copy of the graph
(constant data is shared, only the compressed weights are new)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from irforge.errors import OptionError
from irforge.ir.graph import Model
from irforge.ir.xml_io import ir_files, ir_paths
from irforge.ir.xml_io import save_model as write_ir


def save_model(model: Model, output_model: "str | os.PathLike[str]", compress_to_fp16: bool = True) -> None:
    """Write `output_model` (an `.xml` path) and the `.bin` beside it. `compress_to_fp16` (default True, as in
    OpenVINO): f32 weights stored as f16 + a decompressing Convert (`irforge.mo.compress`); a model that already
    holds compressed or quantized weights is written as it is."""
    _check(model, output_model, "save_model", "output_model")
    if not isinstance(compress_to_fp16, bool):
        raise OptionError(f"save_model: compress_to_fp16: expected True or False, got {compress_to_fp16!r}")
    if compress_to_fp16:
        from irforge.mo.compress import compress_to_fp16 as compress

        model = model.clone()
        compress(model)
    write_ir(model, output_model)


def serialize(model: Model, xml_path: "str | os.PathLike[str]", bin_path: "str | os.PathLike[str] | None" = None,
              version: Any = None) -> None:
    """Write the model as it is (no compression) to `xml_path` and `bin_path` (default: beside the `.xml`)."""
    from irforge.files import check_output_file, write_files

    _check(model, xml_path, "serialize", "xml_path")
    if version not in (None, "UNSPECIFIED", "IR_V11", 11):
        raise OptionError(f"serialize: version {version!r}: irforge writes IR v11 only")
    if bin_path is None or Path(bin_path) == ir_paths(xml_path)[1]:
        write_ir(model, xml_path)
        return
    if not isinstance(bin_path, (str, os.PathLike)):
        raise OptionError(f"serialize: bin_path: expected a path, got {type(bin_path).__name__}")
    files = ir_files(model, xml_path)
    files[0] = (Path(bin_path), files[0][1])
    for path, _ in files:
        check_output_file(path, "IR")
    write_files(files, "IR")


def _check(model: object, path: object, function: str, argument: str) -> None:
    if not isinstance(model, Model):
        raise OptionError(f"{function}: model: expected an irforge Model, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise OptionError(f"{function}: {argument}: expected a path to an .xml file, got {path!r}")
