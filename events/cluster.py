"""Events of clusters and their resource pools (subject ``lq.evt.cluster.<cluster_id>``).

A cluster groups hosts (membership is recorded on each host: ``host.cluster_changed``)
and owns the HA and DRS settings that the HA restarts and the DRS job read. Resource
pools live inside their cluster's aggregate, so a pool's limit is checked against one
version of the cluster: CPU/memory ``reservation`` (guaranteed to the pool's VMs) and
``limit`` (0 = unlimited) that admission never lets the pool's VMs exceed.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.base import Event

DrsMode = Literal["manual", "partial", "full"]


class HaSettings(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    failover_capacity_percent: int = 0  # capacity kept free for restarts (admission control)
    restart_priority: int = 0  # default restart priority of the cluster's HA VMs


class DrsSettings(msgspec.Struct, frozen=True, kw_only=True):
    mode: DrsMode = "manual"
    threshold: int = 3  # 1 (apply only the most valuable moves) .. 5 (apply all)
    interval_s: float = 300.0
    batch_size: int = 5
    cooldown_s: float = 600.0


class PoolSpec(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    name: str
    cpu_reservation: int = 0  # vCPUs
    cpu_limit: int = 0  # vCPUs, 0 = unlimited
    memory_reservation_mib: int = 0
    memory_limit_mib: int = 0  # 0 = unlimited


class ClusterCreated(Event, frozen=True, kw_only=True, tag="cluster.created"):
    cluster_id: str
    name: str
    description: str = ""
    ha: HaSettings = HaSettings()
    drs: DrsSettings = DrsSettings()


class ClusterUpdated(Event, frozen=True, kw_only=True, tag="cluster.updated"):
    """Name, description and settings as they now are."""

    cluster_id: str
    name: str
    description: str
    ha: HaSettings
    drs: DrsSettings


class ClusterDeleted(Event, frozen=True, kw_only=True, tag="cluster.deleted"):
    cluster_id: str


class ResourcePoolCreated(Event, frozen=True, kw_only=True, tag="cluster.pool_created"):
    cluster_id: str
    pool: PoolSpec


class ResourcePoolUpdated(Event, frozen=True, kw_only=True, tag="cluster.pool_updated"):
    cluster_id: str
    pool: PoolSpec


class ResourcePoolDeleted(Event, frozen=True, kw_only=True, tag="cluster.pool_deleted"):
    cluster_id: str
    pool_id: str


CLUSTER_EVENTS = (
    ClusterCreated
    | ClusterUpdated
    | ClusterDeleted
    | ResourcePoolCreated
    | ResourcePoolUpdated
    | ResourcePoolDeleted
)
