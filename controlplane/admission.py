"""Admission of a new VM: its resource pool's CPU and memory limits, and the failover
capacity of the HA cluster it must go to.

A pool's limit (0 = none) bounds the sum of the vCPUs and memory of its live VMs. The
check reads the aggregate cache when the VM is created; two creations racing for the
last room in a pool can both pass (pools are not reserved under one aggregate's
expected-version check the way host capacity is) — a known, documented gap.

A VM bound to one cluster (its resource pool's, or its pinned host's) whose HA keeps a
failover share free is refused with ``409 failover-capacity`` when it would eat into that
share (docs/ha.md). A VM free to go anywhere is not refused here: placement skips the
HA clusters without room, and fails the task with the reason when no host is left.
"""

from __future__ import annotations

from controlplane import scheduler
from controlplane.domain import cluster as cd
from controlplane.domain import vm as vd
from controlplane.repository import Repository
from events import problems


def check_failover(repo: Repository, command: vd.Create) -> None:
    """Raise ``409 failover-capacity`` when the cluster the VM must go to has HA on and
    placing it would leave less than the cluster's failover share free."""
    cluster_id = scheduler.pool_cluster(repo, command.resource_pool_id)
    if cluster_id is None and command.host_id is not None:
        host = repo.host(command.host_id)
        cluster_id = host.cluster_id if host is not None else None
    if cluster_id is None:
        return
    room = scheduler.failover_rooms(repo, command.vm_id).get(cluster_id)
    why = room.refusal(command.vcpus, command.memory_mib) if room is not None else None
    if why is not None:
        raise problems.conflict(
            f"{command.vcpus} vCPUs and {command.memory_mib} MiB do not fit: {why}",
            slug="failover-capacity",
        )


def check_pool(repo: Repository, command: vd.Create) -> None:
    """Raise a problem (422 unknown pool, 409 over its limit) unless the VM may join."""
    pool_id = command.resource_pool_id
    if not pool_id:
        return
    cluster_id = scheduler.pool_cluster(repo, pool_id)
    cluster = repo.get("cluster", cluster_id)[0] if cluster_id else None
    if not isinstance(cluster, cd.Cluster):
        raise problems.Problem(
            422, "unknown-resource-pool", "No such resource pool", f"pool {pool_id} does not exist"
        )
    pool = cluster.pools[pool_id]
    members = [v for v in repo.all("vm") if v.resource_pool_id == pool_id and v.state != "deleted"]
    vcpus = sum(v.vcpus for v in members) + command.vcpus
    memory = sum(v.memory_mib for v in members) + command.memory_mib
    if pool.cpu_limit and vcpus > pool.cpu_limit:
        raise problems.conflict(
            f"resource pool {pool.name} allows {pool.cpu_limit} vCPUs; its VMs would use {vcpus}",
            slug="pool-limit",
        )
    if pool.memory_limit_mib and memory > pool.memory_limit_mib:
        raise problems.conflict(
            f"resource pool {pool.name} allows {pool.memory_limit_mib} MiB; its VMs would use "
            f"{memory}",
            slug="pool-limit",
        )
