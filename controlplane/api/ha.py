"""The HA command route: switch a VM's HA protection on or off and set its priority.

``POST /api/v1/vms/{id}/actions/set-ha {"enabled": true, "priority": 10}`` is synchronous
(``vm.ha_configured``, a task that has already succeeded) and answers ``202`` like every
VM action. It is registered before the generic ``/actions/{verb}`` route.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import (
    COMMANDS,
    accepted,
    decode_body,
    domain_problem,
    idempotency_key,
    meta_for,
)
from controlplane.domain import vm_ha
from events.base import new_id
from events.permissions import VM_CONFIGURE, requires

routes = web.RouteTableDef()


class SetHaBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool
    priority: Annotated[int, msgspec.Meta(ge=0, le=vm_ha.MAX_PRIORITY)] = 0


@routes.post("/api/v1/vms/{vm_id}/actions/set-ha")
@requires(VM_CONFIGURE)
async def set_ha(request: web.Request) -> web.Response:
    body = await decode_body(request, SetHaBody)
    vm_id = request.match_info["vm_id"]
    cmds = request.app[COMMANDS]
    key = idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return accepted(seen.target_id, seen.task_id, seen.seq)
    task_id = new_id()
    command = vm_ha.ConfigureHa(
        task_id=task_id, enabled=body.enabled, priority=body.priority, idempotency_key=key
    )
    try:
        out = await cmds.handler.execute(
            "vm", vm_id, vm_ha.decider(command), meta_for(request, task_id)
        )
    except Exception as exc:
        raise domain_problem(exc, vm_id) from exc
    return accepted(vm_id, task_id, out.seq)
