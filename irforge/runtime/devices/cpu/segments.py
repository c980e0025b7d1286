"""Traced segments: runs of consecutive torch-lowered steps compiled into one TorchScript graph with oneDNN Graph
fusion (torch's LLGA fuser).

Why: torch's eager oneDNN ops (`torch.ops.mkldnn._convolution_pointwise` and friends) create a oneDNN primitive
descriptor on every call (50-300 us each: brgconv picks its blocking per call), and every step pays Python and
dispatcher overhead. A compiled oneDNN Graph partition is created once and executed with neither; the TorchScript
interpreter runs the ops between partitions without Python. On ResNet-50 this is the difference between 1.25x and
~1.0x OpenVINO's time; on small models (MobileNetV3) about 2x.

How: each step carries `trace_fn`, its computation in plain ATen ops without writing into its inputs (what LLGA
recognizes: conv2d, linear, matmul, pooling, the activations and element-wise ops). A maximal run of such steps
becomes a Segment. At its first execution (with the real inputs; concurrent first executions wait) the segment is
traced with those inputs and frozen; its trace functions run once eagerly (the expected values, timed), the frozen
module once to be profiled and once with LLGA fusion enabled (the run that builds and compiles the partitions; the
optimized graph is cached in the module and the process-wide fusion flag is restored afterwards), and once more
(timed) to check its outputs against the expected ones: four runs of the segment's work on the first inference, no
more. A piece that fails to trace or disagrees is bisected, so that a step oneDNN Graph rejects runs eagerly between
compiled pieces. Plans are specialized to static shapes, so a trace (which fixes shapes and layouts) stays valid for
its plan.

Which path runs is a rule, not a race: the runs worth compiling are chosen by what they hold (`worth_compiling`),
and a piece that traced and agrees runs compiled unless it is pathologically slow. (The earlier keep-if-3%-faster
timing flipped between runs on a loaded machine. Measured over the zoo at 1 thread, compiled/eager is 0.43-0.82 on
the chosen segments once the trace functions keep layouts consistent: convolution traces take channels-last
weights, so every partition boundary stays NHWC; a global average pool is traced as avg_pool2d and a HardSigmoid
gate as a clamp folded into its convolution, so squeeze-excite blocks stay inside oneDNN Graph.) The guard uses
the two timed runs above, no extra ones (thread CPU time with one thread, which preemption does not inflate): a
compiled piece is dropped, its steps run eagerly, only when its checked run takes more than SLOWER_LIMIT times the
eager run of its trace functions (which is a cold run: first calls of ATen's oneDNN ops build their primitives, so
the comparison leans towards compiling). oneDNN Graph does have partitions 10-100x slower than ATen (a lone
eltwise+binary partition on a [1, 80, 25600] tensor: 200 ms against 2.5 ms), while chosen segments measure
0.4-1.0x, so load does not decide. Set IRFORGE_CPU_GRAPH=0 to run every step eagerly."""
from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from irforge.errors import IRForgeError
from irforge.ir.mapped import release_address

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.plan import Step

SLOWER_LIMIT = 4.0  # a compiled piece slower than this many times its eager run is dropped (see the docstring)
# a compiled segment must reproduce the eager steps this closely (relative, and absolute per output scale);
# oneDNN Graph's GELU(tanh) misses it by ~2e-4, so segments holding one stay eager
AGREE_RTOL = 1e-4
AGREE_ATOL = 1e-5


def enabled() -> bool:
    return os.environ.get("IRFORGE_CPU_GRAPH", "1") != "0"


class StepFailed(Exception):
    """A step inside a segment raised: `step` is the one that failed (the plan names it), `cause` what it raised.
    A compiled piece that raises is rerun eagerly, step by step, on its inputs to find that step (error path only);
    when the eager rerun succeeds the failure belongs to the compiled piece, and `step` is its first step with
    `note` saying so."""

    def __init__(self, step: "Step", cause: BaseException, note: str = "") -> None:
        super().__init__(str(cause))
        self.step, self.cause, self.note = step, cause, note


class _Piece:
    """Part of a compiled segment: a traced module over `ins` -> `outs`, or one step run eagerly."""

    def __init__(self, module: Any, ins: list[int], outs: list[int], eager: Callable[[list[Any]], None] | None,
                 first: int = 0, stop: int = 0) -> None:
        self.module, self.ins, self.outs, self.eager = module, ins, outs, eager
        self.first, self.stop = first, stop  # the steps it computes: [first, stop) of its segment
        # the frozen module's compiled method, called directly: nn.Module.__call__ (hook and tracing-state checks)
        # cost ~10-40 us per call
        self.forward = getattr(module, "forward", None)

    def run(self, env: list[Any]) -> None:
        if self.eager is not None:
            self.eager(env)
            return
        res = self.forward(*[env[k] for k in self.ins])  # type: ignore[misc]
        for k, v in zip(self.outs, res):
            env[k] = v


class Segment:
    """Steps [start, stop) of a plan: reads `in_slots` (values from before the segment) and writes `out_slots`
    (the values read after it). Compiled, it is a list of pieces: normally one traced module; where oneDNN Graph
    or TorchScript rejects an op, the range is bisected so that only that step runs eagerly."""

    def __init__(self, steps: Sequence["Step"], start: int, stop: int, in_slots: list[int], out_slots: list[int]
                 ) -> None:
        self.steps = list(steps)
        self.start, self.stop = start, stop
        self.in_slots, self.out_slots = in_slots, out_slots
        self.pieces: list[_Piece] | None = None
        self.state = "pending"  # pending -> compiled | eager
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.steps[0].name

    def run(self, env: list[Any], eager: Sequence[Callable[[list[Any]], None]]) -> None:
        pieces = self.pieces
        if pieces is None and self.state == "pending":
            with self._lock:  # concurrent first runs wait: every inference of a plan takes the same path
                if self.state == "pending":
                    self._compile(env, eager)
            pieces = self.pieces
        if pieces is not None:
            for p in pieces:
                try:
                    p.run(env)
                except IRForgeError:
                    raise
                except Exception as e:  # noqa: BLE001 - name the step that failed (error path only)
                    raise self._failed_piece(p, env, eager, e) from e
            return
        for i, r in enumerate(eager):
            try:
                r(env)
            except IRForgeError:
                raise
            except Exception as e:  # noqa: BLE001
                raise StepFailed(self.steps[i], e) from e

    def _failed_piece(self, p: _Piece, env: list[Any], eager: Sequence[Callable[[list[Any]], None]],
                      error: Exception) -> Exception:
        """The StepFailed for piece `p`, which raised `error`: its steps rerun eagerly on its inputs (still in `env`:
        a piece writes its outputs only after it ran) to find the one that fails."""
        if p.eager is not None or p.stop <= p.first:
            return StepFailed(self.steps[p.first], error)
        scratch = list(env)  # the rerun must not disturb what the caller's env holds
        for k in p.ins:
            v = scratch[k]
            scratch[k] = v.clone() if isinstance(v, torch.Tensor) else v
        for i in range(p.first, p.stop):
            try:
                eager[i](scratch)
            except IRForgeError as e:
                return e
            except Exception as e:  # noqa: BLE001
                return StepFailed(self.steps[i], e)
        last = self.steps[p.stop - 1]
        return StepFailed(self.steps[p.first], error, f"in the compiled piece of steps '{self.steps[p.first].name}'"
                          f" to '{last.name}', which run eagerly without error")

    def _compile(self, env: list[Any], eager: Sequence[Callable[[list[Any]], None]]) -> None:
        """Trace, warm up and check the pieces on this inference's inputs and keep them when some piece compiled;
        the caller then runs the chosen path (also for this inference)."""
        with torch.inference_mode(False):
            values = {k: _detached(env[k]) for k in self.in_slots}
        try:
            with torch.inference_mode(False), torch.no_grad():
                pieces = self._pieces(0, len(self.steps), values, eager)
            keep = any(p.eager is None for p in pieces)
        except Exception:  # noqa: BLE001 - the eager steps still run
            keep = False
        if keep:
            self.pieces = pieces
            _release_mapped_constants(pieces)
        self.state = "compiled" if keep else "eager"

    def _pieces(self, a: int, b: int, values: dict[int, Any], eager: Sequence[Callable[[list[Any]], None]]
                ) -> list[_Piece]:
        """Compile steps [a, b) given the values of the slots they read (updated with the slots they write)."""
        ins, outs = self._io(a, b)
        example = tuple(values[k] for k in ins)
        clock = _clock()
        t0 = clock()
        expected = _run_functional(self.steps[a:b], values, outs)
        eager_s = clock() - t0
        try:
            module = _trace(_function(self.steps[a:b], ins, outs), example)
            t0 = clock()
            got = module(*example)
            compiled_s = clock() - t0
            if _agree(got, [expected[k] for k in outs]):
                values.update(expected)
                del got
                if compiled_s > SLOWER_LIMIT * eager_s:  # pathological partitions: these steps run eagerly
                    return [_Piece(None, *self._io(i, i + 1), eager[i], i, i + 1) for i in range(a, b)]
                return [_Piece(module, ins, outs, None, a, b)]
        except Exception:  # noqa: BLE001 - bisect below
            pass
        if b - a == 1:
            values.update(expected)
            return [_Piece(None, ins, outs, eager[a], a, b)]
        mid = (a + b) // 2
        left = self._pieces(a, mid, values, eager)
        return left + self._pieces(mid, b, values, eager)

    def _io(self, a: int, b: int) -> tuple[list[int], list[int]]:
        """Slots steps [a, b) read from before them, and slots they write that are read after them."""
        written: set[int] = set()
        ins: list[int] = []
        for s in self.steps[a:b]:
            ins += [k for k in s.ins if k not in written and k not in ins]
            written.update(s.outs)
        outs: list[int] = []
        decided: set[int] = set()
        for s in self.steps[b:]:
            outs += [k for k in s.ins if k in written and k not in decided and k not in outs]
            decided.update(s.ins)
            decided.update(s.outs)
        outs += [k for k in self.out_slots if k in written and k not in decided and k not in outs]
        return ins, outs


def _function(steps: Sequence["Step"], ins: list[int], outs: list[int]) -> Callable[..., tuple[Any, ...]]:
    """Steps as a Python function of the `ins` slot values returning the `outs` slot values (trace functions)."""
    plan = [(s.trace_fn, s.ins, s.outs, s.multi) for s in steps]

    def run(*values: Any) -> tuple[Any, ...]:
        env = dict(zip(ins, values))
        for fn, i, o, multi in plan:
            res = fn(*[env[k] for k in i])  # type: ignore[misc]
            if multi:
                for k, v in zip(o, res):
                    env[k] = v
            else:
                env[o[0]] = res
        return tuple(env[k] for k in outs)
    return run


def _run_functional(steps: Sequence["Step"], values: dict[int, Any], outs: list[int]) -> dict[int, Any]:
    """The values of the `outs` slots that the steps' trace functions write, from `values` (which they do not
    modify). An intermediate is dropped after its last read, so a segment's whole set of activations is never
    alive at once."""
    last: dict[int, int] = {}
    for i, s in enumerate(steps):
        for k in s.ins:
            last[k] = i
    keep = set(outs)
    env = dict(values)
    for i, s in enumerate(steps):
        res = s.trace_fn(*[env[k] for k in s.ins])  # type: ignore[misc]
        for k, v in zip(s.outs, res if s.multi else (res,)):
            env[k] = v
        for k in s.ins:
            if last.get(k) == i and k not in keep and k not in values and k not in s.outs:
                del env[k]
    return {k: env[k] for k in outs}


def _detached(v: Any) -> Any:
    return v.clone() if isinstance(v, torch.Tensor) else v


_FUSION_FLAG = threading.Lock()  # LLGA's switch is process-wide: one segment warms up at a time


def _trace(fn: Callable[..., tuple[Any, ...]], example: tuple[Any, ...]) -> Any:
    with _FUSION_FLAG:
        return _trace_locked(fn, example)


def _release_mapped_constants(pieces: Sequence[_Piece]) -> None:
    """oneDNN Graph keeps its own reordered copy of each constant weight once a partition has run; a frozen
    constant that views the mapped `.bin` (a MatMul weight read as stored) is read again only if the graph falls
    back to its unfused path, so its pages can leave the resident set now (they come back from the page cache if
    that ever happens)."""
    for p in pieces:
        graph = getattr(p.module, "graph", None)
        if graph is None:
            continue
        for node in graph.nodes():
            if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType":
                t = node.output().toIValue()
                if isinstance(t, torch.Tensor) and t.numel() > 1:
                    release_address(t.data_ptr(), t.numel() * t.element_size())


def _clock() -> Callable[[], float]:
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def _trace_locked(fn: Callable[..., tuple[Any, ...]], example: tuple[Any, ...]) -> Any:
    """The frozen module, profiled and optimized: TorchScript's profiling executor records shapes on the first run
    and builds the optimized graph (here with LLGA fusion on, which compiles the oneDNN Graph partitions) on the
    second; later runs reuse that graph whatever the fusion flag says."""
    previous = torch._C._jit_llga_enabled()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings: shapes and layouts are static in a plan by design
        frozen = torch.jit.freeze(_traced_module(fn, example))
        frozen(*example)
        torch.jit.enable_onednn_fusion(True)
        try:
            frozen(*example)
        finally:
            torch.jit.enable_onednn_fusion(previous)
    return frozen


def _traced_module(fn: Callable[..., tuple[Any, ...]], example: tuple[Any, ...]) -> Any:
    """`fn` traced on `example` into a ScriptModule of its own compilation unit. torch.jit.trace registers the
    traced type and its graph in TorchScript's process-wide compilation unit, which never lets go of them: the
    graph's constants (the segment's weights) stayed resident after the compiled model was gone, one copy per
    compile. Here the unit is owned by the module (and by the frozen clone, whose type lands in the same unit)
    and is freed with it."""
    unit = torch._C.CompilationUnit()
    module = torch._C.ScriptModule("__torch__.irforge.Segment", unit, True)
    module._create_method_from_trace("forward", fn, example, lambda _: "", False, False,
                                     [f"x{i}" for i in range(len(example))], False)
    scripted = torch.jit.RecursiveScriptModule._construct(module, lambda _: None)
    return scripted.eval()


def _agree(got: Sequence[Any], want: Sequence[Any]) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if not isinstance(g, torch.Tensor) or g.shape != w.shape or g.dtype != w.dtype:
            return False
        if w.dtype.is_floating_point:
            a, b = g.double().numpy(), w.double().numpy()
            scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
            if not np.allclose(a, b, rtol=AGREE_RTOL, atol=AGREE_ATOL * scale, equal_nan=True):
                return False
        elif not torch.equal(g, w):
            return False
    return True


def find_segments(steps: Sequence["Step"], kept_slots: set[int]) -> list[Segment]:
    """Maximal runs of traceable steps worth compiling: those holding a oneDNN step (a convolution: its eager call
    rebuilds the primitive descriptor, ~40 us, which a compiled partition does not) or at least two matrix
    products (oneDNN Graph fuses their epilogues: bias, GELU, residual, layer norm). Other runs stay eager: compiled,
    a run of light steps (element-wise, data movement) measured the same on large tensors (YOLO's box decoding)
    and up to 1.3x slower on small ones, as did a run with a single MKL matrix product (the TorchScript
    interpreter's and the partition's per-op cost exceed the plan's). `kept_slots` hold model outputs (read after
    the last step)."""
    if not enabled():
        return []
    segments = []
    i = 0
    while i < len(steps):
        if steps[i].trace_fn is None:
            i += 1
            continue
        j = i
        while j < len(steps) and steps[j].trace_fn is not None:
            j += 1
        run = steps[i:j]
        if worth_compiling(run):
            segments.append(_segment(steps, i, j, kept_slots))
        i = j
    return segments


def worth_compiling(run: Sequence["Step"]) -> bool:
    """The rule of `find_segments` for one run of traceable steps."""
    if any(s.exec_type.startswith("onednn") for s in run):
        return True
    return sum(1 for s in run if s.exec_type.startswith("mkl")) >= 2


def _segment(steps: Sequence["Step"], start: int, stop: int, kept_slots: set[int]) -> Segment:
    written: set[int] = set()
    ins: list[int] = []
    for s in steps[start:stop]:
        for k in s.ins:
            if k not in written and k not in ins:
                ins.append(k)
        written.update(s.outs)
    live: list[int] = []
    decided: set[int] = set()
    for s in steps[stop:]:
        for k in s.ins:
            if k in written and k not in decided:
                live.append(k)
            decided.add(k)
        decided.update(s.outs)
    live += [k for k in sorted(kept_slots) if k in written and k not in decided and k not in live]
    return Segment(steps[start:stop], start, stop, ins, live)
