"""The DRS computation (pure): which moves would even out a cluster's load.

Load of a host = the mean of its allocated fractions of vCPU and memory capacity (the
reservations, with overcommit — what placement's ``spread`` weigher evens out too), or,
when every host of the group has a fresh metrics sample, its measured load: the host's
``offset`` is then measured minus allocated, so a move still shifts load by the VM's
allocated share (a VM's own use is not measured apart) while the hosts start from what
they really carry.
Imbalance = the population standard deviation of the loads of the cluster's connected
hosts (0 = perfectly even). A plan is built greedily: while the imbalance is above the
tolerance and the batch is not full, try moving each movable VM of the most loaded hosts
to each of the least loaded hosts that can take it (capacity, labels, hard rules, the
per-host migration budget) and keep the move that lowers the imbalance most. Each move's
``improvement`` is the drop it brings on its own; its ``priority`` (1..5) grows with the
load gap between the two hosts, so "5" is a move from a hot host to an idle one.

The variance is kept as running sums (of loads and of their squares: hosts differ in
size, so a move changes both), so trying one move costs O(1); each step tries the
VMs of the ``SOURCES`` most loaded hosts against the ``TARGETS`` least loaded ones, so a
step costs the same however large the cluster (``bench/drs.py``: 1,000 hosts, 20,000 VMs).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

SOURCES = 4  # most loaded hosts whose VMs are tried each step
TARGETS = 12  # least loaded hosts tried as destinations each step


@dataclass(slots=True)
class HostLoad:
    host_id: str
    vcpu_capacity: int
    memory_capacity_mib: int
    vcpus: int  # allocated
    memory_mib: int  # allocated
    labels: Mapping[str, str] = field(default_factory=dict)
    offset: float = 0.0  # measured load minus allocated load (0: load is the allocation)

    @property
    def load(self) -> float:
        return load_of(self, 0, 0)


@dataclass(frozen=True, slots=True)
class VmLoad:
    vm_id: str
    host_id: str
    vcpus: int
    memory_mib: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Move:
    vm_id: str
    from_host_id: str
    to_host_id: str
    priority: int
    improvement: float
    imbalance_before: float
    imbalance_after: float
    reason: str


Allowed = Callable[[str, str, Mapping[str, str | None]], bool]
"""Whether VM ``vm_id`` may run on host ``host_id`` given where every VM is (hard rules)."""


def load_of(h: HostLoad, add_vcpus: int, add_memory_mib: int) -> float:
    cpu = (h.vcpus + add_vcpus) / max(h.vcpu_capacity, 1)
    mem = (h.memory_mib + add_memory_mib) / max(h.memory_capacity_mib, 1)
    return 0.5 * (cpu + mem) + h.offset


def imbalance(loads: Iterable[float]) -> float:
    values = list(loads)
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(max(0.0, sum((v - mean) ** 2 for v in values) / len(values)))


def priority_of(gap: float) -> int:
    """1..5 from the load gap between source and destination before the move."""
    for bound, prio in ((0.5, 5), (0.35, 4), (0.2, 3), (0.1, 2)):
        if gap >= bound:
            return prio
    return 1


def plan(
    hosts: Iterable[HostLoad],
    vms: Iterable[VmLoad],
    *,
    tolerance: float = 0.05,
    batch_size: int = 5,
    max_per_host: int = 2,
    busy: Mapping[str, int] | None = None,
    allowed: Allowed | None = None,
    where: Mapping[str, str | None] | None = None,
) -> list[Move]:
    """The moves, best first, that bring the hosts' loads closer together.

    ``vms`` are the movable VMs (running, idle, not cooling down, no open recommendation);
    ``busy`` counts moves already under way per host (they use its budget); ``where`` is
    every VM's host for the hard rules (updated here as moves are planned)."""
    state = {h.host_id: HostLoad(
        h.host_id, h.vcpu_capacity, h.memory_capacity_mib, h.vcpus, h.memory_mib, h.labels,
        h.offset,
    ) for h in hosts}  # fmt: skip
    n = len(state)
    if n < 2 or batch_size < 1:
        return []
    by_host: dict[str, list[VmLoad]] = {}
    for v in vms:
        if v.host_id in state:
            by_host.setdefault(v.host_id, []).append(v)
    used = {h: (busy or {}).get(h, 0) for h in state}
    located = dict(where or {})
    loads = {h: s.load for h, s in state.items()}
    total = sum(loads.values())
    total_sq = sum(x * x for x in loads.values())
    moved: set[str] = set()
    moves: list[Move] = []

    inv_n = 1.0 / n

    def var(sq: float, tot: float) -> float:
        mean = tot / n
        return max(0.0, sq / n - mean * mean)

    while len(moves) < batch_size:
        before_var = var(total_sq, total)
        before = math.sqrt(before_var)
        if before < tolerance:
            break
        open_hosts = [h for h in state if used[h] < max_per_host]
        sources = heapq.nlargest(SOURCES, open_hosts, key=lambda h: (loads[h], h))
        targets = heapq.nsmallest(TARGETS, open_hosts, key=lambda h: (loads[h], h))
        # Hosts differ in size, so a move changes the sum of loads too: compare the
        # variance (sums of loads and of squares, no square root) of every try.
        best: tuple[VmLoad, str, float, float] | None = None
        best_var = before_var - 1e-12
        for src in sources:
            s = state[src]
            ls = loads[src]
            for v in by_host.get(src, ()):
                if v.vm_id in moved:
                    continue
                ls_new = load_of(s, -v.vcpus, -v.memory_mib)
                for dst in targets:
                    lt = loads[dst]
                    if dst == src or lt >= ls:
                        continue
                    t = state[dst]
                    if t.vcpus + v.vcpus > t.vcpu_capacity:
                        continue
                    if t.memory_mib + v.memory_mib > t.memory_capacity_mib:
                        continue
                    lt_new = load_of(t, v.vcpus, v.memory_mib)
                    mean = (total - ls - lt + ls_new + lt_new) * inv_n
                    sq = total_sq - ls * ls - lt * lt + ls_new * ls_new + lt_new * lt_new
                    moved_var = sq * inv_n - mean * mean
                    if moved_var >= best_var:
                        continue
                    if v.labels and any(t.labels.get(k) != x for k, x in v.labels.items()):
                        continue
                    if allowed is not None and not allowed(v.vm_id, dst, located):
                        continue
                    best_var = moved_var
                    best = (v, dst, ls_new, lt_new)
        if best is None:
            break
        v, dst, ls_new, lt_new = best
        src = v.host_id
        ls_old, lt_old = loads[src], loads[dst]
        gap = ls_old - lt_old
        total_sq += ls_new**2 + lt_new**2 - ls_old**2 - lt_old**2
        total += ls_new + lt_new - ls_old - lt_old
        loads[src], loads[dst] = ls_new, lt_new
        state[src].vcpus -= v.vcpus
        state[src].memory_mib -= v.memory_mib
        state[dst].vcpus += v.vcpus
        state[dst].memory_mib += v.memory_mib
        used[src] += 1
        used[dst] += 1
        located[v.vm_id] = dst
        moved.add(v.vm_id)
        after = math.sqrt(var(total_sq, total))
        moves.append(
            Move(
                vm_id=v.vm_id,
                from_host_id=src,
                to_host_id=dst,
                priority=priority_of(gap),
                improvement=round(before - after, 6),
                imbalance_before=round(before, 6),
                imbalance_after=round(after, 6),
                reason=(
                    f"source load {ls_old:.0%} → {ls_new:.0%}, "
                    f"destination {lt_old:.0%} → {lt_new:.0%}"
                ),
            )
        )
    return moves
