"""Removing a host from the inventory: ``DELETE /api/v1/hosts/{id}[?force=true]``.

A host leaves only when nothing depends on it: in maintenance with its evacuation over
(or ``down``/``disconnected`` with ``?force=true``, for a machine that is gone for good) and
with no VM assigned to it or holding capacity on it — otherwise ``409`` naming the VMs
(``vm_ids``), nothing appended. ``host.removed`` ends the host aggregate and the read
model drops its row; then its NATS credentials are revoked, so a still-running agent is
disconnected and its key refused. Enrolling it again (through the join credential) makes
it a new host in the inventory: no labels, no cluster, state ``connected``.
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, domain_problem, flag, meta_for
from controlplane.domain import host as hd
from controlplane.domain import host_maintenance as hm
from controlplane.domain.errors import InvalidState, UnknownAggregate
from controlplane.natsauth import HostKeys
from controlplane.repository import Repository
from events import problems
from events.base import new_id
from events.permissions import HOST_MAINTENANCE, requires

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
HOST_KEYS: web.AppKey[HostKeys] = web.AppKey("lq_host_keys", HostKeys)


def assigned_vms(repo: Repository, host: hd.Host) -> tuple[str, ...]:
    """Live VMs placed on the host or holding capacity there (a migration's target)."""
    live = {v.vm_id for v in repo.all("vm") if v.state != "deleted"}
    on_host = {v.vm_id for v in repo.all("vm") if v.host_id == host.host_id and v.vm_id in live}
    return tuple(sorted(on_host | (set(host.reservations) & live)))


async def _revoke(request: web.Request, host_id: str) -> bool:
    """Revoke the host's NATS user (when NATS authorization is on); False if that failed —
    the host is removed regardless, and ``HostKeys.revoke`` can be repeated by hand."""
    keys = request.app.get(HOST_KEYS)
    if keys is None or not keys.enabled:
        return False
    try:
        await keys.revoke(host_id)
    except Exception:
        log.exception("NATS credentials of removed host %s could not be revoked", host_id)
        return False
    return True


@routes.delete("/api/v1/hosts/{host_id}")
@requires(HOST_MAINTENANCE)
async def remove_host(request: web.Request) -> web.Response:
    host_id = request.match_info["host_id"]
    force = flag(request, "force")
    cmds = request.app[COMMANDS]
    host = cmds.repo.host(host_id)
    if host is None:
        raise problems.not_found("host", host_id)
    vm_ids = assigned_vms(cmds.repo, host)
    command = hm.Remove(force=force, vm_ids=vm_ids)
    try:
        out = await cmds.handler.execute(
            "host", host_id, hd.decider(command), meta_for(request, new_id())
        )
    except UnknownAggregate as exc:
        raise problems.not_found("host", host_id) from exc
    except InvalidState as exc:
        extra = {"vm_ids": list(vm_ids)} if exc.slug == "host-has-vms" else {}
        raise problems.Problem(
            409, exc.slug, "The request conflicts with the current state", str(exc), **extra
        ) from exc
    except Exception as exc:
        raise domain_problem(exc, host_id) from exc
    log.warning("host %s (%s) removed from the inventory", host.name, host_id)
    revoked = await _revoke(request, host_id)
    body = {
        "host_id": host_id,
        "name": host.name,
        "forced": force,
        "credentials_revoked": revoked,
        "seq": out.seq,
    }
    return web.Response(status=200, body=msgspec.json.encode(body), content_type="application/json")
