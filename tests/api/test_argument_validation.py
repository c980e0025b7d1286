"""Every public entry point takes its arguments in OpenVINO's forms or rejects them with one line naming the
argument: property-based tests throw arbitrary Python values (numbers, strings, nested lists/tuples/dicts, None,
bytes, floats, negative dims) at each argument and accept only success or one clear error."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irforge
from irforge.errors import IRForgeError

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "mobilenet_v2_tiny.onnx")

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                     st.text(max_size=12), st.binary(max_size=8), st.sampled_from([np.float32, np.int64, int, object]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.tuples(inner, inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-3, 3)), inner, max_size=3)), max_leaves=10)
_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model() -> irforge.Model:
    return irforge.convert_model(EXAMPLE, optimize=False)


def _one_line_error(call: Any, names: tuple[str, ...]) -> None:
    """`call()` succeeds, or raises an irforge error (or NotImplementedError) of one line naming an argument."""
    try:
        call()
    except (IRForgeError, NotImplementedError) as e:
        message = str(e)
        assert "\n" not in message and message, message
        assert any(n in message for n in names), (names, message)


@_SETTINGS
@given(value=_values)
def test_convert_model_input_forms_never_crash(value: Any) -> None:
    _one_line_error(lambda: irforge.convert_model(EXAMPLE, input=value, optimize=False),
                    ("input", "Model", "node", "--input"))


@_SETTINGS
@given(key=st.sampled_from(["input_shape", "mean_values", "scale_values", "batch", "output", "layout", "scale",
                            "compress_to_fp16", "disable_passes", "reverse_input_channels"]), value=_values)
def test_convert_model_options_never_crash(key: str, value: Any) -> None:
    if value is None:
        return  # None is every option's default
    names = (key, key.replace("_", "-"), "-b/--batch", "node", "after reshaping")
    _one_line_error(lambda: irforge.convert_model(EXAMPLE, optimize=False, **{key: value}), names)


@_SETTINGS
@given(value=_values)
def test_model_reshape_never_crashes(model: irforge.Model, value: Any) -> None:
    _one_line_error(lambda: model.clone().reshape(value), ("Model.reshape", "after reshaping", "node"))


@_SETTINGS
@given(value=_values)
def test_convert_model_sources_never_crash(value: Any) -> None:
    if isinstance(value, str):
        return  # a string is a path: tests/robustness covers files
    _one_line_error(lambda: irforge.convert_model(value), ("input_model", "convert_model"))


@_SETTINGS
@given(value=_values, weights=_values)
def test_read_model_never_crashes(value: Any, weights: Any) -> None:
    if isinstance(value, str) and not value.lstrip().startswith("<"):
        return  # a path
    _one_line_error(lambda: irforge.Core().read_model(value, weights),
                    ("read_model", "model", "weights", "<memory>", "input_model"))


@pytest.mark.parametrize("kwargs,message", [
    ({"batch": "4"}, "batch: expected an integer, got str '4'"),
    ({"batch": 2.5}, "batch: expected an integer, got float 2.5"),
    ({"batch": 0}, "-b/--batch: the batch must be a positive integer"),
    ({"input_shape": [1, 3, -5, 224]}, "dim 2 is -5"),
    ({"input": {"image": [1.5, 3, 224, 224]}}, "dim 0 is 1.5"),
    ({"input": {"nope": [1, 3, 224, 224]}}, "no tensor 'nope'"),
    ({"mean_values": [1, 2, "x"]}, "mean_values: 'x' is not a number"),
    ({"scale_values": {"image": []}}, "scale_values['image']: expected a list of numbers"),
    ({"scale": float("nan")}, "scale: nan is not a finite number"),
    ({"output": ""}, "output: expected tensor names"),
    ({"inputs": [1, 3]}, "unknown option(s) 'inputs' (did you mean 'input'?)"),
    ({"example_input": np.zeros(3)}, "example_input is not supported for this model"),
    ({"compress_to_fp16": "yes"}, "compress_to_fp16: expected True or False"),
])
def test_convert_model_rejects_with_the_argument_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IRForgeError) as info:
        irforge.convert_model(EXAMPLE, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_api_shapes_as_lists_and_tuples_are_taken() -> None:
    """The crash of the issue: shapes, means and scales as Python lists/tuples (and dicts) work."""
    for kwargs in ({"input_shape": [1, 3, 48, 192]}, {"input_shape": (1, 3, 48, 192)},
                   {"input": {"image": [1, 3, 48, 192]}}, {"input_shape": {"image": (1, 3, 48, 192)}}):
        model = irforge.convert_model(EXAMPLE, **kwargs)
        assert model.input(0).get_partial_shape() == [1, 3, 48, 192], kwargs
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 224, 224)).astype(np.float32)
    by_list = irforge.convert_model(EXAMPLE, mean_values=[123.675, 116.28, 103.53], scale_values=(58.4, 57.1, 57.4))
    by_text = irforge.convert_model(EXAMPLE, mean_values="[123.675,116.28,103.53]", scale_values="[58.4,57.1,57.4]")
    np.testing.assert_array_equal(irforge.compile_model(by_list, "REF")(x)[0], irforge.compile_model(by_text, "REF")(x)[0])


@pytest.mark.parametrize("call,message", [
    (lambda: irforge.save_model("model", "x.xml"), "save_model: model: expected an irforge Model"),
    (lambda: irforge.save_model(irforge.Model([], []), None), "save_model: output_model"),
    (lambda: irforge.save_model(irforge.Model([], []), "x.xml", compress_to_fp16="no"), "compress_to_fp16"),
    (lambda: irforge.Core().compile_model(5), "read_model: model: expected a path"),
    (lambda: irforge.Core().compile_model(irforge.Model([], []), 7), "device_name"),
    (lambda: irforge.Core().read_model(b"<net"), "<memory>"),
    (lambda: irforge.Core().read_model(EXAMPLE, config={"X": 1}), "read_model: config keys X"),
    (lambda: irforge.Core().query_model("m", "CPU"), "query_model: model"),
    (lambda: irforge.Tensor(irforge.Type.dynamic, [2]), "dynamic"),
])
def test_api_calls_reject_with_the_argument_named(call: Any, message: str) -> None:
    with pytest.raises((IRForgeError, ValueError, TypeError)) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_read_model_weights_given_must_exist(tmp_path: Path) -> None:
    """An explicit weights path that is not there is an error, not an IR read without weights."""
    irforge.serialize(irforge.convert_model(EXAMPLE), str(tmp_path / "m.xml"))
    core = irforge.Core()
    with pytest.raises(IRForgeError, match="no such weights file"):
        core.read_model(str(tmp_path / "m.xml"), str(tmp_path / "missing.bin"))
    (tmp_path / "m.bin").rename(tmp_path / "w.bin")
    x = np.zeros((1, 3, 224, 224), np.float32)
    by_path = core.read_model(str(tmp_path / "m.xml"), str(tmp_path / "w.bin"))
    by_bytes = core.read_model(str(tmp_path / "m.xml"), (tmp_path / "w.bin").read_bytes())
    np.testing.assert_array_equal(irforge.compile_model(by_path, "REF")(x)[0],
                                  irforge.compile_model(by_bytes, "REF")(x)[0])
    with pytest.raises(IRForgeError, match="read_model: weights: expected a path"):
        core.read_model((tmp_path / "m.xml").read_bytes(), 5)
