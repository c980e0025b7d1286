"""Option values that make no sense fail with one line naming the option (and the input) before anything runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from tests.robustness.helpers import files_under, fails, graph_model, save


@pytest.fixture
def image_model(tmp_path: Path) -> Path:
    """image[?,3,8,8] -> Relu."""
    return save(graph_model([h.make_node("Relu", ["image"], ["y"])], [h.make_tensor_value_info("image", T.FLOAT,
                                                                                               ["n", 3, 8, 8])],
                            [h.make_tensor_value_info("y", T.FLOAT, None)]), tmp_path / "m.onnx")


@pytest.mark.parametrize("opts,message", [
    (["--input-shape", "[99999999999999999999,3,8,8]"], "--input-shape: shape [99999999999999999999,3,8,8]: "
                                                         "dimension 0 (99999999999999999999) is too large"),
    (["--input-shape", "image[0,3,8,8]"], "--input-shape: input 'image' shape [0,3,8,8]: dimension 0 is 0; "
                                          "empty inputs are not supported"),
    (["--input-shape", "[4294967296,4294967296,3,8]"], "has more elements than a 64-bit count can hold"),
    (["--input", "image[1,3,0,8]"], "--input: input 'image' shape [1,3,0,8]: dimension 2 is 0"),
    (["--scale", "nan"], "scale: nan is not a finite number"),
    (["--scale", "inf"], "scale: inf is not a finite number"),
    (["--scale", "0"], "--scale"),
    (["--mean-values", "[1,nan,3]"], "--mean-values: '[1,nan,3]' has a value that is not a finite number"),
    (["--scale-values", "[1,2,-inf]"], "--scale-values: '[1,2,-inf]' has a value that is not a finite number"),
    (["--output", ""], "--output: the value is empty"),
    (["--input", " "], "--input: the value is empty"),
    (["--input-shape", ""], "--input-shape: the value is empty"),
    (["--layout", "qwerty"], "--layout: layout 'qwerty' has 6 dimensions but input 'image' has rank 4"),
    (["--layout", "nnnn"], "--layout: layout 'nnnn' names dimension 'n' more than once"),
    (["--target-layout", "nch"], "has 3 dimensions but input 'image' has rank 4"),
    (["--source-layout", "nhhw", "--target-layout", "nchw"], "names dimension 'h' more than once"),
    (["--batch", "x"], "argument -b/--batch: invalid int value: 'x'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_convert_options(tmp_path: Path, image_model: Path, opts: list[str], message: str) -> None:
    line = fails(message, "convert", str(image_model), "-o", str(tmp_path / "out"), *opts)
    assert line.startswith("irforge convert: error: ")
    assert files_under(tmp_path / "out") == []


def test_layout_with_dots_checks_the_named_dims(tmp_path: Path, image_model: Path) -> None:
    fails("layout 'nchwd...' has 5 dimensions", "convert", str(image_model), "-o", str(tmp_path / "o"), "--layout",
          "nchwd...")


@pytest.mark.parametrize("shape,message", [
    ("[99999999999999999999,3,8,8]", "--shape: shape [99999999999999999999,3,8,8]: dimension 0"),
    ("[0,3,8,8]", "--shape: shape [0,3,8,8]: dimension 0 is 0; empty inputs are not supported"),
    ("[100000000,3,8,8]", "input 'image' of shape [100000000,3,8,8] needs"),
])
def test_bad_benchmark_shapes(image_model: Path, shape: str, message: str) -> None:
    fails(message, "benchmark", str(image_model), "--shape", shape, "-n", "1")


def test_argparse_errors_are_one_line(image_model: Path) -> None:
    fails("the following arguments are required: --data", "quantize", str(image_model))
    fails("argument -n/--niter", "benchmark", str(image_model), "-n")
