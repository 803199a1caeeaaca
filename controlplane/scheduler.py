"""Placement against the live aggregate cache: the glue between ``placement`` (pure) and
the repository — which hosts, which rules, where every other VM is, which cluster a VM
must stay in. Used by creation (``processes``), migration, evacuation planning, HA and DRS,
so all of them filter and weigh hosts the same way.

Ordinary placements leave the failover share of every cluster with HA on free
(``failover_rooms``, docs/ha.md); an HA restart passes ``keep_failover=False`` (that share
is there for it), and a move inside one cluster is exempt from its own cluster's share (it
adds nothing to the cluster's allocation).

``ask_for`` also says where the VM's pools and networks are (``reach``), so placement
refuses hosts that cannot reach them. ``Placer`` is one controlplane's placement context:
the hosts kept in placement order (``host_index``) and the measured load of each host
(``controlplane.load``), with the fleet's strategy and load weight as they are now.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from controlplane import placement
from controlplane.domain import affinity as ad
from controlplane.domain import cluster as cd
from controlplane.domain import network as nd
from controlplane.domain import storage_pool as sd
from controlplane.domain.host import Host
from controlplane.domain.vm_state import Vm
from controlplane.fleet import Fleet
from controlplane.host_index import Figure, HostIndex
from controlplane.load import LoadView
from controlplane.repository import Repository
from events import vm as ve
from events.settings import Settings

DEFAULT = "default"  # the host's own pool and network: reachable everywhere


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
    pools, networks = reach(repo, vm)
    return placement.Ask(
        vm_id=vm.vm_id,
        vcpus=vm.vcpus,
        memory_mib=vm.memory_mib,
        labels=vm.placement_labels,
        exclude=frozenset(exclude),
        only=frozenset(only) if only is not None else None,
        cluster_id=cluster_id,
        pools=pools,
        networks=networks,
    )


Reach = dict[str, Mapping[str, str] | None]


def reach(repo: Repository, vm: Vm) -> tuple[Reach, Reach]:
    """Where the VM's pools and networks are: id → host id → state (None: no such pool
    or network, or deleted), for every one but ``default``."""
    pools: Reach = {}
    for d in vm.disks:
        if d.pool_id != DEFAULT and d.pool_id not in pools:
            pool: sd.Pool | None = repo.get(sd.KIND, d.pool_id)[0]
            if pool is None or pool.deleted:
                pools[d.pool_id] = None
            else:
                pools[d.pool_id] = {h: s.state for h, s in pool.hosts.items()}
    networks: Reach = {}
    for n in vm.nics:
        if n.network_id != DEFAULT and n.network_id not in networks:
            net: nd.Network | None = repo.get(nd.KIND, n.network_id)[0]
            networks[n.network_id] = net.hosts if net is not None and not net.deleted else None
    return pools, networks


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
    load: Mapping[str, Figure] | None = None,
    load_weight: float = 0.0,
) -> tuple[list[Host], ve.PlacementDecision]:
    """Placement over the live state, every host looked at. ``keep_failover`` (every
    placement but an HA restart) leaves HA clusters' failover share free; ``moving_from``
    (a migration's source host) exempts that host's own cluster."""
    mine = ad.rules_for(rules(repo), ask.vm_id)
    return placement.choose(
        list(repo.all("host")) if hosts is None else hosts,
        ask,
        rules=mine,
        where=(where(repo) if mine else {}) if located is None else located,
        strategy=strategy,
        rooms=_rooms(repo, ask, keep_failover, moving_from),
        load=load,
        load_weight=load_weight,
        now=time.monotonic(),
    )


def _rooms(
    repo: Repository, ask: placement.Ask, keep_failover: bool, moving_from: str | None
) -> dict[str, placement.Room]:
    if not keep_failover:
        return {}
    source = repo.host(moving_from) if moving_from is not None else None
    return failover_rooms(repo, ask.vm_id, source.cluster_id if source else None)


class Placer:
    """Placement for one controlplane: every consumer that places (creation, migration,
    HA) asks here, so they share one host index and one load view."""

    def __init__(self, repo: Repository, settings: Settings, load: LoadView | None = None) -> None:
        self.repo = repo
        self.fleet = Fleet(repo, settings)
        self.load = load
        self.index = HostIndex()
        self._changed: set[str] = set()
        if load is not None:
            load.listen(self._changed.add)

    def figures(self) -> Mapping[str, Figure]:
        """The fresh load figures (empty without a load view)."""
        return self.load.fresh() if self.load is not None else {}

    def choose(
        self,
        ask: placement.Ask,
        *,
        strategy: str | None = None,
        keep_failover: bool = True,
        moving_from: str | None = None,
        hosts: Iterable[Host] | None = None,
    ) -> tuple[list[Host], ve.PlacementDecision]:
        """``scheduler.choose`` over the index (``hosts``: a given subset, all looked at).
        ``strategy`` None: the fleet's ``placement_strategy``."""
        settings = self.fleet.effective()
        strategy = strategy or settings.placement_strategy
        weight = settings.placement_load_weight
        if hosts is not None:
            return choose(
                self.repo,
                ask,
                strategy,
                hosts,
                keep_failover=keep_failover,
                moving_from=moving_from,
                load=self.figures(),
                load_weight=weight,
            )
        figures = self.figures()  # expires stale samples: their hosts join ``_changed``
        self.index.configure(strategy, weight)
        hosts_now = self.repo.all("host")  # a fresh list
        self.index.sync(hosts_now if isinstance(hosts_now, list) else list(hosts_now),
                        figures, self._changed)  # fmt: skip
        self._changed.clear()
        mine = ad.rules_for(rules(self.repo), ask.vm_id)
        return placement.choose(
            self.index,
            ask,
            rules=mine,
            where=where(self.repo) if mine else {},
            rooms=_rooms(self.repo, ask, keep_failover, moving_from),
            now=self.load.clock() if self.load is not None else time.monotonic(),
        )
