"""Whether a host's VMs fit elsewhere before it enters maintenance (the plan).

The plan places the host's movable VMs one by one, largest first, on the other hosts as
they would be after the earlier moves (capacity and hard affinity rules included), and
says which VM cannot go anywhere and why. Entering maintenance is refused (409, nothing
appended) unless every movable VM has a place; the actual destinations are chosen again
by each migration when it starts, against the cluster as it is then.

Movable: running VMs (moved live) and stopped ones (moved cold: defined on the other
host). Templates stay (their volumes are what their clones are made from), and so do VMs
in any other state (``error``, ``pending``); they are listed as staying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from controlplane import placement, scheduler
from controlplane.domain import host as hd
from controlplane.domain.vm_migration import MIGRATABLE
from controlplane.repository import Repository


@dataclass
class Plan:
    moves: dict[str, str] = field(default_factory=dict)  # vm id → planned host id
    staying: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # "name: why" of VMs with a task in flight
    unplaceable: list[str] = field(default_factory=list)  # "name: why"

    @property
    def ok(self) -> bool:
        return not self.busy and not self.unplaceable

    def refusal(self) -> str:
        parts = []
        if self.busy:
            parts.append("VMs with a task in progress: " + "; ".join(self.busy))
        if self.unplaceable:
            parts.append("VMs that fit on no other host: " + "; ".join(self.unplaceable))
        return "; ".join(parts)


def plan(repo: Repository, host_id: str, strategy: str = "spread") -> Plan:
    out = Plan()
    vms = [v for v in repo.all("vm") if v.host_id == host_id and v.state != "deleted"]
    hosts = {h.host_id: h for h in repo.all("host")}
    located = scheduler.where(repo)
    for v in vms:  # all leaving: affinity groups follow their first member (scheduler.where)
        located[v.vm_id] = None
    rules = scheduler.rules(repo)
    for vm in sorted(vms, key=lambda v: (-v.memory_mib, -v.vcpus, v.vm_id)):
        if vm.pending is not None:
            out.busy.append(f"{vm.name}: {vm.pending.operation} (task {vm.pending.task_id})")
            continue
        if vm.template or vm.state not in MIGRATABLE:
            out.staying.append(vm.vm_id)
            continue
        ask = scheduler.ask_for(repo, vm, exclude=[host_id], stay_in_cluster_of=host_id)
        ranked, decision = placement.choose(
            hosts.values(), ask, rules=rules, where=located, strategy=strategy
        )
        if not ranked:
            out.unplaceable.append(f"{vm.name}: {placement.explain(decision)}")
            continue
        dest = ranked[0]
        res = dict(dest.reservations)
        res[vm.vm_id] = hd.Reservation(vm.vcpus, vm.memory_mib)
        hosts[dest.host_id] = msgspec.structs.replace(dest, reservations=res)
        located[vm.vm_id] = dest.host_id
        out.moves[vm.vm_id] = dest.host_id
    return out
