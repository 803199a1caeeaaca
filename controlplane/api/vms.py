"""Command routes for VMs: create, actions (start, stop) and delete.

Bodies are decoded strictly (unknown fields, wrong types and out-of-range values are
refused before anything is appended). Each accepted command answers ``202`` with the task
id and the stream sequence of its last event (the consistency token for ``?min_seq=``).
``Idempotency-Key`` makes a retried request return the first answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, actor_of, decode_body, meta_for
from controlplane.domain import vm as vd
from controlplane.domain.errors import (
    AlreadyExists,
    InvalidState,
    OperationInProgress,
    UnknownAggregate,
)
from controlplane.handlers import TooMuchContention
from events import problems
from events.base import new_id
from events.permissions import VM_CREATE, VM_DELETE, VM_POWER, requires

Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="1 to 63 letters, digits, '.', '_' or '-'; starts alphanumeric",
    ),
]


class CreateVmBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    vcpus: Annotated[int, msgspec.Meta(ge=1, le=512)]
    memory_mib: Annotated[int, msgspec.Meta(ge=16, le=16 * 1024 * 1024)]
    start: bool = False
    description: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    task_id: str
    seq: int


_IDEM_NAMESPACE = uuid.UUID("6f1c1a52-5d7e-4c39-9a57-1b7f3f1e9a10")
VERBS = ("start", "stop")

routes = web.RouteTableDef()


def _accepted(vm_id: str, task_id: str, seq: int) -> web.Response:
    body = msgspec.json.encode(Accepted(vm_id=vm_id, task_id=task_id, seq=seq))
    return web.Response(status=202, body=body, content_type="application/json")


def _idempotency_key(request: web.Request) -> str:
    raw = request.headers.get("Idempotency-Key", "")
    if len(raw) > 255:
        raise problems.invalid_param("Idempotency-Key must be at most 255 characters")
    return f"{actor_of(request)}|{request.method} {request.path}|{raw}" if raw else ""


def _map_domain_error(exc: Exception, vm_id: str) -> problems.Problem:
    if isinstance(exc, UnknownAggregate):
        return problems.not_found("vm", vm_id)
    if isinstance(exc, OperationInProgress):
        return problems.conflict(str(exc), slug="operation-in-progress")
    if isinstance(exc, InvalidState | AlreadyExists):
        return problems.conflict(str(exc))
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


@routes.post("/api/v1/vms")
@requires(VM_CREATE)
async def create_vm(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateVmBody)
    cmds = request.app[COMMANDS]
    key = _idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return _accepted(seen.target_id, seen.task_id, seen.seq)
    # With a key, the VM id is derived from it so that concurrent duplicates collide on
    # one aggregate and only one VM can ever exist for that key.
    vm_id = str(uuid.uuid5(_IDEM_NAMESPACE, key)) if key else new_id()
    task_id = new_id()
    command = vd.Create(
        vm_id=vm_id,
        task_id=task_id,
        name=body.name,
        vcpus=body.vcpus,
        memory_mib=body.memory_mib,
        start=body.start,
        description=body.description,
        idempotency_key=key,
    )
    try:
        out = await cmds.handler.execute(
            "vm", vm_id, vd.decider(command), meta_for(request, task_id)
        )
    except AlreadyExists:
        if key and (seen := cmds.repo.idempotent(key)) is not None:
            return _accepted(seen.target_id, seen.task_id, seen.seq)
        raise
    except Exception as exc:
        raise _map_domain_error(exc, vm_id) from exc
    return _accepted(vm_id, task_id, out.seq)


async def _command(request: web.Request, vm_id: str, command_of: Any) -> web.Response:
    cmds = request.app[COMMANDS]
    key = _idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return _accepted(seen.target_id, seen.task_id, seen.seq)
    task_id = new_id()
    command = command_of(task_id, key)
    try:
        out = await cmds.handler.execute(
            "vm", vm_id, vd.decider(command), meta_for(request, task_id)
        )
    except Exception as exc:
        if key and (seen := cmds.repo.idempotent(key)) is not None:
            return _accepted(seen.target_id, seen.task_id, seen.seq)
        raise _map_domain_error(exc, vm_id) from exc
    return _accepted(vm_id, task_id, out.seq)


@routes.post("/api/v1/vms/{vm_id}/actions/{verb}")
@requires(VM_POWER)
async def vm_action(request: web.Request) -> web.Response:
    vm_id = request.match_info["vm_id"]
    verb = request.match_info["verb"]
    if verb not in VERBS:
        raise problems.Problem(
            404,
            "unknown-action",
            "No such action",
            f"VMs have no action {verb!r}; known: {', '.join(VERBS)}",
        )
    if await request.read():
        await decode_body(request, _NoBody)
    if verb == "start":
        return await _command(request, vm_id, lambda t, k: vd.Start(task_id=t, idempotency_key=k))
    return await _command(
        request, vm_id, lambda t, k: vd.Stop(task_id=t, force=True, idempotency_key=k)
    )


class _NoBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Actions without options accept an empty body or ``{}``."""


@routes.delete("/api/v1/vms/{vm_id}")
@requires(VM_DELETE)
async def delete_vm(request: web.Request) -> web.Response:
    vm_id = request.match_info["vm_id"]
    return await _command(request, vm_id, lambda t, k: vd.Delete(task_id=t, idempotency_key=k))
