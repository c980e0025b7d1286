"""Names from a model reach the terminal escaped: an ANSI sequence, a newline or a bidi override in a node or
tensor name is printed as `\\x1b`, `\\n`, `\\u202e`, never raw; and such names do not break the IR file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h

import irforge
from irforge.cli.terminal import printable
from tests.robustness.helpers import fails, graph_model, run_cli, save

EVIL = "\x1b[2J\x1b[31mred\nfake line\u202e"


def test_printable() -> None:
    assert printable("plain é 日本") == "plain é 日本"
    assert printable(EVIL) == "\\x1b[2J\\x1b[31mred\\nfake line\\u202e"
    assert printable("\ud800") == "\\ud800"


def _evil_model(tmp_path: Path) -> Path:
    return save(graph_model([h.make_node("Relu", [EVIL], ["y" + EVIL], name="node" + EVIL)],
                            [h.make_tensor_value_info(EVIL, T.FLOAT, [1, 4])],
                            [h.make_tensor_value_info("y" + EVIL, T.FLOAT, [1, 4])]), tmp_path / "evil.onnx")


def _raw_controls(text: str) -> bool:
    return any(ch in text for ch in "\x1b\u202e") or "fake line" in text.replace("\\nfake line", "")


def test_summaries_escape_names(tmp_path: Path) -> None:
    path = _evil_model(tmp_path)
    code, out, err = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert not _raw_controls(out) and "\\x1b[2J\\x1b[31mred\\nfake line\\u202e" in out
    code, out, err = run_cli("inspect", str(tmp_path / "out" / "evil.xml"))
    assert code == 0, err
    assert not _raw_controls(out)
    np.save(tmp_path / "x.npy", np.ones((1, 4), np.float32))
    code, out, err = run_cli("infer", str(tmp_path / "out" / "evil.xml"), "--input", str(tmp_path / "x.npy"),
                             "-o", str(tmp_path / "res"))
    assert code == 0, err
    assert not _raw_controls(out)


def test_xml_illegal_characters_are_replaced_in_the_ir(tmp_path: Path) -> None:
    """XML 1.0 cannot hold ESC even escaped: the writer replaces it with U+FFFD so irforge and OpenVINO read
    the file (newlines and U+202E are legal XML and survive)."""
    import openvino as ov

    path = _evil_model(tmp_path)
    assert run_cli("convert", str(path), "-o", str(tmp_path / "out"))[0] == 0
    model = irforge.read_model(tmp_path / "out" / "evil.xml")
    assert model.inputs[0].names == {EVIL.replace("\x1b", "\ufffd")}
    ov.Core().read_model(str(tmp_path / "out" / "evil.xml"))


def test_error_messages_escape_names(tmp_path: Path) -> None:
    g = graph_model([h.make_node("LpPool", ["x"], ["y"], name=EVIL, kernel_shape=[2])],
                    [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 4])], [h.make_tensor_value_info("y", T.FLOAT, None)])
    line = fails("Unsupported ONNX ops: LpPool (node '\\x1b[2J\\x1b[31mred\\nfake line\\u202e')", "convert",
                 str(save(g, tmp_path / "m.onnx")), "-o", str(tmp_path / "out"))
    assert "\x1b" not in line
