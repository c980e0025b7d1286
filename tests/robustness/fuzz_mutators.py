"""Seeded mutators for the robustness fuzzer: structured and byte-level mutations of ONNX models, IR files and
`.npy` inputs. Every mutator takes a `random.Random` and returns the mutated object plus a short description
(printed when a mutation breaks the one-line-error contract, so it can be reproduced)."""
from __future__ import annotations

import copy
import random
import xml.etree.ElementTree as ET

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

# Integers that break things: zero, negatives, off-by-one, and magnitudes that overflow or would allocate
# terabytes at once (never the gigabyte range that an allocator grants and then fills slowly).
EVIL_INTS = [0, -1, 1, 2, 3, -7, 99999, 1 << 40, 1 << 62, -(1 << 63), (1 << 63) - 1]
EVIL_FLOATS = [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e38, -1e-45]
EVIL_TEXT = ["", " ", "-1", "0", "abc", "1.5", "99999999999999999999", "-99999999999999999999", "opset999",
             "opset0", "f32", "string", "dynamic", "undefined", "FP32", "i4", "u1", "boolean", "?", "1..", "..",
             "1,2,,3", "\x1b[31m", "é\u202e", ",", "true", "explicit", "numpy", "nan"]
OP_TYPES = ["Relu", "Add", "Conv", "Reshape", "Transpose", "Concat", "Gather", "Slice", "Softmax", "MaxPool",
            "Identity", "Cast", "Shape", "Split", "Pad", "Where", "Frobnicate", "", "If", "Loop", "ConstantOfShape"]

Mutation = tuple[bytes, str]


# ---------------------------------------------------------------------------------------------------- bytes
def mutate_bytes(rng: random.Random, data: bytes) -> Mutation:
    """Flip, truncate, duplicate or insert bytes."""
    kind = rng.choice(["flip", "truncate", "duplicate", "insert", "zero"])
    buf = bytearray(data)
    if not buf:
        return bytes(rng.randrange(256) for _ in range(8)), "random bytes"
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == "truncate":
        buf = buf[:rng.randrange(len(buf))]
    elif kind == "duplicate":
        a = rng.randrange(len(buf))
        b = min(len(buf), a + rng.randint(1, 64))
        buf[a:a] = buf[a:b]
    elif kind == "insert":
        pos = rng.randrange(len(buf))
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        a = rng.randrange(len(buf))
        buf[a:a + rng.randint(1, 32)] = b"\0" * len(buf[a:a + 32])
    return bytes(buf), f"bytes:{kind}"


# ---------------------------------------------------------------------------------------------------- ONNX
def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    out = [graph]
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out += _graphs(a.g)
    return out


def _tensor_names(graph: onnx.GraphProto) -> list[str]:
    names = [v.name for v in graph.input] + [t.name for t in graph.initializer]
    for n in graph.node:
        names += list(n.output)
    return names or ["x"]


def _mutate_attribute(rng: random.Random, node: onnx.NodeProto) -> str:
    if not node.attribute or rng.random() < 0.15:
        name = rng.choice(["group", "axis", "perm", "pads", "strides", "kernel_shape", "to", "bogus", "value"])
        node.attribute.append(h.make_attribute(name, rng.choice([rng.choice(EVIL_INTS), [1, -1], 0.5, "x"])))
        return f"node '{node.name}': added attribute {name}"
    a = rng.choice(list(node.attribute))
    if rng.random() < 0.15:
        node.attribute.remove(a)
        return f"node '{node.name}': removed attribute {a.name}"
    if a.type == onnx.AttributeProto.INT:
        a.i = rng.choice(EVIL_INTS)
    elif a.type == onnx.AttributeProto.INTS:
        values = list(a.ints)
        choice = rng.randrange(4)
        if choice == 0 and values:
            values[rng.randrange(len(values))] = rng.choice(EVIL_INTS)
        elif choice == 1:
            values = values[:rng.randrange(len(values) + 1)]
        elif choice == 2:
            values += [rng.choice(EVIL_INTS)]
        else:
            values = [rng.choice(EVIL_INTS) for _ in range(rng.randint(0, 6))]
        del a.ints[:]
        a.ints.extend(values)
    elif a.type == onnx.AttributeProto.FLOAT:
        a.f = rng.choice(EVIL_FLOATS)
    elif a.type == onnx.AttributeProto.FLOATS:
        del a.floats[:]
        a.floats.extend(rng.choice(EVIL_FLOATS) for _ in range(rng.randint(0, 4)))
    elif a.type == onnx.AttributeProto.STRING:
        a.s = rng.choice([b"", b"garbage", b"\xff\xfe", b"SAME_UPPER", b"VALID", b"nearest", b"constant"])
    elif a.type == onnx.AttributeProto.TENSOR:
        _mutate_tensor(rng, a.t)
    else:
        a.type = rng.choice([onnx.AttributeProto.INT, onnx.AttributeProto.FLOATS, onnx.AttributeProto.STRING])
    return f"node '{node.name}': attribute {a.name}"


def _mutate_tensor(rng: random.Random, t: onnx.TensorProto) -> str:
    choice = rng.randrange(5)
    if choice == 0:
        dims = list(t.dims)
        if dims:
            dims[rng.randrange(len(dims))] = rng.choice(EVIL_INTS)
        else:
            dims = [rng.choice([0, 2, 3])]
        del t.dims[:]
        t.dims.extend(dims)
        return f"tensor '{t.name}' dims {dims}"
    if choice == 1:
        t.data_type = rng.choice([0, 1, 2, 6, 7, 8, 9, 10, 11, 16, 17, 22, 99])
        return f"tensor '{t.name}' data_type {t.data_type}"
    if choice == 2 and t.raw_data:
        t.raw_data = t.raw_data[:rng.randrange(len(t.raw_data))]
        return f"tensor '{t.name}' raw_data truncated"
    if choice == 3:
        try:
            value = numpy_helper.to_array(t)
        except Exception:  # an earlier mutation already broke it
            value = np.zeros(0)
        if value.size and value.dtype.kind in "iuf":
            flat = value.reshape(-1).copy()
            flat[rng.randrange(flat.size)] = rng.choice([0, -1, 3, -7, 99999])
            t.CopyFrom(numpy_helper.from_array(flat.reshape(value.shape), t.name))
            return f"tensor '{t.name}' value changed"
    t.ClearField("raw_data")
    t.float_data.extend([1.0, 2.0])
    return f"tensor '{t.name}' data fields mixed"


def _mutate_value_info(rng: random.Random, vi: onnx.ValueInfoProto) -> str:
    tt = vi.type.tensor_type
    choice = rng.randrange(4)
    if choice == 0:
        tt.elem_type = rng.choice([0, 2, 6, 7, 8, 9, 10, 16, 99, 1000])
        return f"value '{vi.name}' elem_type {tt.elem_type}"
    dims = tt.shape.dim
    if choice == 1 and len(dims):
        d = dims[rng.randrange(len(dims))]
        if rng.random() < 0.5:
            d.dim_value = rng.choice([-5, -1, 0, 1, 7, 99999, 1 << 62])
        else:
            d.dim_param = rng.choice(["n", "", "\x1b"])
        return f"value '{vi.name}' dim"
    if choice == 2:
        if len(dims) and rng.random() < 0.5:
            dims.pop()
        else:
            dims.add().dim_value = rng.choice([1, 3])
        return f"value '{vi.name}' rank"
    vi.type.ClearField("tensor_type")
    if rng.random() < 0.5:
        vi.type.sequence_type.elem_type.tensor_type.elem_type = T.FLOAT
    return f"value '{vi.name}' not a tensor"


def mutate_onnx(rng: random.Random, model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """1-3 structured mutations of a copy of `model`: attributes, types, shapes, edges, op types, opsets."""
    m = copy.deepcopy(model)
    what = []
    for _ in range(rng.randint(1, 3)):
        g = rng.choice(_graphs(m.graph))
        kind = rng.choice(["attr", "attr", "attr", "input", "output", "edge", "op", "drop", "dup", "vi", "vi",
                           "init", "opset", "graph_out", "graph_in", "name"])
        nodes = list(g.node)
        node = rng.choice(nodes) if nodes else None
        if kind == "attr" and node is not None:
            what.append(_mutate_attribute(rng, node))
        elif kind in ("input", "edge") and node is not None and node.input:
            i = rng.randrange(len(node.input))
            node.input[i] = rng.choice(_tensor_names(g) + ["", "nowhere"])
            what.append(f"node '{node.name}' input {i} -> '{node.input[i]}'")
        elif kind == "output" and node is not None and node.output:
            node.output[rng.randrange(len(node.output))] = rng.choice(_tensor_names(g) + ["fresh"])
            what.append(f"node '{node.name}' output renamed")
        elif kind == "op" and node is not None:
            node.op_type = rng.choice(OP_TYPES)
            what.append(f"node '{node.name}' op_type {node.op_type}")
        elif kind == "drop" and node is not None:
            g.node.remove(node)
            what.append(f"node '{node.name}' removed")
        elif kind == "dup" and node is not None:
            g.node.append(copy.deepcopy(node))
            what.append(f"node '{node.name}' duplicated")
        elif kind == "vi":
            infos = list(g.input) + list(g.output)
            if infos:
                what.append(_mutate_value_info(rng, rng.choice(infos)))
        elif kind == "init" and g.initializer:
            what.append(_mutate_tensor(rng, rng.choice(list(g.initializer))))
        elif kind == "opset":
            imp = m.opset_import[0] if m.opset_import else m.opset_import.add()
            imp.version = rng.choice([0, 1, 6, 7, 9, 11, 13, 18, 28, 99, -1])
            if rng.random() < 0.2:
                imp.domain = rng.choice(["ai.onnx.ml", "com.microsoft", "bogus"])
            what.append(f"opset {imp.domain or 'ai.onnx'} {imp.version}")
        elif kind == "graph_out" and g.output:
            o = rng.choice(list(g.output))
            if rng.random() < 0.3:
                g.output.remove(o)
                what.append(f"graph output '{o.name}' removed")
            else:
                o.name = rng.choice(_tensor_names(g) + ["nowhere"])
                what.append(f"graph output -> '{o.name}'")
        elif kind == "graph_in" and g.input:
            vi = rng.choice(list(g.input))
            g.input.remove(vi)
            what.append(f"graph input '{vi.name}' removed")
        elif kind == "name" and node is not None:
            node.name = rng.choice(["", "\x1b[2J", "a/b", "dup"])
            what.append("node renamed")
    return m, "; ".join(what) or "no-op"


# ---------------------------------------------------------------------------------------------------- IR
def mutate_ir(rng: random.Random, xml: bytes, blob: bytes) -> tuple[bytes, bytes, str]:
    """Mutate an IR: xml attributes, ports, edges, dims, element types, elements removed or duplicated; or the
    `.bin` truncated/garbled; or the xml bytes themselves."""
    roll = rng.random()
    if roll < 0.15:
        new_blob, what = mutate_bytes(rng, blob)
        return xml, new_blob, f"bin {what}"
    if roll < 0.25:
        new_xml, what = mutate_bytes(rng, xml)
        return new_xml, blob, f"xml {what}"
    root = ET.fromstring(xml)
    what = []
    for _ in range(rng.randint(1, 3)):
        what.append(_mutate_element(rng, root))
    return ET.tostring(root), blob, "; ".join(what)


def _mutate_element(rng: random.Random, root: ET.Element) -> str:
    elements = list(root.iter())
    kind = rng.choice(["attr", "attr", "attr", "dim", "dim", "edge", "remove", "dup", "type"])
    if kind == "dim":
        dims = [e for e in elements if e.tag == "dim"]
        if dims:
            d = rng.choice(dims)
            d.text = rng.choice(EVIL_TEXT + [str(v) for v in EVIL_INTS])
            return f"dim -> {d.text!r}"
    if kind == "edge":
        edges = [e for e in elements if e.tag == "edge"]
        if edges:
            e = rng.choice(edges)
            key = rng.choice(["from-layer", "from-port", "to-layer", "to-port"])
            e.set(key, rng.choice([str(rng.randrange(8)), "-1", "x", "1.5", "99999999999999999999"]))
            return f"edge {key}={e.get(key)}"
    if kind == "type":
        data = [e for e in elements if e.tag == "data" and "element_type" in e.attrib]
        if data:
            d = rng.choice(data)
            d.set("element_type", rng.choice(["string", "dynamic", "u1", "i4", "u4", "f16", "bf16", "boolean",
                                              "f64", "i64", "FP32", "f8e4m3", "undefined", "nf4"]))
            return f"element_type {d.get('element_type')}"
    if kind in ("remove", "dup"):
        parents = [(p, c) for p in elements for c in p]
        parent, child = rng.choice(parents)
        if kind == "remove":
            parent.remove(child)
            return f"removed <{child.tag}>"
        parent.append(copy.deepcopy(child))
        return f"duplicated <{child.tag}>"
    candidates = [e for e in elements if e.attrib]
    e = rng.choice(candidates)
    key = rng.choice(list(e.attrib))
    if rng.random() < 0.1:
        del e.attrib[key]
        return f"<{e.tag}> lost {key}"
    value = e.get(key, "")
    choice = rng.randrange(4)
    if choice == 0:
        e.set(key, rng.choice(EVIL_TEXT))
    elif choice == 1 and "," in value:
        parts = value.split(",")
        parts[rng.randrange(len(parts))] = rng.choice(EVIL_TEXT[:8] + [str(v) for v in EVIL_INTS])
        e.set(key, ",".join(parts))
    else:
        e.set(key, str(rng.choice(EVIL_INTS)))
    return f"<{e.tag} {key}={e.get(key)!r}>"


# ---------------------------------------------------------------------------------------------------- npy
def mutate_npy(rng: random.Random, data: bytes) -> Mutation:
    """A `.npy` with its header edited (shape, dtype, version) or its bytes mutated."""
    if rng.random() < 0.5:
        return mutate_bytes(rng, data)
    header_end = data.index(b"\n") + 1
    header = data[:header_end].decode("latin1")
    choice = rng.randrange(4)
    if choice == 0:
        new = header.replace("(1, 4)", rng.choice(["(10000000000000,)", "(0, 4)", "(-1, 4)", "(1, 4, 1)", "()"]))
    elif choice == 1:
        new = header.replace("'<f4'", rng.choice(["'<f8'", "'|O'", "'<i8'", "'>f4'", "'<U3'", "'bogus'"]))
    elif choice == 2:
        new = header.replace("False", "True")
    else:
        return data[:6] + bytes([rng.choice([0, 1, 2, 3, 9])]) + data[7:], "npy version"
    pad = len(header) - len(new)
    new = new[:-1] + " " * max(pad, 0) + "\n" if pad >= 0 else new
    return new.encode("latin1") + data[header_end:], f"npy header {new.strip()!r}"

