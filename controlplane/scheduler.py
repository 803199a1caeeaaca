"""Placement against the live aggregate cache: the glue between ``placement`` (pure) and
the repository — which hosts, which rules, where every other VM is, which cluster a VM
must stay in. Used by creation (``processes``), migration, evacuation planning, HA and DRS,
so all of them filter and weigh hosts the same way.

Ordinary placements leave the failover share of every cluster with HA on free
(``failover_rooms``, docs/ha.md); an HA restart passes ``keep_failover=False`` (that share
is there for it), and a move inside one cluster is exempt from its own cluster's share (it
adds nothing to the cluster's allocation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controlplane import placement
from controlplane.domain import affinity as ad
from controlplane.domain import cluster as cd
from controlplane.domain.host import Host
from controlplane.domain.vm_state import Vm
from controlplane.repository import Repository
from events import vm as ve


def pool_cluster(repo: Repository, pool_id: str | None) -> str | None:
    """The cluster holding resource pool ``pool_id`` (None when there is no such pool)."""
    if not pool_id:
        return None
    for c in repo.all("cluster"):
        if isinstance(c, cd.Cluster) and not c.deleted and pool_id in c.pools:
            return c.cluster_id
    return None


def rules(repo: Repository) -> list[ad.Rule]:
    return [r for r in repo.all("affinity") if isinstance(r, ad.Rule) and r.enabled]


def where(repo: Repository) -> dict[str, str | None]:
    """Every live VM's host (vm id → host id) as affinity rules see it.

    VMs on a host in maintenance count as unplaced: they are all leaving, so a group
    that must stay together follows whichever member moves first."""
    leaving = {h.host_id for h in repo.all("host") if h.state == "maintenance"}
    return {
        v.vm_id: None if v.host_id in leaving else v.host_id
        for v in repo.all("vm")
        if v.state != "deleted"
    }


def ask_for(
    repo: Repository,
    vm: Vm,
    *,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
    stay_in_cluster_of: str | None = None,
) -> placement.Ask:
    """What placing ``vm`` asks for: its size, labels, pinned host and cluster.

    A VM in a resource pool stays in the pool's cluster; otherwise ``stay_in_cluster_of``
    (a move's source host) keeps an automatic move inside that host's cluster."""
    cluster_id = pool_cluster(repo, vm.resource_pool_id)
    if cluster_id is None and stay_in_cluster_of is not None:
        src = repo.host(stay_in_cluster_of)
        cluster_id = src.cluster_id if src is not None else None
    return placement.Ask(
        vm_id=vm.vm_id,
        vcpus=vm.vcpus,
        memory_mib=vm.memory_mib,
        labels=vm.placement_labels,
        exclude=frozenset(exclude),
        only=frozenset(only) if only is not None else None,
        cluster_id=cluster_id,
    )


def failover_rooms(
    repo: Repository, vm_id: str = "", exempt: str | None = None
) -> dict[str, placement.Room]:
    """The room ordinary placement has in each cluster with HA on and a failover share,
    but cluster ``exempt`` (cluster id → room; ``vm_id``'s own reservation not counted)."""
    clusters = [
        c
        for c in repo.all("cluster")
        if isinstance(c, cd.Cluster)
        and not c.deleted
        and c.ha.enabled
        and c.ha.failover_capacity_percent > 0
        and c.cluster_id != exempt
    ]
    if not clusters:
        return {}
    hosts = list(repo.all("host"))
    return {
        c.cluster_id: placement.failover_room(
            hosts, c.cluster_id, c.name, c.ha.failover_capacity_percent, vm_id
        )
        for c in clusters
    }


def choose(
    repo: Repository,
    ask: placement.Ask,
    strategy: str,
    hosts: Iterable[Host] | None = None,
    located: Mapping[str, str | None] | None = None,
    *,
    keep_failover: bool = True,
    moving_from: str | None = None,
) -> tuple[list[Host], ve.PlacementDecision]:
    """Placement over the live state. ``keep_failover`` (every placement but an HA
    restart) leaves HA clusters' failover share free; ``moving_from`` (a migration's source
    host) exempts that host's own cluster."""
    rooms: dict[str, placement.Room] = {}
    if keep_failover:
        source = repo.host(moving_from) if moving_from is not None else None
        rooms = failover_rooms(repo, ask.vm_id, source.cluster_id if source else None)
    return placement.choose(
        list(repo.all("host")) if hosts is None else hosts,
        ask,
        rules=rules(repo),
        where=where(repo) if located is None else located,
        strategy=strategy,
        rooms=rooms,
    )
