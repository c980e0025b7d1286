"""ONNX -> IR: loads the model, checks every op has a translator (reporting all that do not at once),
then translates node by node in graph order."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx.checker import ValidationError

from irforge.errors import GraphError, IRForgeError, ModelReadError, UnsupportedOpsError
from irforge.frontends.onnx.context import NodeContext, UnsupportedAttribute
from irforge.frontends.onnx.external_data import ExternalData
from irforge.frontends.onnx.registry import find_translator
from irforge.frontends.onnx.types import value_info_type
from irforge.frontends.onnx.wire import rewrite
from irforge.ir.graph import Model, Node, Output, constant, parameter, result


class _Poisoned(Exception):
    """An input of this node comes from a node that failed with an unsupported attribute."""


def load_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load an ONNX file; its external data is checked (present, inside the model's folder) but not loaded: the
    converter maps it (irforge/frontends/onnx/external_data.py), and so are its large inline tensors, read as
    external data in the model file itself (irforge/frontends/onnx/wire.py). Missing, non-ONNX and truncated files, and
    external data that is missing or lies outside the model's folder, raise ModelReadError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ModelReadError(f"{p}: no such file")
    try:
        data = rewrite(str(p))
        model = onnx.load(str(p), load_external_data=False) if data is None else onnx.load_from_string(data)
        ExternalData(str(p.parent)).check(model)
    except ModelReadError as e:  # external data: missing, `../`, an absolute path, beyond the end of its file
        raise ModelReadError(f"{p}: bad external data ({_first_line(e)})") from None
    except ValidationError as e:  # external data: missing, `../`, an absolute path, beyond the end of its file
        raise ModelReadError(f"{p}: bad external data ({_first_line(e)})") from None
    except (DecodeError, ValueError, RuntimeError, OSError, TypeError, UnicodeDecodeError) as e:
        reason = _first_line(e) or "decode error"
        raise ModelReadError(f"{p}: not a valid ONNX model ({type(e).__name__}: {reason})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelReadError(f"{p}: not a valid ONNX model (empty or truncated graph)")
    return model


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


def check_names(model: onnx.ModelProto, source: str) -> None:
    """Names must be text. The protobuf hands back `bytes` for a string field that is not valid UTF-8: node
    and graph names (labels only; irforge keeps them unique) are decoded with U+FFFD replacement, in `model`
    itself; tensor names,
    op types, domains and attribute names (which wire the graph or select translators, where a lossy decoding
    could merge two different names) are rejected with an error naming the node."""
    _check_graph_names(model.graph, source)
    for imp in model.opset_import:
        if isinstance(imp.domain, bytes):
            raise ModelReadError(f"{source}: an opset_import domain {imp.domain!r} is not valid UTF-8")


def _check_graph_names(graph: onnx.GraphProto, source: str) -> None:
    if isinstance(graph.name, bytes):
        graph.name = graph.name.decode("utf-8", "replace")

    def check(value: object, what: str) -> None:
        if isinstance(value, bytes):
            raise ModelReadError(f"{source}: {what} {value!r} is not valid UTF-8")

    for kind, infos in (("input", graph.input), ("output", graph.output), ("value_info", graph.value_info),
                        ("initializer", graph.initializer)):
        for vi in infos:
            check(vi.name, f"graph '{graph.name}' {kind} name")
    for i, node in enumerate(graph.node):
        if isinstance(node.name, bytes):
            node.name = node.name.decode("utf-8", "replace")
        where = f"node '{node.name or '#' + str(i)}'"
        for name in list(node.input) + list(node.output):
            check(name, f"{where}: tensor name")
        check(node.op_type, f"{where}: op type")
        check(node.domain, f"{where}: domain")
        for a in node.attribute:
            check(a.name, f"{where}: attribute name")
            if a.type == onnx.AttributeProto.GRAPH:
                _check_graph_names(a.g, source)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    _check_graph_names(g, source)


def opset_map(model: onnx.ModelProto) -> dict[str, int]:
    out: dict[str, int] = {}
    for imp in model.opset_import:
        out["" if imp.domain in ("", "ai.onnx") else imp.domain] = imp.version
    if "" not in out:
        out[""] = onnx.defs.onnx_opset_version() if model.ir_version == 0 else 1
    return out


MIN_OPSET = 1  # the translators read the attribute forms of old opsets too, or report them as unsupported


def check_opset(opsets: dict[str, int], source: str) -> None:
    """The default domain's opset must be one irforge translates: MIN_OPSET to the newest the installed `onnx`
    knows."""
    newest = onnx.defs.onnx_opset_version()
    version = opsets[""]
    if not MIN_OPSET <= version <= newest:
        raise UnsupportedOpsError(f"{source}: ONNX opset {version} is not supported (irforge converts opsets "
                                  f"{MIN_OPSET} to {newest})")


def find_unsupported(graph: onnx.GraphProto, opsets: dict[str, int]) -> list[tuple[str, str]]:
    """(op type, node name) of every node, sub-graphs included, without a translator."""
    missing: list[tuple[str, str]] = []
    for i, node in enumerate(graph.node):
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        opset = opsets.get(domain)
        op = f"{domain + '.' if domain else ''}{node.op_type}"
        if opset is None or find_translator(domain, node.op_type, opset) is None:
            missing.append((op, node.name or f"#{i}"))
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                missing += find_unsupported(a.g, opsets)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    missing += find_unsupported(g, opsets)
    return missing


def format_unsupported(items: list[tuple[str, str]]) -> str:
    return ", ".join(f"{op} (node '{name}')" for op, name in items)


class GraphConverter:
    """Translates one ONNX graph (the main graph or a sub-graph with a `parent` scope) into a Model."""

    def __init__(self, graph: onnx.GraphProto, opsets: dict[str, int], parent: "GraphConverter | None" = None,
                 name: str = "model", inline: bool = False, base_dir: str = "") -> None:
        """`inline`: a sub-graph translated into its parent's graph (an If branch chosen at conversion time):
        outer values are used directly instead of through body Parameters. `base_dir`: the folder external
        data locations are relative to (the model file's; a sub-graph shares its parent's mappings)."""
        self.graph = graph
        self.external = parent.external if parent is not None else ExternalData(base_dir)
        self.inline = inline
        self.opsets = opsets
        self.parent = parent
        self.name = name
        self.values: dict[str, Output | None] = {}
        self.initializers = {t.name: t for t in graph.initializer}
        self.captured: list[tuple[Output, Node]] = []  # outer value, the body Parameter standing for it
        self.params: list[Node] = []
        self.failures: list[tuple[str, str, str]] = []  # (op, node name, reason)
        self.names: set[str] = set() if parent is None else parent.names
        self.producers: dict[str, str] = {}  # tensor name -> what produces it in this graph (SSA check)

    def unique_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def produce(self, tensor: str, by: str) -> None:
        """Record that `by` produces `tensor`: ONNX graphs are single-assignment, so a second producer (two
        nodes writing one tensor, a node writing a graph input or an initializer) is an error."""
        first = self.producers.get(tensor) or ("initializer" if tensor in self.initializers and
                                                by != "graph input" else None)
        if first is not None:
            raise GraphError(f"ONNX graph '{self.name}': tensor '{tensor}' is produced twice (by {first} and by {by})")
        self.producers[tensor] = by

    def get(self, name: str) -> Output:
        if name in self.values:
            v = self.values[name]
            if v is None:
                raise _Poisoned(name)
            return v
        if name in self.initializers:
            out = constant(self.external.to_array(self.initializers[name]), name=self.unique_name(name))
            out.names.add(name)
            self.values[name] = out
            return out
        if self.parent is not None:
            outer = self.parent.get(name)
            if self.inline:
                self.values[name] = outer
                return outer
            p = parameter(outer.element_type, outer.shape, self.unique_name(name))
            self.captured.append((outer, p))
            self.values[name] = p.output(0)
            return p.output(0)
        raise GraphError(f"ONNX graph '{self.name}': tensor '{name}' is used but never produced")

    def convert(self) -> Model:
        if not self.graph.output:
            raise GraphError(f"ONNX graph '{self.name}' has no outputs")
        for vi in self.graph.input:
            if vi.name in self.initializers:
                continue  # opset < 9 style: weights listed as inputs are constants
            et, shape = value_info_type(vi)
            self.produce(vi.name, "graph input")
            p = parameter(et, shape, self.unique_name(vi.name))
            p.output(0).names = {vi.name}
            self.params.append(p)
            self.values[vi.name] = p.output(0)
        for i, node in enumerate(self.graph.node):
            self.translate(node, i)
        if self.failures:
            raise UnsupportedOpsError(
                "Unsupported ONNX ops or attributes: " + "; ".join(f"{op} (node '{n}'): {why}" for op, n, why in self.failures))
        results: list[Node] = []
        for vi in self.graph.output:
            src = self.get(vi.name)
            src.names.add(vi.name)
            results.append(result(src, name=self.unique_name(f"{vi.name}/sink_port_0")))
        return Model(results, self.params + [p for _, p in self.captured], self.name)

    def translate(self, node: onnx.NodeProto, index: int) -> None:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        opset = self.opsets[domain]
        fn = find_translator(domain, node.op_type, opset)
        assert fn is not None  # find_unsupported ran first
        name = self.unique_name(node.name or f"{node.op_type}_{index}")
        for o in node.output:
            if o:
                self.produce(o, f"node '{name}'")
        ctx = NodeContext(self, node, opset, name)
        try:
            outs = fn(ctx)
        except _Poisoned:
            outs = None
        except UnsupportedAttribute as e:
            self.failures.append((node.op_type, name, str(e).split(": ", 1)[-1]))
            outs = None
        except IRForgeError as e:
            raise type(e)(f"ONNX node '{name}' ({node.op_type}): {e}") from e
        except Exception as e:
            raise GraphError(f"ONNX node '{name}' ({node.op_type}) failed to convert: {type(e).__name__}: {e}") from e
        if outs is None:
            for o in node.output:
                if o:
                    self.values[o] = None
            return
        if isinstance(outs, Output):
            outs = [outs]
        outs = list(outs)
        if outs and outs[0] is not None and outs[0].node in ctx.created:
            self.names.discard(outs[0].node.name)
            outs[0].node.name = name
        for oname, out in zip(node.output, outs):
            if oname and out is not None:
                out.names.add(oname)
                self.values[oname] = out
        missing = [o for o in node.output[len(outs):] if o]
        if missing:
            raise GraphError(f"ONNX node '{name}' ({node.op_type}): outputs {missing} are not supported")


def convert_model(model: "str | os.PathLike[str] | onnx.ModelProto") -> Model:
    """Convert an ONNX model (a path or a ModelProto) to an irforge Model."""
    proto, source = (model, "ONNX model") if isinstance(model, onnx.ModelProto) else (load_onnx(model), str(model))
    check_names(proto, source)
    name = (proto.graph.name or "model") if isinstance(model, onnx.ModelProto) else Path(model).stem
    base_dir = "" if isinstance(model, onnx.ModelProto) else str(Path(model).parent)
    opsets = opset_map(proto)
    check_opset(opsets, source)
    missing = find_unsupported(proto.graph, opsets)
    if missing:
        raise UnsupportedOpsError(f"Unsupported ONNX ops: {format_unsupported(missing)}")
    return GraphConverter(proto.graph, opsets, name=name, base_dir=base_dir).convert()


__all__ = ["convert_model", "load_onnx", "GraphConverter"]
