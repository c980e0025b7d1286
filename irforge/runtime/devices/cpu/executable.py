"""CPUExecutable: the compiled form of a model on the CPU device, shared by all its runners.

A plan is specialized to concrete input shapes and an intra-op thread count (oneDNN's convolution kernels choose
their weight blocking by thread count, so weights prepacked for 2 threads would be reordered on every call by a
1-thread runner). A model whose inputs are static gets its plan for INFERENCE_NUM_THREADS at compile time;
otherwise the first inference with new input shapes (or a runner with another thread count) builds one (shape
inference re-run on a clone, weights prepacked for those shapes) and caches it, so later inferences with the same
shapes go straight to it.

A plan whose convolutions and matrix products add up to less than SMALL_PLAN_FLOPS runs on one thread whatever
the thread count asked for (`Plan.threads`; INFERENCE_NUM_THREADS is an upper bound): its ops are too small to split.
Each oneDNN primitive is one OpenMP region, and with passive waiting (see the package docstring) every region wakes
the other thread and waits for it at the barrier; on this 2-core machine under load MobileNetV3 (42 MFLOP, ~30
regions of 1.5 MFLOP) took 1.2-1.8x its 1-thread time with 2 threads, while YOLO (0.7 GFLOP), BERT-mini (0.8
GFLOP) and ResNet-50 (8.2 GFLOP) gain or break even."""
from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

import numpy as np

from irforge.errors import OptionError
from irforge.ir.graph import Model
from irforge.runtime.devices.cpu.allocator import tune_allocator
from irforge.runtime.devices.cpu.config import CPUConfig, parse_config
from irforge.runtime.devices.cpu.runner import CPURunner
from irforge.runtime.devices.cpu.specialize import Specialized, specialize

if TYPE_CHECKING:
    from irforge.runtime.devices.cpu.native.cache import PackedCache
    from irforge.runtime.devices.cpu.native.plan import NativePlan
    from irforge.runtime.devices.cpu.plan import Plan

AnyPlan = Union["Plan", "NativePlan"]
EXECUTORS = ("auto", "native", "torch")

PlanKey = tuple[tuple[tuple[int, ...], ...], int]  # (input shapes, threads)

MAX_PLANS = 32  # distinct input-shape sets kept (least recently built dropped first)
SMALL_PLAN_FLOPS = 150e6  # plans with fewer convolution and matrix-product FLOPs run on one thread
_CONVOLUTIONS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData")


class CPUExecutable:
    def __init__(self, model: Model, config: Mapping[str, str]) -> None:
        self.model = model
        self.config: CPUConfig = parse_config(config)
        tune_allocator()
        self.properties: Mapping[str, str] = self.config.properties()
        self.executor = executor_choice()
        self.native_declined: str | None = None  # why the last plan could not run natively (auto mode)
        self._digest: bytes | None = None  # the model's CACHE_DIR digest (native/cache.py), computed on first use
        self._plans: dict[PlanKey, AnyPlan] = {}
        self._lock = threading.Lock()
        if all(p.shape.is_static for p in model.inputs):
            key = (tuple(p.shape.to_shape() for p in model.inputs), self.config.threads)
            self._plans[key] = self._build(key)

    def _build(self, key: PlanKey) -> AnyPlan:
        """A plan for `key`, built under the thread count it will run with, which is key's or 1 for a small plan:
        native (oneDNN primitives called directly, native/) where the executor choice and the graph allow it,
        else the torch plan (weights prepacked under that thread count; the calling thread's count is restored)."""
        spec = specialize(self.model, [list(s) for s in key[0]])
        threads = key[1] if key[1] == 1 or heavy_flops(spec) >= SMALL_PLAN_FLOPS else 1
        if self.executor != "torch":
            native = self._build_native(spec, threads)
            if native is not None:
                return native
        import torch

        from irforge.runtime.devices.cpu.builder import build_plan

        previous = torch.get_num_threads()  # also settles this thread's lazily read default (package docstring)
        torch.set_num_threads(threads)
        try:
            plan = build_plan(spec, self.config)
        finally:
            torch.set_num_threads(previous)
        plan.threads = threads
        return plan

    def _cache(self, spec: Specialized, threads: int) -> "PackedCache | None":
        """The CACHE_DIR file for the plan of these input shapes and threads (None without CACHE_DIR)."""
        if not self.config.cache_dir:
            return None
        from irforge.runtime.devices.cpu.native.cache import PackedCache, model_digest, plan_key

        if self._digest is None:  # once per compiled model: it hashes the Constants not read from a file
            self._digest = model_digest(self.model)
        shapes = tuple(tuple(p.shape.to_shape()) for p in spec.model.inputs)
        return PackedCache(self.config.cache_dir, plan_key(self._digest, shapes, threads, self.config.precision))

    def _build_native(self, spec: Specialized, threads: int) -> "NativePlan | None":
        """The native plan, or None (the reason kept in `native_declined`) where it cannot run this graph; with
        IRFORGE_CPU_EXECUTOR=native that is an error naming the reason."""
        reason = None
        if self.config.precision != "f32":
            reason = f"INFERENCE_PRECISION_HINT {self.config.precision} (the native executor computes in f32)"
        else:
            from irforge.runtime.devices.cpu.native.dnnl import DnnlError, DnnlUnavailable
            from irforge.runtime.devices.cpu.native.values import Unsupported

            try:
                from irforge.runtime.devices.cpu.native.plan import CacheWriteError, build_plan

                try:
                    return build_plan(spec, threads, self._cache(spec, threads))
                except CacheWriteError as e:
                    raise OptionError(str(e)) from None
            except DnnlUnavailable as e:  # no library here: said once, in one line
                reason = str(e)
                _warn_once(reason)
            except (Unsupported, DnnlError) as e:  # an op it does not run, or a primitive oneDNN refused
                reason = str(e)
        self.native_declined = reason
        if self.executor == "native":
            raise OptionError(f"IRFORGE_CPU_EXECUTOR=native: the native executor cannot run this model: {reason}")
        return None

    def plan_for(self, inputs: Sequence[np.ndarray], threads: int) -> AnyPlan:
        """The plan for these inputs' shapes and `threads` (the calling thread runs with that many)."""
        return self.plan_for_shapes(tuple(np.shape(a) for a in inputs), threads)

    def plan_for_shapes(self, shapes: tuple[tuple[int, ...], ...], threads: int) -> AnyPlan:
        """The plan for inputs of these shapes and `threads` (built and cached on first use)."""
        key = (shapes, threads)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = self._build(key)
                if len(self._plans) >= MAX_PLANS:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = plan
        return plan

    @property
    def plans(self) -> dict[PlanKey, AnyPlan]:
        return dict(self._plans)

    def executor_report(self) -> dict[str, object]:
        """How the plans built so far run: `executor` (native, torch or mixed), `activation_bytes` (the largest
        native plan's activation and scratchpad memory, held once per infer request; None without one) and
        `declined` (why the native executor did not take a plan, when it did not)."""
        plans = list(self._plans.values())
        native = [p for p in plans if getattr(p, "native", False)]
        kind = "native" if plans and len(native) == len(plans) else "torch" if not native else "mixed"
        return {"executor": kind,
                "activation_bytes": max((p.activation_bytes for p in native), default=None),  # type: ignore[union-attr]
                "declined": self.native_declined}

    def create_runner(self, profile: bool = False, threads: int | None = None) -> CPURunner:
        return CPURunner(self, profile, threads or self.config.threads)


_WARNED: set[str] = set()


def _warn_once(reason: str) -> None:
    if reason not in _WARNED and len(_WARNED) < 16:
        _WARNED.add(reason)
        warnings.warn(f"irforge CPU: native executor unavailable, using the torch executor: {reason}",
                      RuntimeWarning, stacklevel=3)


def executor_choice() -> str:
    """IRFORGE_CPU_EXECUTOR: auto (native where it runs the graph, else torch; the default), native (an error
    where it cannot) or torch."""
    value = os.environ.get("IRFORGE_CPU_EXECUTOR", "auto").strip().lower() or "auto"
    if value not in EXECUTORS:
        raise OptionError(f"IRFORGE_CPU_EXECUTOR: expected one of {', '.join(EXECUTORS)}, got '{value}'")
    return value


def heavy_flops(spec: Specialized) -> float:
    """FLOPs of the plan's convolutions and matrix products (2 per multiply-add); infinite when one of them has a
    shape the plan does not know (such a plan is never treated as small)."""
    total = 0.0
    for node in spec.ops:
        if node.type not in _CONVOLUTIONS and node.type != "MatMul":
            continue
        shapes = [s.shape.to_shape() if s.shape.is_static else None for s in list(node.inputs[:2]) + [node.outputs[0]]]
        if any(s is None for s in shapes):
            return float("inf")
        x, w, y = shapes  # type: ignore[misc]
        if node.type == "MatMul":
            k = x[-2] if node.attrs["transpose_a"] and len(x) > 1 else x[-1]
            total += 2.0 * float(np.prod(y)) * k
        elif node.type.endswith("BackpropData"):  # every input element meets (C_out / groups) * kernel weights
            per = np.prod(w[2:] if node.type.startswith("Group") else w[1:])
            total += 2.0 * float(np.prod(x)) * float(per)
        else:  # every output element: (C_in / groups) * kernel multiply-adds
            per = np.prod(w[2:] if node.type.startswith("Group") else w[1:])
            total += 2.0 * float(np.prod(y)) * float(per)
    return total
