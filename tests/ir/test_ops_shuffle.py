"""ShuffleChannels-1 (no ONNX node case reaches it): REF kernel against the spec's reshape/transpose definition
and against OpenVINO, and its shape inference."""
from __future__ import annotations

import numpy as np
import pytest

from irforge.errors import GraphError
from irforge.ir.graph import Model, make, parameter, result
from irforge.ir.shape import PartialShape
from irforge.ir.types import Type
from tests.util import assert_close, run_openvino, run_ref


def _spec(x: np.ndarray, axis: int, group: int) -> np.ndarray:
    """The spec: view as [prod(before axis), group, C / group, prod(after axis)], swap 1 and 2, view back."""
    axis %= x.ndim
    lead, trail = int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis + 1:]))
    return x.reshape(lead, group, -1, trail).transpose(0, 2, 1, 3).reshape(x.shape)


def _model(shape: list[int], et: Type, axis: int, group: int) -> Model:
    x = parameter(et, shape, "x")
    y = make("ShuffleChannels", [x.output(0)], axis=axis, group=group)
    return Model([result(y.output(0), name="y")], [x])


@pytest.mark.parametrize("shape, axis, group", [
    ([2, 12, 3, 4], 1, 3),
    ([2, 12, 3, 4], -3, 4),
    ([1, 6, 10], 2, 5),
    ([12], 0, 6),
    ([2, 3, 8], -1, 2),
    ([1, 2, 4, 3, 3], 2, 2),
])
@pytest.mark.parametrize("et", [Type.f32, Type.i32])
def test_ref_matches_spec_and_openvino(shape: list[int], axis: int, group: int, et: Type) -> None:
    x = np.arange(int(np.prod(shape))).reshape(shape).astype(et.dtype)
    model = _model(shape, et, axis, group)
    model.validate()
    got = run_ref(model, [x])
    np.testing.assert_array_equal(got[0], _spec(x, axis, group))
    assert got[0].dtype == et.dtype
    assert_close(run_openvino(model, [x]), got, what="OpenVINO vs REF")


def test_shape_inference() -> None:
    x = parameter(Type.f32, PartialShape.parse("?,12,?"), "x").output(0)
    assert make("ShuffleChannels", [x], axis=1, group=4).output(0).shape == PartialShape.parse("?,12,?")
    with pytest.raises(GraphError, match="not divisible"):
        make("ShuffleChannels", [x], axis=1, group=5)
    with pytest.raises(GraphError, match="out of range"):
        make("ShuffleChannels", [x], axis=3, group=1)
    with pytest.raises(GraphError, match="positive"):
        make("ShuffleChannels", [x], axis=1, group=0)
    dyn = parameter(Type.f32, PartialShape(None), "d").output(0)
    assert not make("ShuffleChannels", [dyn], axis=1, group=3).output(0).shape.rank_is_static
