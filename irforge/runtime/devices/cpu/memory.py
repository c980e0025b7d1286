"""Value lifetimes, memory sharing and slots of a plan.

Every runtime value lives in a slot of the per-inference list (`env`). Slots are reused once the value in them is
dead (a linear scan over the step positions), which also frees the tensor. Memory sharing is tracked by roots: a
step that allocates its outputs (`fresh`) makes each output its own root; a step whose outputs may be views
inherits its inputs' roots (and may alias a constant). A step may write into an input's memory only when no value
sharing that memory is read later, it is not a model output, and the memory is neither a model input (the
caller's array) nor a constant."""
from __future__ import annotations

from collections.abc import Iterable

from irforge.ir.graph import Output

PARAM = "param"  # root markers of memory the plan does not own
CONST = "const"
INF = 1 << 60


class Memory:
    def __init__(self) -> None:
        self.produced: dict[int, int] = {}  # id(value) -> position of the producing step (-1: model input)
        self.last_use: dict[int, int] = {}  # id(value) -> last position reading it (INF: a model output)
        self.roots: dict[int, frozenset[object]] = {}
        self.sharing: dict[object, set[int]] = {}  # root -> ids of values sharing it

    # ---------------------------------------------------------------- lifetimes (before building)
    def define(self, value: Output, position: int) -> None:
        self.produced[id(value)] = position
        self.last_use.setdefault(id(value), position)

    def read(self, value: Output, position: int) -> None:
        self.last_use[id(value)] = max(self.last_use.get(id(value), position), position)

    def keep(self, value: Output) -> None:
        self.last_use[id(value)] = INF

    # ---------------------------------------------------------------- sharing (while building, in order)
    def set_roots(self, value: Output, roots: Iterable[object]) -> None:
        r = frozenset(roots)
        self.roots[id(value)] = r
        for root in r:
            self.sharing.setdefault(root, set()).add(id(value))

    def roots_of(self, value: Output) -> frozenset[object]:
        return self.roots.get(id(value), frozenset({CONST}))

    def can_overwrite(self, value: Output, position: int) -> bool:
        roots = self.roots_of(value)
        if not roots or PARAM in roots or CONST in roots:
            return False
        return all(self.last_use.get(v, INF) <= position for r in roots for v in self.sharing.get(r, ()))

    def owned(self, value: Output) -> bool:
        """Whether the value's memory belongs to the plan alone (not a model input, not a constant)."""
        roots = self.roots_of(value)
        return bool(roots) and PARAM not in roots and CONST not in roots


def assign_slots(steps: list[list[int]], last_use: dict[int, int], param_values: list[int]) -> tuple[dict[int, int], int]:
    """Slots for every value: `steps` lists the output value ids per position; model inputs take slots
    0..len(param_values)-1. A value read last at step p frees its slot for the outputs of step p itself (a step
    reads all its inputs before it stores its outputs). Returns value id -> slot and the slot count."""
    slot: dict[int, int] = {}
    free: list[int] = []
    available_at: dict[int, list[int]] = {}  # position -> slots that become free for that step's outputs

    def release(value: int, s: int, pos: int) -> None:
        last = last_use.get(value, pos)
        available_at.setdefault(last if last > pos else pos + 1, []).append(s)

    count = len(param_values)
    for i, v in enumerate(param_values):
        slot[v] = i
        release(v, i, -1)
    for pos, outs in enumerate(steps):
        free.extend(available_at.pop(pos, []))
        for v in outs:
            if v in slot:
                continue
            if free:
                s = free.pop()
            else:
                s = count
                count += 1
            slot[v] = s
            release(v, s, pos)
    return slot, count
