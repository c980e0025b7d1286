"""`Layout` and `layout_helpers` against OpenVINO's: the same texts parse to the same canonical spelling, names and
indices (or fail in both), the helpers agree, and a Parameter's/Result's layout survives IR written by either
runtime and read by the other."""
from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto
from onnx import helper as h

import irforge
import irforge.layout_helpers
from irforge.errors import IRForgeError
from irforge.ir.layout import Layout
from irforge.ir.xml_io import save_model as irforge_save_model

openvino = pytest.importorskip("openvino")

# `import irforge as ov` (a stand-in with the same names until the package exports them all)
IRF: Any = irforge if {"Core", "Layout", "layout_helpers"} <= set(vars(irforge)) else \
    types.SimpleNamespace(Core=irforge.Core, Layout=Layout, layout_helpers=irforge.layout_helpers)

TEXTS = ["NCHW", "nchw", "[N,C,H,W]", "[batch,channels,height,width]", "NC...", "...C", "?CHW", "", "N...C",
         "[n, c ,h,w]", "[?,?,H,W]", "[...,C]", "[N,...]", "[N,C,...,H,W]", "...", "[...]", "**SCALAR**", "ncdhw",
         " NCHW ", "abcd", "[Batch,Channel]", "[b,c]", "[N,c,custom_1,w]", "1CHW", "[N,C,?]", "?", "[__a]",
         "[N, ... ,C]", "[N,]", "[x,y,a1]"]
BAD = ["ncn", "NN", "N-C", "[N,,C]", "[]", "[_]", "[a b]", "N.C", "N..C", "N....", "......", "[N,...,...]", "[N,C",
       "N,C", "[N ...]", "[N,...,]", "   ", "[N,C,...,C]"]


@pytest.mark.parametrize("text", TEXTS)
def test_layout_spelling_names_and_indices_match_openvino(text: str) -> None:
    theirs, mine = openvino.Layout(text), IRF.Layout(text)
    assert (mine.to_string(), str(mine), repr(mine), mine.empty) == \
        (theirs.to_string(), str(theirs), repr(theirs), theirs.empty)
    for name in ("N", "C", "H", "W", "D", "batch", "channels", "height", "width", "depth", "X", "CUSTOM_1"):
        assert mine.has_name(name) == theirs.has_name(name), name
        if theirs.has_name(name):
            assert mine.get_index_by_name(name) == theirs.get_index_by_name(name), name


@pytest.mark.parametrize("text", BAD)
def test_malformed_layouts_fail_in_both_with_one_line(text: str) -> None:
    with pytest.raises(RuntimeError):
        openvino.Layout(text)
    with pytest.raises(RuntimeError) as info:
        IRF.Layout(text)
    message = str(info.value)
    assert isinstance(info.value, (IRForgeError, ValueError)) and "\n" not in message and repr(text)[1:-1] in message


def test_equality_hash_and_scalar() -> None:
    for a in TEXTS:
        for b in ("NCHW", "[N,C,...]", "", "...C", "?CHW"):
            assert (IRF.Layout(a) == IRF.Layout(b)) == (openvino.Layout(a) == openvino.Layout(b)), (a, b)
            assert (IRF.Layout(a) == b) == (openvino.Layout(a) == b), (a, b)
    assert IRF.Layout("nchw") != IRF.Layout("NHWC") and IRF.Layout("NCHW") != 5
    assert len({IRF.Layout("NCHW"), IRF.Layout("[N,C,H,W]"), IRF.Layout("nchw")}) == 1
    assert IRF.Layout.scalar().to_string() == openvino.Layout.scalar().to_string() == "**SCALAR**"
    assert IRF.Layout(IRF.Layout("NC...")) == IRF.Layout("NC...")
    with pytest.raises(RuntimeError, match="dimension 'D' is not defined"):
        IRF.Layout("NCHW").get_index_by_name("D")


@pytest.mark.parametrize("text", ["NCHW", "NHWC", "NCDHW", "...C", "N...", "CHW", "[?,C,H,W]", ""])
def test_layout_helpers_indices_match_openvino(text: str) -> None:
    for what in ("batch", "channels", "depth", "height", "width"):
        has, idx = f"has_{what}", f"{what}_idx"
        theirs = getattr(openvino.layout_helpers, has)(openvino.Layout(text))
        assert getattr(IRF.layout_helpers, has)(IRF.Layout(text)) == theirs, what
        if theirs:
            assert getattr(IRF.layout_helpers, idx)(IRF.Layout(text)) == \
                getattr(openvino.layout_helpers, idx)(openvino.Layout(text))
        else:
            with pytest.raises(RuntimeError):
                getattr(IRF.layout_helpers, idx)(IRF.Layout(text))


# ---------------------------------------------------------------- layouts of model ports, through IR files
@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(0)
    w = h.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], rng.normal(0, 0.3, 108))
    graph = h.make_graph([h.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
                          h.make_node("Relu", ["c"], ["features"])], "cnn",
                         [h.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                         [h.make_tensor_value_info("features", TensorProto.FLOAT, None)], [w])
    path = tmp_path_factory.mktemp("layout") / "cnn.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 13)]), str(path))
    return str(path)


def _node(port: Any) -> Any:
    return port.get_node() if hasattr(port, "get_node") else port.node


def _layouts(ov: Any, model: Any) -> list[str]:
    return [ov.layout_helpers.get_layout(p).to_string() for p in [*model.inputs, *model.outputs]]


def _set_layouts(ov: Any, path: str) -> tuple[Any, list[str]]:
    """The same script for both: a Parameter layout through the node API, a Result layout through the helpers."""
    model = ov.Core().read_model(path)
    before = _layouts(ov, model)
    param = _node(model.input(0))
    param.set_layout(ov.Layout("NCHW"))
    assert param.get_layout() == ov.Layout("NCHW") and param.layout.to_string() == "[N,C,H,W]"
    ov.layout_helpers.set_layout(model.output(0), ov.Layout("NC..."))
    return model, before + _layouts(ov, model)


def test_parameter_and_result_layouts_same_script(cnn: str) -> None:
    (_, theirs), (_, mine) = _set_layouts(openvino, cnn), _set_layouts(IRF, cnn)
    assert mine == theirs == ["[...]", "[...]", "[N,C,H,W]", "[N,C,...]"]


def test_irforge_ir_layouts_read_in_openvino_and_back(cnn: str, tmp_path: Path) -> None:
    model, _ = _set_layouts(IRF, cnn)
    irforge_save_model(model, tmp_path / "m.xml")
    assert 'layout="[N,C,H,W]"' in (tmp_path / "m.xml").read_text()
    assert _layouts(openvino, openvino.Core().read_model(str(tmp_path / "m.xml"))) == ["[N,C,H,W]", "[N,C,...]"]
    assert _layouts(IRF, irforge.read_model(tmp_path / "m.xml")) == ["[N,C,H,W]", "[N,C,...]"]


def test_openvino_ir_layouts_read_in_irforge(cnn: str, tmp_path: Path) -> None:
    model, _ = _set_layouts(openvino, cnn)
    openvino.save_model(model, str(tmp_path / "m.xml"), compress_to_fp16=False)
    mine = irforge.read_model(tmp_path / "m.xml")
    assert _layouts(IRF, mine) == ["[N,C,H,W]", "[N,C,...]"]
    assert _node(mine.input(0)).get_layout() == IRF.Layout("NCHW")


def test_set_layout_errors_and_removal(cnn: str) -> None:
    for ov in (openvino, IRF):
        model = ov.Core().read_model(cnn)
        with pytest.raises(RuntimeError, match=r"layout \[N,C\]"):
            _node(model.input(0)).set_layout(ov.Layout("NC"))
        _node(model.input(0)).set_layout(ov.Layout("N..."))
        _node(model.input(0)).set_layout(ov.Layout())
        assert ov.layout_helpers.get_layout(model.input(0)).empty
    model = IRF.Core().read_model(cnn)
    conv_output = model.output(0).node.inputs[0]  # an inner tensor: neither a model input nor an output
    with pytest.raises(RuntimeError, match="neither a model input nor a model output"):
        IRF.layout_helpers.set_layout(conv_output, IRF.Layout("NCHW"))
    with pytest.raises(IRForgeError, match="only on Parameter and Result"):
        model.output(0).node.set_layout(IRF.Layout("NCHW"))
