"""Running the `irforge` command in-process on bad input, and the one-line-error contract it must keep: exit
status 0, or 2 with exactly one `irforge <command>: error: ...` line on stderr and no traceback."""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from irforge.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mobilenet_v2_tiny.onnx"


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`irforge ARGV` in this process: (exit status, stdout, stderr). A SystemExit (argparse) counts as a return."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def check_outcome(code: int, err: str, command: str) -> None:
    """Success, or the one-line error of `command`."""
    assert "Traceback" not in err, err
    if code == 0:
        return
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"irforge {command}: error: "), lines[0]


def fails(message: str, *argv: str) -> str:
    """Run `irforge ARGV`, which must fail with one line containing `message`; returns that line."""
    code, _, err = run_cli(*argv)
    check_outcome(code, err, argv[0])
    assert code == 2, f"expected a failure, got exit 0 (stderr: {err!r})"
    line = err.strip()
    assert message in line, line
    return line


def files_under(folder: Path) -> list[str]:
    """Every file below `folder` (relative paths), hidden ones included; [] when it does not exist."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def relu_model(opset: int = 17, **node_kw: object) -> onnx.ModelProto:
    """x[1,4] -> Relu -> y: the smallest convertible model."""
    g = h.make_graph([h.make_node("Relu", ["x"], ["y"], name="relu", **node_kw)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def graph_model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[onnx.ValueInfoProto],
                outputs: Sequence[onnx.ValueInfoProto], initializers: Sequence[np.ndarray | onnx.TensorProto] = (),
                names: Sequence[str] = (), opset: int = 17) -> onnx.ModelProto:
    """A model from parts; `initializers` may be arrays (named by `names`) or TensorProtos."""
    inits = [numpy_helper.from_array(a, n) if isinstance(a, np.ndarray) else a
             for a, n in zip(initializers, list(names) + [""] * len(initializers))]
    g = h.make_graph(list(nodes), "g", list(inputs), list(outputs), inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path
