"""Constant-folding bombs: a model of a few hundred bytes whose ConstantOfShape/Expand/Tile/Range would fold to
terabytes converts quickly, the op left unfolded (MAX_FOLD_BYTES), instead of allocating. The sizes here are
terabytes so that a regression fails at once in the allocator instead of filling the machine's memory."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import irforge
from irforge.ir.opset import all_ops
from irforge.transforms.constant_folding import MAX_FOLD_BYTES
from tests.robustness.helpers import graph_model, run_cli, save

_HUGE = 1 << 20  # [2^20, 2^20] f32 = 4 TiB


def _bomb(nodes: list[onnx.NodeProto], consts: dict[str, np.ndarray]) -> onnx.ModelProto:
    """`big` (built by `nodes` from constants) + x -> y."""
    return graph_model(nodes + [h.make_node("Add", ["big", "x"], ["y"])], [h.make_tensor_value_info("x", T.FLOAT, [1])],
                       [h.make_tensor_value_info("y", T.FLOAT, None)], list(consts.values()), list(consts))


_BOMBS = {
    "ConstantOfShape": (_bomb([h.make_node("ConstantOfShape", ["s"], ["big"],
                                           value=h.make_tensor("v", T.FLOAT, [1], [1]))],
                              {"s": np.array([_HUGE, _HUGE], np.int64)}), "Broadcast"),
    "Expand": (_bomb([h.make_node("Expand", ["one", "s"], ["big"])],
                     {"one": np.ones(1, np.float32), "s": np.array([_HUGE, _HUGE], np.int64)}), "Broadcast"),
    "Tile": (_bomb([h.make_node("Tile", ["one", "r"], ["big"])],
                   {"one": np.ones(1, np.float32), "r": np.array([_HUGE * _HUGE], np.int64)}), "Tile"),
    "Range": (_bomb([h.make_node("Range", ["a", "b", "c"], ["big"])],
                    {"a": np.array(0, np.float32), "b": np.array(2.0**40, np.float32), "c": np.array(1, np.float32)}),
              "Range"),
}


@pytest.mark.parametrize("name", list(_BOMBS))
def test_bombs_stay_unfolded(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model, op = _BOMBS[name]
    calls: list[str] = []
    for spec in all_ops():  # the kernel is never even tried (not merely failing in the allocator)
        if spec.type_name == op:
            monkeypatch.setattr(type(spec), "evaluate", lambda self, node, inputs: calls.append(node.name))
    path = save(model, tmp_path / "bomb.onnx")
    assert path.stat().st_size < 300
    t0 = time.perf_counter()
    code, out, err = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert time.perf_counter() - t0 < 30
    assert irforge.read_model(tmp_path / "out" / "bomb.xml").histogram().get(op) == 1
    assert (tmp_path / "out" / "bomb.bin").stat().st_size < 1000
    assert calls == []


def test_just_above_the_limit_stays_unfolded() -> None:
    side = 16384  # 1 GiB of f32: allocating it would work here, but folding must not
    assert side * side * 4 > MAX_FOLD_BYTES
    model = _bomb([h.make_node("ConstantOfShape", ["s"], ["big"], value=h.make_tensor("v", T.FLOAT, [1], [2]))],
                  {"s": np.array([side, side], np.int64)})
    t0 = time.perf_counter()
    assert irforge.convert_model(model).histogram().get("Broadcast") == 1
    assert time.perf_counter() - t0 < 10  # nothing of that size was allocated and filled


def test_values_below_the_limit_still_fold() -> None:
    side = 1024  # 4 MiB of f32, well below MAX_FOLD_BYTES
    assert side * side * 4 < MAX_FOLD_BYTES
    model = _bomb([h.make_node("ConstantOfShape", ["s"], ["big"], value=h.make_tensor("v", T.FLOAT, [1], [2]))],
                  {"s": np.array([side, side], np.int64)})
    converted = irforge.convert_model(model)
    assert "Broadcast" not in converted.histogram()
    np.testing.assert_array_equal(irforge.Core().compile_model(converted, "REF")([np.ones(1, np.float32)])[0],
                                  np.full((side, side), 3, np.float32))
