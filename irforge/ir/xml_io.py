"""OpenVINO IR v11 writer and reader, generic over each op's attribute schema (no per-op XML code).

Ops with sub-graphs (If, Loop) add their port maps and bodies through two optional hooks on the op:
`xml_write_extra(node, layer_el, write_body)` and `xml_read_extra(layer_el, attrs, read_body) -> bodies`,
where `write_body(model, el)` / `read_body(el) -> Model` write and read a nested `<layers>`/`<edges>` graph.
"""
from __future__ import annotations

import functools
import math
import mmap
import os
import re
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from irforge.errors import GraphError, ModelReadError
from irforge.ir.mapped import file_identity, register
from irforge.files import check_output_file, write_files
from irforge.ir.graph import Model, Node, Output, make
from irforge.ir.opset import Attr, OpSpec, all_ops, get_op
from irforge.ir.shape import PartialShape
from irforge.ir.types import ElementType, Type

IR_VERSION = "11"
Buffer = Any  # bytes, bytearray, memoryview, mmap: anything with the buffer protocol


# ---------------------------------------------------------------- attribute (de)serialization
INT64_MAX = (1 << 63) - 1


def _int(text: str | None, what: str) -> int:
    """An integer field of the file (a port id, an offset): ValueError naming `what` when it is not one."""
    try:
        v = int((text or "").strip())
    except ValueError:
        raise ValueError(f"{what} '{text}' is not an integer") from None
    if abs(v) > INT64_MAX:
        raise ValueError(f"{what} {text} does not fit in 64 bits")
    return v


def _check_dims(shape: PartialShape) -> PartialShape:
    if shape.rank_is_static:
        for d in shape.dims:
            if d.min > INT64_MAX or d.max > INT64_MAX:
                raise ValueError(f"dimension {d} does not fit in 64 bits")
    return shape


@functools.cache
def _max_opset() -> int:
    """The newest opset any registered op belongs to (a layer of a newer `version` is unknown)."""
    return max(_opset_number_of(o.version) for o in all_ops())


def _opset_number_of(version: str) -> int:
    digits = version.removeprefix("opset")
    return int(digits) if digits.isdigit() else 0


def format_attr(attr: Attr, value: Any) -> str:
    k = attr.kind
    if k == "bool":
        return "true" if value else "false"
    if k == "float":
        return repr(float(value))
    if k in ("ints", "shape"):
        return ", ".join(str(int(v)) for v in value)
    if k == "floats":
        return ", ".join(repr(float(v)) for v in value)
    if k == "strs":
        return ", ".join(value)
    if k == "type":
        return value.name
    if k == "pshape":
        return str(value)
    return str(value)


def parse_attr(attr: Attr, text: str) -> Any:
    k = attr.kind
    t = text.strip()
    if k == "bool":
        if t.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"'{text}' is not a boolean")
        return t.lower() in ("true", "1")
    if k == "int":
        return _int(t, "value")
    if k == "float":
        return float(t)
    if k in ("ints", "shape"):
        return [_int(v, "value") for v in t.replace(" ", "").split(",") if v] if t else []
    if k == "floats":
        return [float(v) for v in t.replace(" ", "").split(",") if v] if t else []
    if k == "strs":
        return [v.strip() for v in t.split(",") if v.strip()]
    if k == "type":
        return Type.from_name(t)
    if k == "pshape":
        return _check_dims(PartialShape.parse(t))
    return attr.coerce(text)


def _escape_names(names: set[str]) -> str:
    return ",".join(n.replace(",", "\\,") for n in sorted(names))


def _split_names(text: str) -> set[str]:
    out, cur, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == ",":
            cur += ","
            i += 2
            continue
        if ch == ",":
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return {n for n in out if n}


# ---------------------------------------------------------------- packing of constant data
def pack_constant(data: np.ndarray, et: ElementType) -> bytes | memoryview:
    """Raw .bin bytes of a Constant: little-endian; u4/i4 two per byte (low nibble first); u1 MSB first. Plain
    data comes back as a byte view of the array (no copy of large weights)."""
    flat = np.ascontiguousarray(data).reshape(-1)
    if et.name in ("u4", "i4"):
        nib = (flat.astype(np.int16) & 0xF).astype(np.uint8)
        if nib.size % 2:
            nib = np.concatenate([nib, np.zeros(1, np.uint8)])
        return (nib[0::2] | (nib[1::2] << 4)).tobytes()
    if et.name == "u1":
        return np.packbits(flat.astype(bool)).tobytes()
    if et.name == "string":
        raise GraphError("string constants are not supported in IR files")
    if flat.dtype.byteorder == ">":
        flat = flat.astype(flat.dtype.newbyteorder("<"))
    return memoryview(flat.view(np.uint8))


def unpack_constant(raw: Buffer, et: ElementType, shape: list[int]) -> np.ndarray:
    """A Constant's value from its raw .bin bytes. Plain types come back as a read-only view of `raw` (a slice of
    the mapped .bin or of the weights buffer given: no copy); only sub-byte types (unpacked), booleans
    (normalized to 0/1) and data not aligned for its dtype get a buffer of their own, read-only as well."""
    count = math.prod(shape)
    if et.name in ("u4", "i4"):
        b = np.frombuffer(raw, np.uint8)
        nib = np.empty(b.size * 2, np.uint8)
        nib[0::2], nib[1::2] = b & 0xF, b >> 4
        nib = nib[:count]
        vals = nib.astype(np.int8) if et.name == "u4" else ((nib.astype(np.int8) ^ 8) - 8)
        return _read_only(vals.astype(et.dtype).reshape(shape))
    if et.name == "u1":
        return _read_only(np.unpackbits(np.frombuffer(raw, np.uint8))[:count].reshape(shape))
    if et.name == "boolean":
        return _read_only((np.frombuffer(raw, np.uint8, count) != 0).reshape(shape))
    assert et.dtype is not None
    arr = np.frombuffer(raw, et.dtype, count).reshape(shape)
    if not arr.flags.aligned:
        arr = arr.copy()
    return _read_only(arr)


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def constant_nbytes(et: ElementType, shape: list[int]) -> int:
    count = math.prod(shape)
    return (count * et.bits + 7) // 8


# ---------------------------------------------------------------- writer
class _Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.size = 0
        self.by_length: dict[int, list[tuple[int, bytes | memoryview]]] = {}  # stored blobs, for de-duplication

    def store(self, data: bytes | memoryview) -> int:
        """The .bin offset of `data`, appended unless an identical blob is there already (only blobs of the same
        length are compared, so unique weights are never hashed)."""
        same_length = self.by_length.setdefault(len(data), [])
        for offset, other in same_length:
            if other == data:
                return offset
        offset = self.size
        self.chunks.append(data)
        self.size += len(data)
        same_length.append((offset, data))
        return offset

    def graph(self, model: Model, parent: ET.Element) -> dict[int, int]:
        """Write `<layers>` and `<edges>` of `model` under `parent`; returns node uid -> layer id."""
        nodes = model.nodes()
        ids = {n.uid: i for i, n in enumerate(nodes)}
        layers = ET.SubElement(parent, "layers")
        for n in nodes:
            self.layer(n, ids[n.uid], layers)
        edges = ET.SubElement(parent, "edges")
        for n in nodes:
            for i, src in enumerate(n.inputs):
                ET.SubElement(edges, "edge", {
                    "from-layer": str(ids[src.node.uid]),
                    "from-port": str(len(src.node.inputs) + src.index),
                    "to-layer": str(ids[n.uid]),
                    "to-port": str(i),
                })
        return ids

    def layer(self, n: Node, lid: int, layers: ET.Element) -> None:
        attrib = {"id": str(lid), "name": n.name, "type": n.op.ir_type, "version": n.op.version}
        if n.type == "Result":
            attrib["output_names"] = _escape_names(n.inputs[0].names)
        el = ET.SubElement(layers, "layer", attrib)
        data: dict[str, str] = {}
        for a in n.op.attrs:
            if a.kind != "object" and n.attrs.get(a.name) is not None:
                data[a.name] = format_attr(a, n.attrs[a.name])
        if n.type == "Constant":
            assert n.data is not None, n.name
            # an empty constant still gets one byte, as OpenVINO writes it (its reader rejects an empty .bin)
            raw = pack_constant(n.data, n.attrs["element_type"]) or b"\0"
            data["offset"] = str(self.store(raw))
            data["size"] = str(len(raw))
        if data or n.type == "Parameter":
            ET.SubElement(el, "data", data)
        _write_rt_info(el, n.rt_info)
        if n.inputs:
            inp = ET.SubElement(el, "input")
            for i, src in enumerate(n.inputs):
                _port(inp, i, src.element_type, src.shape, None, {})
        if n.outputs:
            outp = ET.SubElement(el, "output")
            for out in n.outputs:
                _port(outp, len(n.inputs) + out.index, out.element_type, out.shape, out.names, out.rt_info)
        hook = getattr(n.op, "xml_write_extra", None)
        if hook is not None:
            hook(n, el, self.graph)


def _write_rt_info(el: ET.Element, rt_info: dict[str, Any]) -> None:
    if not rt_info:
        return
    rt = ET.SubElement(el, "rt_info")
    for name, fields in rt_info.items():
        ET.SubElement(rt, "attribute", {"name": name, **{k: str(v) for k, v in fields.items()}})


def _read_rt_info(el: ET.Element) -> dict[str, dict[str, str]]:
    rt = el.find("rt_info")
    if rt is None:
        return {}
    return {a.get("name", ""): {k: v for k, v in a.attrib.items() if k != "name"} for a in rt.findall("attribute")}


def _port(parent: ET.Element, pid: int, et: ElementType, shape: PartialShape, names: set[str] | None,
          rt_info: dict[str, Any]) -> None:
    attrib = {"id": str(pid), "precision": et.precision}
    if names:
        attrib["names"] = _escape_names(names)
    port = ET.SubElement(parent, "port", attrib)
    _write_rt_info(port, rt_info)
    if shape.rank_is_static:
        for d in shape.dims:
            ET.SubElement(port, "dim").text = str(d.to_int())


# characters XML 1.0 cannot hold, not even escaped (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _make_xml_safe(root: ET.Element) -> None:
    """Replace characters XML cannot hold (in names that came from other formats: an ONNX node named with an
    ANSI escape) by U+FFFD, so the file stays readable, by irforge and by OpenVINO."""
    for el in root.iter():
        for k, v in el.attrib.items():
            if _NOT_XML.search(v):
                el.set(k, _NOT_XML.sub("\ufffd", v))
        if el.text and _NOT_XML.search(el.text):
            el.text = _NOT_XML.sub("\ufffd", el.text)


def _serialize(model: Model) -> tuple[bytes, list[bytes | memoryview]]:
    """IR v11 of `model`: the xml bytes and the chunks of the .bin, in order."""
    w = _Writer()
    net = ET.Element("net", {"name": model.name, "version": IR_VERSION})
    w.graph(model, net)
    for raw in model.rt_info.get("xml", []):
        rt = net.find("rt_info")
        if rt is None:
            rt = ET.SubElement(net, "rt_info")
        rt.append(raw)
    _make_xml_safe(net)
    tree = ET.ElementTree(net)
    ET.indent(tree, space="\t")
    body = ET.tostring(net, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0"?>\n' + body + "\n").encode("utf-8"), w.chunks


def model_to_xml(model: Model) -> tuple[bytes, bytes]:
    """Serialize `model` to IR v11: (xml bytes, bin bytes)."""
    xml, chunks = _serialize(model)
    return xml, b"".join(chunks)


def ir_paths(xml_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The `.xml` and `.bin` paths an IR saved as `xml_path` gets (`.xml` appended when missing)."""
    xml = Path(xml_path)
    if xml.suffix != ".xml":
        xml = xml.with_suffix(".xml")
    return xml, xml.with_suffix(".bin")


def ir_files(model: Model, xml_path: str | os.PathLike[str]) -> list[tuple[Path, list[bytes | memoryview]]]:
    """The (path, content chunks) pairs of `model` saved as `xml_path`: the `.bin` first, then the `.xml`, ready
    for `irforge.files.write_files` (which can add more files, such as a report, to the same atomic group)."""
    xml, bin_path = ir_paths(xml_path)
    xml_bytes, bin_chunks = _serialize(model)
    return [(bin_path, bin_chunks), (xml, [xml_bytes])]


def save_model(model: Model, xml_path: str | os.PathLike[str]) -> None:
    """Write `xml_path` and the `.bin` beside it, all or nothing (see `irforge.files.write_files`): written to
    temporary names and renamed, with the permissions a normally created file gets; a target that cannot be
    written raises OutputError before anything is written."""
    for path in ir_paths(xml_path):
        check_output_file(path, "IR")
    write_files(ir_files(model, xml_path), "IR")


# ---------------------------------------------------------------- reader
class _Reader:
    def __init__(self, blob: memoryview, source: str) -> None:
        self.blob = blob
        self.source = source

    def fail(self, msg: str) -> ModelReadError:
        return ModelReadError(f"{self.source}: {msg}")

    def graph(self, parent: ET.Element, name: str = "model") -> Model:
        layers_el = parent.find("layers")
        if layers_el is None:
            raise self.fail("no <layers> element")
        layers: dict[str, ET.Element] = {}
        for el in layers_el.findall("layer"):
            lid = el.get("id")
            if lid is None or el.get("name") is None or el.get("type") is None or el.get("version") is None:
                raise self.fail(f"layer {el.get('name') or lid!r} lacks id, name, type or version")
            if lid in layers:
                raise self.fail(f"layers '{layers[lid].get('name')}' and '{el.get('name')}' have the same id {lid}")
            layers[lid] = el
        incoming = self.edges(parent, layers)
        nodes: dict[str, Node] = {}
        for lid in layers:
            self.build(lid, layers, incoming, nodes)
        params = [nodes[lid] for lid in layers if nodes[lid].type == "Parameter"]
        results = [nodes[lid] for lid in layers if nodes[lid].type == "Result"]
        return Model(results, params, name)

    def edges(self, parent: ET.Element, layers: dict[str, ET.Element]) -> dict[str, list[tuple[str, int]]]:
        """Layer id -> its (producer layer id, producer port) per input port, in port order."""
        incoming: dict[str, dict[int, tuple[str, int]]] = {lid: {} for lid in layers}
        edges_el = parent.find("edges")
        for e in edges_el.findall("edge") if edges_el is not None else []:
            fl, fp, tl, tp = (e.get(k) for k in ("from-layer", "from-port", "to-layer", "to-port"))
            if fl not in layers or tl not in layers or fp is None or tp is None:
                raise self.fail(f"edge {fl}:{fp} -> {tl}:{tp} names an unknown layer")
            try:
                from_port, to_port = _int(fp, "from-port"), _int(tp, "to-port")
            except ValueError as err:
                raise self.fail(f"edge {fl}:{fp} -> {tl}:{tp}: {err}") from None
            if to_port in incoming[tl]:
                raise self.fail(f"layer '{layers[tl].get('name')}' input port {to_port} has two incoming edges")
            incoming[tl][to_port] = (fl, from_port)
        out: dict[str, list[tuple[str, int]]] = {}
        for lid, ins in incoming.items():
            if sorted(ins) != list(range(len(ins))):
                raise self.fail(f"layer '{layers[lid].get('name')}' has gaps in its input ports {sorted(ins)}")
            out[lid] = [ins[port] for port in range(len(ins))]
        return out

    def build(self, root: str, layers: dict[str, ET.Element], incoming: dict[str, list[tuple[str, int]]],
              nodes: dict[str, Node]) -> None:
        """Create layer `root` after its producers, depth first without recursion (an IR may list thousands of
        layers consumers first)."""
        if root in nodes:
            return
        visiting = {root}
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            lid, port = stack[-1]
            if port < len(incoming[lid]):
                stack[-1] = (lid, port + 1)
                producer = incoming[lid][port][0]
                if producer in nodes:
                    continue
                if producer in visiting:
                    raise self.fail(f"cycle through layer '{layers[producer].get('name')}'")
                visiting.add(producer)
                stack.append((producer, 0))
                continue
            stack.pop()
            visiting.discard(lid)
            el = layers[lid]
            srcs = []
            for fl, fp in incoming[lid]:
                producer_node = nodes[fl]
                idx = _output_index(layers[fl], fp, len(producer_node.inputs))
                if not 0 <= idx < len(producer_node.outputs):
                    raise self.fail(f"edge into layer '{el.get('name')}' names undeclared port {fp} of "
                                    f"layer '{producer_node.name}'")
                srcs.append(producer_node.outputs[idx])
            nodes[lid] = self.layer(el, srcs)

    def layer(self, el: ET.Element, srcs: list[Output]) -> Node:
        """One layer as a Node; anything malformed in it is a ModelReadError naming the layer."""
        lname = el.get("name", "")
        try:
            return self._layer(el, srcs)
        except ModelReadError:
            raise
        except GraphError as e:
            raise self.fail(f"layer '{lname}': {e}") from None
        except Exception as e:  # malformed numbers or structure anywhere in the layer (or its bodies)
            raise self.fail(f"layer '{lname}' ({el.get('type')}): malformed layer ({type(e).__name__}: {e})") from None

    def _layer(self, el: ET.Element, srcs: list[Output]) -> Node:
        lname, ltype, lver = el.get("name", ""), el.get("type", ""), el.get("version", "")
        try:
            op = get_op(ltype, lver)
        except GraphError:
            raise self.fail(f"layer '{lname}': unknown op type '{ltype}' (version {lver})") from None
        if lver.startswith("opset") and _opset_number_of(lver) > _max_opset():
            raise self.fail(f"layer '{lname}': unknown version '{lver}' of op type '{ltype}'")
        data = el.find("data")
        raw = dict(data.attrib) if data is not None else {}
        if op.type_name == "Parameter" and data is None:
            raise self.fail(f"Parameter layer '{lname}' has no <data>")
        attrs = self.attrs(op, raw, lname)
        extra = getattr(op, "xml_read_extra", None)
        bodies = extra(el, attrs, self.graph) if extra is not None else []
        try:
            node = make(op.type_name, srcs, name=lname, version=op.version, **attrs) if op.type_name != "Constant" \
                else self.constant(op, raw, attrs, lname)
        except GraphError as e:
            raise self.fail(f"layer '{lname}': {e}") from None
        if bodies:
            node.bodies = bodies
            node.infer()
        node.rt_info = _read_rt_info(el)
        out_el = el.find("output")
        ports = out_el.findall("port") if out_el is not None else []
        for port in ports:
            if port.get("precision") is None:
                raise self.fail(f"layer '{lname}' output port {port.get('id')} has no precision")
            for dim in port.findall("dim"):
                try:
                    ok = _int(dim.text, "dim") >= -1
                except ValueError:
                    ok = False
                if not ok:
                    raise self.fail(f"layer '{lname}' port {port.get('id')}: bad <dim> '{dim.text}'")
        for position, port in enumerate(ports):
            try:
                _int(port.get("id", "0"), "port id")
            except ValueError as e:
                raise self.fail(f"layer '{lname}' output port: {e}") from None
            idx = position
            if 0 <= idx < len(node.outputs):
                node.outputs[idx].names = _split_names(port.get("names", ""))
                node.outputs[idx].rt_info = _read_rt_info(port)
        return node

    def attrs(self, op: OpSpec, raw: dict[str, str], lname: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in op.attrs:
            if a.kind == "object":
                continue
            if a.name in raw:
                try:
                    out[a.name] = parse_attr(a, raw[a.name])
                except ValueError as e:
                    raise self.fail(f"layer '{lname}' ({op.ir_type}): attribute '{a.name}'='{raw[a.name]}': {e}") from None
        known = {a.name for a in op.attrs} | ({"offset", "size"} if op.type_name == "Constant" else set())
        unknown = sorted(set(raw) - known)
        if unknown:
            raise self.fail(f"layer '{lname}' ({op.ir_type}): unsupported attribute(s) {', '.join(unknown)}")
        return out

    def constant(self, op: OpSpec, raw: dict[str, str], attrs: dict[str, Any], lname: str) -> Node:
        if "element_type" not in raw or raw["element_type"] != raw["element_type"].lower():
            raise self.fail(f"Const layer '{lname}': element_type missing or not lower-case")
        try:
            offset, size = _int(raw.get("offset"), "offset"), _int(raw.get("size"), "size")
        except ValueError:
            raise self.fail(f"Const layer '{lname}': missing or bad offset/size") from None
        et, shape = attrs["element_type"], attrs.get("shape", [])
        if et.dtype is None or et.bits == 0:
            raise self.fail(f"Const layer '{lname}': element_type '{et}' cannot be stored in a .bin")
        negative = [d for d in shape if d < 0]
        if negative:  # as OpenVINO's reader: a Const shape is static
            raise self.fail(f"Const layer '{lname}': negative dimension {negative[0]} in shape {shape}")
        need = constant_nbytes(et, shape)
        if offset < 0 or size < 0 or offset + size > len(self.blob):
            raise self.fail(f"Const layer '{lname}': data at offset {offset} size {size} lies beyond the end of the "
                            f".bin ({len(self.blob)} bytes)")
        if size < need:
            raise self.fail(f"Const layer '{lname}': size {size} is smaller than {need} bytes for {et}[{shape}]")
        node = make("Constant", [], name=lname, **attrs)
        node.data = unpack_constant(self.blob[offset:offset + size], et, shape)
        return node


def _output_index(layer: ET.Element, port_id: int, n_inputs: int) -> int:
    """Which output of `layer` its port `port_id` is: its position among the layer's `<output>` ports, as
    OpenVINO's reader takes it (OpenVINO numbers ports across inputs and outputs, and an absent optional input still
    takes its number: LSTMCell-1 without peepholes has outputs 7 and 8 after 6 inputs); a layer that declares no
    output ports counts them after its inputs."""
    out = layer.find("output")
    ids = [p.get("id") for p in out.findall("port")] if out is not None else []
    if str(port_id) in ids:
        return ids.index(str(port_id))
    return -1 if ids else port_id - n_inputs


def weights_view(data: Buffer) -> memoryview:
    """A read-only byte view of a weights buffer (bytes, bytearray, memoryview, mmap, NumPy array): Constants
    read from it are views into it, not copies. A buffer that is not contiguous is copied once."""
    if isinstance(data, np.ndarray):  # a Tensor's memory (any dtype, ml_dtypes' included)
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view.toreadonly()


def map_weights(path: str | os.PathLike[str]) -> memoryview:
    """The file at `path` mapped read-only (an empty file: an empty view). Constants read from the view keep the
    mapping alive; it goes away with the last of them. Saving over the file later is fine: irforge writes a new
    file and renames it over the old one, whose inode the mapping keeps until then."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):  # a pipe or device: read it
            return memoryview(f.read())
        if st.st_size == 0:
            return memoryview(b"")
        kwargs: dict[str, Any] = {"trackfd": False} if sys.version_info >= (3, 13) else {}
        try:
            mapped = register(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ, **kwargs),
                              file_identity(os.fspath(path), st))
        except (OSError, ValueError):  # a file system that cannot map files
            return memoryview(f.read())
    return memoryview(mapped)


def model_from_xml(xml_bytes: bytes, bin_bytes: Buffer, source: str = "<memory>") -> Model:
    """A Model from IR XML and its weights (any buffer: bytes, a memoryview, a mapped file); Constant values
    are read-only views into `bin_bytes`."""
    head = xml_bytes[:512]
    if b"<net" not in head:
        raise ModelReadError(f"{source}: not an IR file (no <net> element at the start)")
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as e:
        raise ModelReadError(f"{source}: not valid XML ({e})") from None
    if root.tag != "net" or root.get("version") not in ("10", "11"):
        raise ModelReadError(f"{source}: not an IR v10/v11 file (root <{root.tag}> version {root.get('version')})")
    reader = _Reader(weights_view(bin_bytes), source)
    model = reader.graph(root, root.get("name", "model"))
    if not model.results:
        raise ModelReadError(f"{source}: the model has no Result layer (no outputs)")
    rt = root.find("rt_info")
    if rt is not None:
        model.rt_info["xml"] = list(rt)
    return model


def read_model(xml_path: str | os.PathLike[str], bin_path: str | os.PathLike[str] | None = None) -> Model:
    """Read an IR `.xml` and its `.bin`: `bin_path` when given (it must exist), else the `.bin` beside the `.xml`
    (none there: an IR without weights). The `.bin` is mapped, not read: Constants are read-only views of it."""
    xml_path = Path(xml_path)
    if not xml_path.is_file():
        raise ModelReadError(f"{xml_path}: no such file")
    bpath = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    if bin_path is not None and not bpath.is_file():
        raise ModelReadError(f"{bpath}: no such weights file (given for {xml_path})")
    try:
        blob = map_weights(bpath) if bpath.is_file() else memoryview(b"")
        xml = xml_path.read_bytes()
    except (OSError, ValueError) as e:  # ValueError: mmap of something that cannot be mapped
        name = getattr(e, "filename", None) or xml_path
        reason = getattr(e, "strerror", None) or str(e)
        raise ModelReadError(f"{xml_path}: cannot read {name} ({reason})") from None
    return model_from_xml(xml, blob, str(xml_path))


WriteBody = Callable[[Model, ET.Element], dict[int, int]]
ReadBody = Callable[[ET.Element], Model]
