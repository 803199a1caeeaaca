"""Placement: which hosts may take a VM, best first, and why each other host may not.

Filters, in order (the first that refuses a host names the reason): excluded (the VM's
own host when it moves), requested host, state (only ``connected``: never a host in
maintenance, disconnected or down), cluster (a VM in a resource pool stays in the pool's
cluster; a move without a destination stays in its source's cluster), labels (the VM's
placement labels must all be on the host), reachability (every pool of the VM's disks
attached and active on the host, every network of its NICs on it: ``unreachable``),
capacity (with the host's overcommit ratios), failover capacity (a cluster with HA on
keeps ``ha.failover_capacity_percent`` of its capacity free for HA restarts: ``Room``,
computed by ``failover_room``), hard affinity rules. Weighers then score the hosts that
passed: ``spread`` prefers the largest free fraction of memory and vCPUs after placement,
``pack`` the smallest; the measured-load weigher adds ``load_weight`` x how idle the host
is by its latest fresh metrics sample (its allocation when it has none); every broken
soft rule costs 1 and every kept one earns 0.5.

``choose`` also returns the ``PlacementDecision`` recorded on ``vm.placed`` /
``vm.migration_started`` ("why is my VM on host 7?"), with the load figures weighed.
Over a ``HostIndex`` it looks at the best hosts only and counts the rest as skipped
(``controlplane.host_index``). The final word stays with the host aggregate's
reservation, which re-checks capacity under optimistic concurrency — ranking only
decides the order in which hosts are asked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controlplane.domain import affinity as ad
from controlplane.domain.host import Host
from controlplane.host_index import Figure, HostIndex, allocated, ask_term
from events import vm as ve

DECISION_LIMIT = 50  # candidates kept in a recorded decision (the counts cover the rest)
SHORTLIST = 8  # accepted hosts a decision over an index looks for (more when rules weigh)
NOWHERE = "\x00"  # a host id no rule names and no VM is on


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
    # the VM's pools and networks but "default": id → host id → state (None: no such one)
    pools: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)
    networks: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)


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


def unreachable(ask: Ask, h: Host) -> tuple[str, str] | None:
    """``(filter, reason)`` when ``h`` cannot reach one of the VM's pools or networks.

    A pool must be attached to the host and ``active`` there; a network spans every host
    but those that reported it not ``active`` (it is pushed to every connected host, so
    one not heard of yet is being realised). The ``default`` pool and network (the host's
    own) are never asked about."""
    for pool_id, states in ask.pools.items():
        if states is None:
            return "pool", f"pool {pool_id} does not exist"
        state = states.get(h.host_id)
        if state is None:
            return "pool", f"pool {pool_id} not attached to host {h.name}"
        if state != "active":
            return "pool", f"pool {pool_id} is {state} on host {h.name}"
    for network_id, states in ask.networks.items():
        if states is None:
            return "network", f"network {network_id} does not exist"
        state = states.get(h.host_id)
        if state is not None and state != "active":
            return "network", f"network {network_id} not on host {h.name} ({state})"
    return None


def _pointed(rules: Iterable[ad.Rule], vm_id: str, located: Mapping[str, str | None]) -> set[str]:
    """Hosts a rule can tell apart from the rest: those it names and those its other VMs
    are on. For every other host a rule gives the same verdict (see ``choose``)."""
    out: set[str] = set()
    for r in rules:
        out.update(r.host_ids)
        out.update(h for o in r.vm_ids if o != vm_id and (h := located.get(o)) is not None)
    return out


def choose(
    hosts: Iterable[Host] | HostIndex,
    ask: Ask,
    *,
    rules: Iterable[ad.Rule] = (),
    where: Mapping[str, str | None] | None = None,
    strategy: str = "spread",
    rooms: Mapping[str, Room] | None = None,
    load: Mapping[str, Figure] | None = None,
    load_weight: float = 0.0,
    now: float = 0.0,
    shortlist: int = SHORTLIST,
) -> tuple[list[Host], ve.PlacementDecision]:
    """Hosts that can take ``ask`` now, best first, and the decision that explains it.

    ``rules`` are the affinity rules (only those naming the VM matter), ``where`` the host
    of every other VM (vm id → host id), ``rooms`` the HA clusters whose failover share
    this placement must leave free (cluster id → room; HA restarts pass none), ``load``
    the fresh metrics figures by host id, weighed by ``load_weight`` (``now``: the
    monotonic clock, for the samples' ages).

    Given a ``HostIndex`` (which carries strategy, weight and figures), only the best
    hosts are looked at: those the VM's rules name or whose VMs they name, then hosts
    in key order until ``shortlist`` are accepted and no host further down could score
    higher; the others are counted as ``skipped``. Given plain hosts, every host is."""
    mine = ad.rules_for(rules, ask.vm_id)
    hard = [r for r in mine if r.hard]
    soft = [r for r in mine if not r.hard]
    sets = ad.host_sets(mine)
    located: Mapping[str, str | None] = where or {}
    limits: Mapping[str, Room] = rooms or {}
    index = hosts if isinstance(hosts, HostIndex) else None
    pack = index.pack if index is not None else strategy == "pack"
    weight = index.weight if index is not None else load_weight
    accepted: list[tuple[float, Host, Figure | None]] = []
    rejected: list[ve.PlacementCandidate] = []
    counts: dict[str, int] = {}
    lazy = isinstance(hosts, HostIndex)
    top: list[float] = []  # over an index: the best ``shortlist`` scores so far (a min-heap)
    considered = 0

    def refuse(h: Host, why: str, reason: str) -> None:
        counts[why] = counts.get(why, 0) + 1
        if len(rejected) < DECISION_LIMIT:
            rejected.append(ve.PlacementCandidate(host_id=h.host_id, accepted=False, reason=reason))

    def evaluate(h: Host, key: float | None, figure: Figure | None) -> None:
        nonlocal considered
        considered += 1
        if h.host_id in ask.exclude:
            return refuse(h, "excluded", f"host {h.name} is the VM's current host")
        if ask.only is not None and h.host_id not in ask.only:
            return refuse(h, "not-requested", f"host {h.name} is not the requested host")
        if h.state != "connected":
            return refuse(h, "state", f"host {h.name} is {h.state}")
        if ask.cluster_id is not None and h.cluster_id != ask.cluster_id:
            return refuse(h, "cluster", f"host {h.name} is not in cluster {ask.cluster_id}")
        if ask.labels and any(h.labels.get(k) != v for k, v in ask.labels.items()):
            missing = [f"{k}={v}" for k, v in ask.labels.items() if h.labels.get(k) != v]
            return refuse(h, "labels", f"host {h.name} lacks labels {', '.join(missing)}")
        if (ask.pools or ask.networks) and (why_not := unreachable(ask, h)):
            return refuse(h, *why_not)
        cpu_used = h.allocated_vcpus
        mem_used = h.allocated_memory_mib
        cpu_cap = h.vcpu_capacity
        mem_cap = h.memory_capacity_mib
        if cpu_used + ask.vcpus > cpu_cap or mem_used + ask.memory_mib > mem_cap:
            return refuse(
                h,
                "capacity",
                f"host {h.name} is full: {cpu_cap - cpu_used} vCPUs and "
                f"{mem_cap - mem_used} MiB free",
            )
        spare = limits.get(h.cluster_id) if h.cluster_id is not None else None
        if spare is not None and (why := spare.refusal(ask.vcpus, ask.memory_mib)):
            return refuse(h, "failover-capacity", f"host {h.name}: {why}")
        if hard and (broken := ad.violations(hard, ask.vm_id, h.host_id, located, sets)):
            return refuse(h, "affinity", f"host {h.name} would break rule {broken[0].name}")
        if key is None:  # as ``key_of``, from the sums already taken
            used = 0.5 * (mem_used / max(mem_cap, 1) + cpu_used / max(cpu_cap, 1))
            busy = figure.busy if figure is not None else used
            key = (used if pack else 1.0 - used) + weight * (1.0 - busy)
        score = key + ask_term(h, ask.vcpus, ask.memory_mib, pack)
        if soft:
            bad = len(ad.violations(soft, ask.vm_id, h.host_id, located, sets))
            score += 0.5 * (len(soft) - bad) - bad
        accepted.append((score, h, figure))
        if not lazy:
            return None
        if len(top) < shortlist:
            heapq.heappush(top, score)
        elif score > top[0]:
            heapq.heapreplace(top, score)
        return None

    if not isinstance(hosts, HostIndex):
        figures: Mapping[str, Figure] = load or {}
        for h in hosts:
            evaluate(h, None, figures.get(h.host_id) if weight else None)
        total = considered
    else:
        index = hosts
        total = len(index)
        if ask.only is not None:
            for host_id in sorted(ask.only):
                if (pinned := index.get(host_id)) is not None:
                    evaluate(pinned, index.key(host_id), index.figure(host_id))
        else:
            # Outside the hosts the rules point at, every host gets the same verdict
            # from each rule: that of a host no rule knows (``NOWHERE``).
            broken = ad.violations(hard, ask.vm_id, NOWHERE, located, sets) if hard else []
            allowed = _pointed(hard, ask.vm_id, located) if broken else None
            elsewhere = 0.0
            if soft:
                bad = len(ad.violations(soft, ask.vm_id, NOWHERE, located, sets))
                elsewhere = 0.5 * (len(soft) - bad) - bad
            done: set[str] = set()
            for host_id in sorted(_pointed(soft, ask.vm_id, located)):
                near = index.get(host_id)
                if near is not None and (allowed is None or host_id in allowed):
                    evaluate(near, index.key(host_id), index.figure(host_id))
                    done.add(host_id)
            slack = index.bounds().best_ask_term(ask.vcpus, ask.memory_mib, pack) + elsewhere
            for key, h in index.ordered(ask.cluster_id):  # other clusters' hosts: skipped
                if len(top) >= shortlist and key + slack <= top[0]:
                    break  # no host from here down can make the shortlist
                if h.host_id in done:
                    continue
                if allowed is not None and h.host_id not in allowed:
                    considered += 1  # refused without the other filters: the rule says no
                    refuse(h, "affinity", f"host {h.name} would break rule {broken[0].name}")
                    continue
                evaluate(h, key, index.figure(h.host_id))
    accepted.sort(key=lambda sh: (-sh[0], sh[1].host_id))
    ranked = [h for _, h, _ in accepted]
    shown = [_shown(s, h, f, weight, now) for s, h, f in accepted[:DECISION_LIMIT]]
    room = max(0, DECISION_LIMIT - len(shown))
    decision = ve.PlacementDecision(
        candidates=(*shown, *rejected[:room]),
        considered=considered,
        rejected_by=counts,
        strategy="pack" if pack else "spread",
        skipped=total - considered,
        load_weight=weight,
    )
    return ranked, decision


def _shown(
    score: float, h: Host, figure: Figure | None, weight: float, now: float
) -> ve.PlacementCandidate:
    """An accepted host as the decision records it, with the load figure weighed."""
    if not weight:
        return ve.PlacementCandidate(host_id=h.host_id, accepted=True, score=round(score, 4))
    if figure is None:
        return ve.PlacementCandidate(
            host_id=h.host_id, accepted=True, score=round(score, 4), load=round(allocated(h), 4)
        )
    return ve.PlacementCandidate(
        host_id=h.host_id,
        accepted=True,
        score=round(score, 4),
        load=round(figure.busy, 4),
        cpu_pct=None if figure.cpu_pct is None else round(figure.cpu_pct, 1),
        mem_pct=round(figure.mem_pct, 1),
        load_age_s=round(max(0.0, now - figure.received), 1),
    )


def explain(decision: ve.PlacementDecision) -> str:
    """Why no host was accepted, in one line (the reasons of the first rejections)."""
    if not decision.considered:
        if decision.skipped:
            return (
                f"none of the {decision.skipped} hosts is in the VM's cluster, its requested"
                " host or allowed by its hard rules"
            )
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
