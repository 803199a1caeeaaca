"""Command route for tasks: cancel a queued or running task where that is safe.

A task belongs to one aggregate (the repository indexes each ``task.queued``); VM tasks
and volume tasks can be cancelled (a volume task while it is queued, with
``storage.manage`` too: ``controlplane.api.storage.cancel_task``). A VM task not yet
sent to a host ends ``cancelled`` at once; a graceful shutdown or a clone waiting on its
host is asked to stop (``vm.cancel_requested``) and ends ``cancelled`` when the host gives
up; anything else answers ``409 not-cancellable``. The answer names the VM (or the volume
and its pool) and the cancelled task.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api import storage as storage_api
from controlplane.api.common import COMMANDS, accepted, decode_body, domain_problem, meta_for
from controlplane.domain import vm as vd
from events import problems
from events.permissions import VM_POWER, requires

routes = web.RouteTableDef()


class CancelBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=512)] = ""


@routes.post("/api/v1/tasks/{task_id}/actions/cancel")
@requires(VM_POWER)
async def cancel_task(request: web.Request) -> web.Response:
    body = await decode_body(request, CancelBody)
    task_id = request.match_info["task_id"]
    target = request.app[COMMANDS].repo.task_target(task_id)
    if target is None:
        raise problems.not_found("task", task_id)
    kind, aggregate_id = target
    if kind == "volume":
        return await storage_api.cancel_task(request, aggregate_id, task_id, body.reason)
    if kind != vd.KIND:
        raise problems.conflict(f"{kind} tasks cannot be cancelled", slug="not-cancellable")
    cmds = request.app[COMMANDS]
    command = vd.Cancel(task_id=task_id, reason=body.reason)
    try:
        out = await cmds.handler.execute(
            kind, aggregate_id, vd.decider(command), meta_for(request, task_id)
        )
    except Exception as exc:
        raise domain_problem(exc, aggregate_id) from exc
    return accepted(aggregate_id, task_id, out.seq)
