"""Placement: which hosts may take a VM, best first, and why each other host may not.

Filters, in order (the first that refuses a host names the reason): excluded (the VM's
own host when it moves), requested host, state (only ``connected``: never a host in
maintenance, disconnected or down), cluster (a VM in a resource pool stays in the pool's
cluster; a move without a destination stays in its source's cluster), labels (the VM's
placement labels must all be on the host), capacity (with the host's overcommit ratios),
failover capacity (a cluster with HA on keeps ``ha.failover_capacity_percent`` of its
capacity free for HA restarts: ``Room``, computed by ``failover_room``), hard affinity
rules. Weighers then score the hosts that passed: ``spread`` prefers the
largest free fraction of memory and vCPUs after placement, ``pack`` the smallest; every
broken soft rule costs 1 and every kept one earns 0.5. Load is the allocation (the
reservations), which is what capacity means here.

``choose`` also returns the ``PlacementDecision`` recorded on ``vm.placed`` /
``vm.migration_started`` ("why is my VM on host 7?"). The final word stays with the host
aggregate's reservation, which re-checks capacity under optimistic concurrency — ranking
only decides the order in which hosts are asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controlplane.domain import affinity as ad
from controlplane.domain.host import Host
from events import vm as ve

DECISION_LIMIT = 50  # candidates kept in a recorded decision (the counts cover the rest)


@dataclass(frozen=True, slots=True)
class Ask:
    """What is being placed and where it may go."""

    vm_id: str
    vcpus: int
    memory_mib: int
    labels: Mapping[str, str] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()
    only: frozenset[str] | None = None  # a pinned or requested host
    cluster_id: str | None = None  # None: any host


@dataclass(frozen=True, slots=True)
class Room:
    """What ordinary placement may still put into one HA cluster: its capacity less the
    failover share (``percent``) less what is already allocated there."""

    cluster_id: str
    name: str
    percent: int
    vcpus: int
    memory_mib: int

    def refusal(self, vcpus: int, memory_mib: int) -> str | None:
        """Why ``vcpus``/``memory_mib`` would eat into the failover share (None: they fit)."""
        if vcpus <= self.vcpus and memory_mib <= self.memory_mib:
            return None
        return (
            f"cluster {self.name} keeps {self.percent}% of its capacity free for HA failover: "
            f"{max(self.vcpus, 0)} vCPUs and {max(self.memory_mib, 0)} MiB may still be placed"
        )


def failover_room(
    hosts: Iterable[Host], cluster_id: str, name: str, percent: int, vm_id: str = ""
) -> Room:
    """The room ordinary placement has in cluster ``cluster_id`` (vCenter's "percentage of
    cluster resources reserved as failover spare capacity").

    Capacity is that of the cluster's connected hosts (with overcommit); allocated is every
    reservation on any of its hosts — a down host's VMs wait for their restart — except
    ``vm_id``'s own (a VM moving inside the cluster does not count twice)."""
    cpu_cap = mem_cap = cpu_used = mem_used = 0
    for h in hosts:
        if h.cluster_id != cluster_id:
            continue
        if h.state == "connected":
            cpu_cap += h.vcpu_capacity
            mem_cap += h.memory_capacity_mib
        for vid, r in h.reservations.items():
            if vid != vm_id:
                cpu_used += r.vcpus
                mem_used += r.memory_mib
    keep = max(0, min(percent, 100)) / 100
    return Room(
        cluster_id=cluster_id,
        name=name,
        percent=percent,
        vcpus=int(cpu_cap * (1 - keep)) - cpu_used,
        memory_mib=int(mem_cap * (1 - keep)) - mem_used,
    )


def choose(
    hosts: Iterable[Host],
    ask: Ask,
    *,
    rules: Iterable[ad.Rule] = (),
    where: Mapping[str, str | None] | None = None,
    strategy: str = "spread",
    rooms: Mapping[str, Room] | None = None,
) -> tuple[list[Host], ve.PlacementDecision]:
    """Hosts that can take ``ask`` now, best first, and the decision that explains it.

    ``rules`` are the affinity rules (only those naming the VM matter), ``where`` the host
    of every other VM (vm id → host id), ``rooms`` the HA clusters whose failover share
    this placement must leave free (cluster id → room; HA restarts pass none)."""
    mine = ad.rules_for(rules, ask.vm_id)
    hard = [r for r in mine if r.hard]
    soft = [r for r in mine if not r.hard]
    sets = ad.host_sets(mine)
    located: Mapping[str, str | None] = where or {}
    limits: Mapping[str, Room] = rooms or {}
    pack = strategy == "pack"
    accepted: list[tuple[float, Host]] = []
    rejected: list[ve.PlacementCandidate] = []
    counts: dict[str, int] = {}
    considered = 0

    def refuse(h: Host, why: str, reason: str) -> None:
        counts[why] = counts.get(why, 0) + 1
        if len(rejected) < DECISION_LIMIT:
            rejected.append(ve.PlacementCandidate(host_id=h.host_id, accepted=False, reason=reason))

    for h in hosts:
        considered += 1
        if h.host_id in ask.exclude:
            refuse(h, "excluded", f"host {h.name} is the VM's current host")
            continue
        if ask.only is not None and h.host_id not in ask.only:
            refuse(h, "not-requested", f"host {h.name} is not the requested host")
            continue
        if h.state != "connected":
            refuse(h, "state", f"host {h.name} is {h.state}")
            continue
        if ask.cluster_id is not None and h.cluster_id != ask.cluster_id:
            refuse(h, "cluster", f"host {h.name} is not in cluster {ask.cluster_id}")
            continue
        if ask.labels and any(h.labels.get(k) != v for k, v in ask.labels.items()):
            missing = [f"{k}={v}" for k, v in ask.labels.items() if h.labels.get(k) != v]
            refuse(h, "labels", f"host {h.name} lacks labels {', '.join(missing)}")
            continue
        cpu_used = h.allocated_vcpus
        mem_used = h.allocated_memory_mib
        cpu_cap = h.vcpu_capacity
        mem_cap = h.memory_capacity_mib
        if cpu_used + ask.vcpus > cpu_cap or mem_used + ask.memory_mib > mem_cap:
            refuse(
                h,
                "capacity",
                f"host {h.name} is full: {cpu_cap - cpu_used} vCPUs and "
                f"{mem_cap - mem_used} MiB free",
            )
            continue
        spare = limits.get(h.cluster_id) if h.cluster_id is not None else None
        if spare is not None and (why := spare.refusal(ask.vcpus, ask.memory_mib)):
            refuse(h, "failover-capacity", f"host {h.name}: {why}")
            continue
        if hard and (broken := ad.violations(hard, ask.vm_id, h.host_id, located, sets)):
            refuse(h, "affinity", f"host {h.name} would break rule {broken[0].name}")
            continue
        free = 0.5 * (1 - (mem_used + ask.memory_mib) / max(mem_cap, 1)) + 0.5 * (
            1 - (cpu_used + ask.vcpus) / max(cpu_cap, 1)
        )
        score = (1 - free) if pack else free
        if soft:
            bad = len(ad.violations(soft, ask.vm_id, h.host_id, located, sets))
            score += 0.5 * (len(soft) - bad) - bad
        accepted.append((score, h))
    accepted.sort(key=lambda sh: (-sh[0], sh[1].host_id))
    ranked = [h for _, h in accepted]
    shown = [
        ve.PlacementCandidate(host_id=h.host_id, accepted=True, score=round(s, 4))
        for s, h in accepted[:DECISION_LIMIT]
    ]
    room = max(0, DECISION_LIMIT - len(shown))
    decision = ve.PlacementDecision(
        candidates=(*shown, *rejected[:room]),
        considered=considered,
        rejected_by=counts,
        strategy="pack" if pack else "spread",
    )
    return ranked, decision


def explain(decision: ve.PlacementDecision) -> str:
    """Why no host was accepted, in one line (the reasons of the first rejections)."""
    if not decision.considered:
        return "no hosts are enrolled"
    reasons = [c.reason for c in decision.candidates if not c.accepted][:5]
    counts = ", ".join(f"{n} {why}" for why, n in sorted(decision.rejected_by.items()))
    more = decision.considered - len(reasons)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{'; '.join(reasons)}{tail} [{counts}]"


def rank(
    hosts: Iterable[Host], vcpus: int, memory_mib: int, reasons: list[str] | None = None
) -> list[Host]:
    """Hosts that can take ``vcpus``/``memory_mib`` now, best first (spread); why others
    can't in ``reasons``. The rule-free form of ``choose``."""
    ranked, decision = choose(hosts, Ask(vm_id="", vcpus=vcpus, memory_mib=memory_mib))
    if reasons is not None:
        reasons.extend(c.reason for c in decision.candidates if not c.accepted)
    return ranked
