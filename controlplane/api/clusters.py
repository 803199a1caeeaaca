"""Command routes for hosts and clusters: maintenance, migration, labels, clusters, pools.

- ``POST /api/v1/vms/{id}/actions/migrate`` ``{"host_id": optional}`` → ``202`` (task
  ``vm.migrate``; ``controlplane.migration``).
- ``POST /api/v1/hosts/{id}/actions/enter-maintenance`` → ``202 {host_id, task_id, seq,
  migrating, staying}``, or ``409`` (nothing appended) naming the VMs that fit nowhere
  else or have a task in flight; ``.../exit-maintenance`` → ``202``.
- ``PATCH /api/v1/hosts/{id}`` ``{"labels": {...}}`` → ``200``.
- ``POST|PATCH|DELETE /api/v1/clusters[/{id}]`` (a creation or rename claims the name,
  unique among live clusters in any case: ``409 name-taken``; ``controlplane.names``),
  ``POST /api/v1/clusters/{id}/actions/add-host|remove-host`` ``{"host_id"}``,
  ``POST|PATCH|DELETE /api/v1/clusters/{id}/resource-pools[/{pool_id}]``.

Reads are in ``projections``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane import evacuation, migration
from controlplane.api.common import (
    COMMANDS,
    Name,
    actor_of,
    check_name,
    claim_name,
    decode_body,
    domain_problem,
    idempotency_key,
    meta_for,
    no_body,
)
from controlplane.domain import cluster as cd
from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain import name_claim
from controlplane.domain.errors import UnknownAggregate
from controlplane.fleet import Fleet
from events import cluster as ce
from events import problems
from events.base import new_id
from events.permissions import CLUSTER_MANAGE, HOST_MAINTENANCE, VM_POWER, requires
from events.settings import Settings

routes = web.RouteTableDef()
SETTINGS: web.AppKey[Settings] = web.AppKey("lq_cluster_settings", Settings)

LabelKey = Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9._/-]+$")]
LabelValue = Annotated[str, msgspec.Meta(max_length=63, pattern=r"^[A-Za-z0-9._-]*$")]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MigrateBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host_id: Id | None = None


class HostPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    labels: dict[LabelKey, LabelValue]


class HostRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host_id: Id


class ClusterBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    description: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    ha: ce.HaSettings = ce.HaSettings()
    drs: ce.DrsSettings = ce.DrsSettings()


class ClusterPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name | None = None
    description: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    ha: ce.HaSettings | None = None
    drs: ce.DrsSettings | None = None


NonNeg = Annotated[int, msgspec.Meta(ge=0, le=1 << 40)]


class PoolBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    cpu_reservation: NonNeg = 0
    cpu_limit: NonNeg = 0
    memory_reservation_mib: NonNeg = 0
    memory_limit_mib: NonNeg = 0


def _json(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(body), content_type="application/json"
    )


def _refused(exc: Exception, kind: str, ident: str) -> problems.Problem:
    if isinstance(exc, UnknownAggregate):
        return problems.not_found(kind, ident)
    return domain_problem(exc, ident)


# ---------------------------------------------------------------- migration


@routes.post("/api/v1/vms/{vm_id}/actions/migrate")
@requires(VM_POWER)
async def migrate_vm(request: web.Request) -> web.Response:
    vm_id = request.match_info["vm_id"]
    body = await decode_body(request, MigrateBody)
    cmds = request.app[COMMANDS]
    key = idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return _json(202, {"vm_id": vm_id, "task_id": seen.task_id, "seq": seen.seq})
    if body.host_id is not None and cmds.repo.host(body.host_id) is None:
        raise problems.Problem(
            422, "unknown-host", "No such host", f"host {body.host_id} is not enrolled"
        )
    task_id = new_id()
    try:
        out = await migration.request_migration(
            cmds.handler,
            vm_id,
            host_id=body.host_id,
            task_id=task_id,
            actor=actor_of(request),
            reason="requested",
            idempotency_key=key,
            causation_id=meta_for(request, task_id).causation_id,
        )
    except Exception as exc:
        raise domain_problem(exc, vm_id) from exc
    return _json(202, {"vm_id": vm_id, "task_id": task_id, "seq": out.seq})


# ---------------------------------------------------------------- hosts


async def _host_command(
    request: web.Request, host_id: str, command: hd.Command, task_id: str
) -> int:
    cmds = request.app[COMMANDS]
    try:
        out = await cmds.handler.execute(
            "host", host_id, hd.decider(command), meta_for(request, task_id)
        )
    except Exception as exc:
        raise _refused(exc, "host", host_id) from exc
    return out.seq


def _host(request: web.Request) -> hd.Host:
    host_id = request.match_info["host_id"]
    host = request.app[COMMANDS].repo.host(host_id)
    if host is None:
        raise problems.not_found("host", host_id)
    return host


@routes.post("/api/v1/hosts/{host_id}/actions/enter-maintenance")
@requires(HOST_MAINTENANCE)
async def enter_maintenance(request: web.Request) -> web.Response:
    await no_body(request)
    host = _host(request)
    if host.state == "maintenance":
        raise problems.conflict(f"host {host.name} is already in maintenance")
    repo = request.app[COMMANDS].repo
    strategy = Fleet(repo, request.app[SETTINGS]).effective().placement_strategy
    plan = evacuation.plan(repo, host.host_id, strategy)
    if not plan.ok:
        raise problems.conflict(
            f"host {host.name} cannot enter maintenance: {plan.refusal()}", slug="cannot-evacuate"
        )
    task_id = new_id()
    command = hm.EnterMaintenance(
        task_id=task_id,
        migrating=tuple(plan.moves),
        staying=tuple(plan.staying),
        idempotency_key=idempotency_key(request),
    )
    seq = await _host_command(request, host.host_id, command, task_id)
    return _json(
        202,
        {
            "host_id": host.host_id,
            "task_id": task_id,
            "seq": seq,
            "migrating": list(plan.moves),
            "staying": plan.staying,
        },
    )


@routes.post("/api/v1/hosts/{host_id}/actions/exit-maintenance")
@requires(HOST_MAINTENANCE)
async def exit_maintenance(request: web.Request) -> web.Response:
    await no_body(request)
    host = _host(request)
    task_id = new_id()
    command = hm.ExitMaintenance(task_id=task_id, idempotency_key=idempotency_key(request))
    seq = await _host_command(request, host.host_id, command, task_id)
    return _json(202, {"host_id": host.host_id, "task_id": task_id, "seq": seq})


@routes.patch("/api/v1/hosts/{host_id}")
@requires(CLUSTER_MANAGE)
async def patch_host(request: web.Request) -> web.Response:
    body = await decode_body(request, HostPatch)
    host = _host(request)
    seq = await _host_command(
        request, host.host_id, hm.SetLabels(labels=dict(body.labels)), new_id()
    )
    return _json(200, {"host_id": host.host_id, "labels": body.labels, "seq": seq})


# ---------------------------------------------------------------- clusters


def _cluster(request: web.Request) -> cd.Cluster:
    cid = request.match_info["cluster_id"]
    found = request.app[COMMANDS].repo.get("cluster", cid)[0]
    if not isinstance(found, cd.Cluster) or found.deleted:
        raise problems.not_found("cluster", cid)
    return found


async def _cluster_command(request: web.Request, cid: str, command: cd.Command) -> int:
    cmds = request.app[COMMANDS]
    try:
        out = await cmds.handler.execute(
            "cluster", cid, cd.decider(command), meta_for(request, new_id())
        )
    except Exception as exc:
        raise _refused(exc, "cluster", cid) from exc
    return out.seq


def _precheck(cid: str, c: cd.Cluster | None, command: cd.Command) -> None:
    """The cluster's own rules before its name is claimed: an invalid request claims none."""
    try:
        cd.decide(c, command)
    except Exception as exc:
        raise _refused(exc, "cluster", cid) from exc


@routes.post("/api/v1/clusters")
@requires(CLUSTER_MANAGE)
async def create_cluster(request: web.Request) -> web.Response:
    body = await decode_body(request, ClusterBody)
    cid = new_id()
    check_name(request, name_claim.CLUSTER, body.name, cid)
    command = cd.Create(
        cluster_id=cid, name=body.name, description=body.description, ha=body.ha, drs=body.drs
    )
    _precheck(cid, None, command)
    await claim_name(request, name_claim.CLUSTER, body.name, cid)
    seq = await _cluster_command(request, cid, command)
    return _json(201, {"cluster_id": cid, "seq": seq})


@routes.patch("/api/v1/clusters/{cluster_id}")
@requires(CLUSTER_MANAGE)
async def update_cluster(request: web.Request) -> web.Response:
    body = await decode_body(request, ClusterPatch)
    c = _cluster(request)
    command = cd.Update(name=body.name, description=body.description, ha=body.ha, drs=body.drs)
    if body.name is not None and body.name != c.name:
        check_name(request, name_claim.CLUSTER, body.name, c.cluster_id)
        _precheck(c.cluster_id, c, command)
        await claim_name(request, name_claim.CLUSTER, body.name, c.cluster_id)
    seq = await _cluster_command(request, c.cluster_id, command)
    return _json(200, {"cluster_id": c.cluster_id, "seq": seq})


@routes.delete("/api/v1/clusters/{cluster_id}")
@requires(CLUSTER_MANAGE)
async def delete_cluster(request: web.Request) -> web.Response:
    c = _cluster(request)
    members = sum(1 for h in request.app[COMMANDS].repo.all("host") if h.cluster_id == c.cluster_id)
    seq = await _cluster_command(request, c.cluster_id, cd.Delete(host_count=members))
    return _json(200, {"cluster_id": c.cluster_id, "seq": seq})


@routes.post("/api/v1/clusters/{cluster_id}/actions/{verb}")
@requires(CLUSTER_MANAGE)
async def cluster_action(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]
    if verb not in ("add-host", "remove-host"):
        raise problems.Problem(
            404, "unknown-action", "No such action", "clusters have add-host and remove-host"
        )
    body = await decode_body(request, HostRef)
    c = _cluster(request)
    host = request.app[COMMANDS].repo.host(body.host_id)
    if host is None:
        raise problems.Problem(
            422, "unknown-host", "No such host", f"host {body.host_id} is not enrolled"
        )
    if verb == "remove-host" and host.cluster_id != c.cluster_id:
        raise problems.conflict(f"host {host.name} is not in cluster {c.name}")
    if verb == "add-host" and host.cluster_id not in (None, c.cluster_id):
        raise problems.conflict(f"host {host.name} is in another cluster: remove it there first")
    target = c.cluster_id if verb == "add-host" else None
    seq = await _host_command(request, host.host_id, hm.SetCluster(cluster_id=target), new_id())
    return _json(200, {"cluster_id": c.cluster_id, "host_id": host.host_id, "seq": seq})


# ---------------------------------------------------------------- resource pools


def _pool_vms(request: web.Request, pool_id: str) -> int:
    return sum(
        1
        for v in request.app[COMMANDS].repo.all("vm")
        if v.resource_pool_id == pool_id and v.state != "deleted"
    )


def _check_reservations(request: web.Request, c: cd.Cluster, pool: ce.PoolSpec) -> None:
    """The pools' reservations together fit in the cluster's hosts (with overcommit)."""
    hosts = [h for h in request.app[COMMANDS].repo.all("host") if h.cluster_id == c.cluster_id]
    others = [p for p in c.pools.values() if p.pool_id != pool.pool_id]
    cpu = sum(p.cpu_reservation for p in others) + pool.cpu_reservation
    mem = sum(p.memory_reservation_mib for p in others) + pool.memory_reservation_mib
    cpu_cap = sum(h.vcpu_capacity for h in hosts)
    mem_cap = sum(h.memory_capacity_mib for h in hosts)
    if cpu > cpu_cap or mem > mem_cap:
        raise problems.conflict(
            f"the pools of {c.name} would reserve {cpu} vCPUs and {mem} MiB; its hosts have "
            f"{cpu_cap} vCPUs and {mem_cap} MiB",
            slug="pool-reservation",
        )


@routes.post("/api/v1/clusters/{cluster_id}/resource-pools")
@requires(CLUSTER_MANAGE)
async def create_pool(request: web.Request) -> web.Response:
    body = await decode_body(request, PoolBody)
    c = _cluster(request)
    pool = ce.PoolSpec(pool_id=new_id(), **msgspec.structs.asdict(body))
    _check_reservations(request, c, pool)
    seq = await _cluster_command(request, c.cluster_id, cd.PutPool(pool=pool, create=True))
    return _json(201, {"cluster_id": c.cluster_id, "pool_id": pool.pool_id, "seq": seq})


@routes.patch("/api/v1/clusters/{cluster_id}/resource-pools/{pool_id}")
@requires(CLUSTER_MANAGE)
async def update_pool(request: web.Request) -> web.Response:
    body = await decode_body(request, PoolBody)
    c = _cluster(request)
    pid = request.match_info["pool_id"]
    pool = ce.PoolSpec(pool_id=pid, **msgspec.structs.asdict(body))
    _check_reservations(request, c, pool)
    seq = await _cluster_command(request, c.cluster_id, cd.PutPool(pool=pool, create=False))
    return _json(200, {"cluster_id": c.cluster_id, "pool_id": pid, "seq": seq})


@routes.delete("/api/v1/clusters/{cluster_id}/resource-pools/{pool_id}")
@requires(CLUSTER_MANAGE)
async def delete_pool(request: web.Request) -> web.Response:
    c = _cluster(request)
    pid = request.match_info["pool_id"]
    command = cd.DeletePool(pool_id=pid, vm_count=_pool_vms(request, pid))
    seq = await _cluster_command(request, c.cluster_id, command)
    return _json(200, {"cluster_id": c.cluster_id, "pool_id": pid, "seq": seq})
