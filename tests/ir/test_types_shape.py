"""Element types, Dimension and PartialShape: parsing, printing, broadcasting."""
import numpy as np
import pytest

from irforge.ir.shape import Dimension, PartialShape, broadcast_shapes
from irforge.ir.types import Type


def test_element_type_spellings() -> None:
    assert Type.from_name("f32") is Type.f32
    assert Type.from_name("FP16") is Type.f16
    assert Type.from_dtype(np.int64) is Type.i64
    assert Type.boolean.precision == "BOOL" and Type.u1.precision == "BIN"
    with pytest.raises(ValueError, match="unknown element type 'f33'"):
        Type.from_name("f33")


@pytest.mark.parametrize("text,expected", [
    ("?,3,224,224", "?,3,224,224"), ("1..4,3,?,2..", "1..4,3,?,2.."), ("...", "..."), ("", ""),
    ("[1,3,8,8]", "1,3,8,8"), ("-1,5", "?,5"),
])
def test_partial_shape_parse_print(text: str, expected: str) -> None:
    assert str(PartialShape.parse(text)) == expected


def test_dimension_ranges() -> None:
    d = Dimension.parse("1..8")
    assert d.compatible(8) and not d.compatible(9) and not d.is_static
    assert Dimension.of(-1) == Dimension()
    with pytest.raises(ValueError):
        Dimension.parse("5..2")
    ps = PartialShape.parse("?,3")
    assert ps.compatible((7, 3)) and not ps.compatible((7, 4)) and not ps.compatible((3,))


def test_broadcast() -> None:
    assert str(broadcast_shapes(PartialShape([2, 1, 4]), PartialShape([3, 1]))) == "2,3,4"
    assert str(broadcast_shapes(PartialShape.parse("?,1"), PartialShape([5]))) == "?,5"
    assert str(broadcast_shapes(PartialShape(None), PartialShape([5]))) == "..."
    with pytest.raises(ValueError, match="do not broadcast"):
        broadcast_shapes(PartialShape([2]), PartialShape([3]))
