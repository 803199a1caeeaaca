"""The cluster aggregate (pure): name, HA and DRS settings, and its resource pools.

Host membership is on the host (``host.cluster_changed``), so a host is in at most one
cluster by construction. A pool's ``limit`` is what admission (``controlplane.admission``)
never lets the pool's VMs exceed; its ``reservation`` may not exceed the limit.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from controlplane.domain.errors import (
    AlreadyExists,
    InvalidRequest,
    InvalidState,
    UnknownAggregate,
    UnknownPart,
)
from events import cluster as ce
from events.base import Event
from events.codec import Envelope

KIND = "cluster"


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: str
    name: str
    description: str = ""
    ha: ce.HaSettings = ce.HaSettings()
    drs: ce.DrsSettings = ce.DrsSettings()
    pools: dict[str, ce.PoolSpec] = {}
    deleted: bool = False


class Create(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: str
    name: str
    description: str = ""
    ha: ce.HaSettings = ce.HaSettings()
    drs: ce.DrsSettings = ce.DrsSettings()


class Update(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    description: str | None = None
    ha: ce.HaSettings | None = None
    drs: ce.DrsSettings | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    host_count: int  # hosts still in the cluster (the caller counts them)


class PutPool(msgspec.Struct, frozen=True, kw_only=True):
    pool: ce.PoolSpec
    create: bool


class DeletePool(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    vm_count: int  # VMs still in the pool


Command = Create | Update | Delete | PutPool | DeletePool


def _check_settings(drs: ce.DrsSettings, ha: ce.HaSettings) -> None:
    if not 1 <= drs.threshold <= 5:
        raise InvalidRequest("drs.threshold is 1 to 5")
    if drs.interval_s <= 0 or drs.batch_size < 1 or drs.cooldown_s < 0:
        raise InvalidRequest("drs.interval_s > 0, batch_size >= 1, cooldown_s >= 0")
    if not 0 <= ha.failover_capacity_percent <= 100:
        raise InvalidRequest("ha.failover_capacity_percent is 0 to 100")


def _check_pool(p: ce.PoolSpec) -> None:
    for name in ("cpu_reservation", "cpu_limit", "memory_reservation_mib", "memory_limit_mib"):
        if getattr(p, name) < 0:
            raise InvalidRequest(f"{name} cannot be negative")
    if p.cpu_limit and p.cpu_reservation > p.cpu_limit:
        raise InvalidRequest("cpu_reservation exceeds cpu_limit")
    if p.memory_limit_mib and p.memory_reservation_mib > p.memory_limit_mib:
        raise InvalidRequest("memory_reservation_mib exceeds memory_limit_mib")


def decide(cluster: Cluster | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if cluster is not None and not cluster.deleted:
            raise AlreadyExists(f"cluster {command.cluster_id} already exists")
        _check_settings(command.drs, command.ha)
        return [
            ce.ClusterCreated(
                cluster_id=command.cluster_id,
                name=command.name,
                description=command.description,
                ha=command.ha,
                drs=command.drs,
            )
        ]
    if cluster is None or cluster.deleted:
        raise UnknownAggregate(KIND, cluster.cluster_id if cluster else "")
    cid = cluster.cluster_id
    match command:
        case Update():
            new = ce.ClusterUpdated(
                cluster_id=cid,
                name=command.name if command.name is not None else cluster.name,
                description=command.description
                if command.description is not None
                else cluster.description,
                ha=command.ha or cluster.ha,
                drs=command.drs or cluster.drs,
            )
            _check_settings(new.drs, new.ha)
            old = (cluster.name, cluster.description, cluster.ha, cluster.drs)
            return [] if (new.name, new.description, new.ha, new.drs) == old else [new]
        case Delete():
            if command.host_count:
                raise InvalidState(
                    f"cluster {cluster.name} still has {command.host_count} hosts: "
                    "remove them first"
                )
            return [ce.ClusterDeleted(cluster_id=cid)]
        case PutPool():
            _check_pool(command.pool)
            exists = command.pool.pool_id in cluster.pools
            if command.create:
                if exists:
                    raise AlreadyExists(f"resource pool {command.pool.pool_id} already exists")
                if any(p.name == command.pool.name for p in cluster.pools.values()):
                    raise AlreadyExists(f"cluster {cluster.name} has a pool {command.pool.name}")
                return [ce.ResourcePoolCreated(cluster_id=cid, pool=command.pool)]
            if not exists:
                raise UnknownPart("resource_pool", command.pool.pool_id)
            if cluster.pools[command.pool.pool_id] == command.pool:
                return []
            return [ce.ResourcePoolUpdated(cluster_id=cid, pool=command.pool)]
        case DeletePool():
            if command.pool_id not in cluster.pools:
                raise UnknownPart("resource_pool", command.pool_id)
            if command.vm_count:
                raise InvalidState(f"resource pool still has {command.vm_count} VMs")
            return [ce.ResourcePoolDeleted(cluster_id=cid, pool_id=command.pool_id)]
    raise TypeError(f"unknown command {command!r}")


def evolve(cluster: Cluster | None, env: Envelope) -> Cluster | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ce.ClusterCreated):
        return Cluster(
            cluster_id=e.cluster_id, name=e.name, description=e.description, ha=e.ha, drs=e.drs
        )
    if cluster is None:
        return None
    match e:
        case ce.ClusterUpdated():
            return r(cluster, name=e.name, description=e.description, ha=e.ha, drs=e.drs)
        case ce.ClusterDeleted():
            return r(cluster, deleted=True)
        case ce.ResourcePoolCreated() | ce.ResourcePoolUpdated():
            return r(cluster, pools={**cluster.pools, e.pool.pool_id: e.pool})
        case ce.ResourcePoolDeleted():
            return r(cluster, pools={k: v for k, v in cluster.pools.items() if k != e.pool_id})
    return cluster


def decider(command: Command) -> Callable[[Cluster | None], list[Event]]:
    return lambda cluster: decide(cluster, command)
