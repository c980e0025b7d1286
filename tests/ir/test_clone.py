"""clone_model: an independent copy (same IR when written, rewiring the copy leaves the original alone)."""
from __future__ import annotations

import numpy as np

import irforge
from irforge.ir.clone import clone_model
from irforge.ir.graph import make
from irforge.ir.xml_io import model_to_xml
from tests.models import zoo


def test_clone_writes_the_same_ir_and_is_independent() -> None:
    model = irforge.convert_model(str(zoo.export("ifmodel", 17)))  # has an If with two bodies
    twin, mapping = clone_model(model)
    assert model_to_xml(twin) == model_to_xml(model)
    assert set(mapping) == {n.uid for n in model.nodes()}
    assert all(mapping[n.uid].name == n.name and mapping[n.uid] is not n for n in model.nodes())
    before = model_to_xml(model)
    out = twin.outputs[0]
    neg = make("Negative", [out])
    twin.results[0].set_input(0, neg.output(0))
    twin.validate()
    assert model_to_xml(model) == before
    x = np.abs(np.random.default_rng(0).standard_normal((3, 6))).astype(np.float32)
    a = irforge.Core().compile_model(model, "REF")(x)[0]
    b = irforge.Core().compile_model(twin, "REF")(x)[0]
    np.testing.assert_allclose(b, -a)
