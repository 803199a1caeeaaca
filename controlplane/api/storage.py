"""Command routes of storage pools and volumes (reads are in ``projections.storage_api``).

Each request is one decision on a pool aggregate (``controlplane.domain.storage_pool``);
volumes are addressed by id and found in the pool that holds them. Bodies are decoded
strictly; a pool type's parameters are checked by that type's struct
(``events.storage.parse_params``), a dir pool's path against ``storage_allowed_roots``.
Refusals are problem+json and append nothing. A pool's creation or rename claims its name
(``controlplane.names``: unique among live pools, any case; ``409 name-taken``). Deleting
a volume looks up the VMs whose disks use it (``pool_id`` + volume name, or the
``<vm_id>-<disk_id>.qcow2`` naming rule); ``force=true`` asks each of those VMs to detach
the disk first. An upload
(``POST /api/v1/volumes/upload``) reserves its ``Content-Length`` and relays the body to
the pool's host in acknowledged chunks (``events.subjects.upload_subject``).

Every volume operation is a task (``task_id`` in the ``202`` answer, next to
``volume_id``, ``pool_id`` and ``seq``): ``GET /api/v1/tasks/{task_id}`` follows it from
``queued`` through ``running`` (dispatched to the host) to ``succeeded`` or ``failed``
with the host's reason. A request sent again with the same ``Idempotency-Key`` (the VM
routes' ``controlplane.api.common.idempotency_key``) gets the first answer: one volume,
one task. A queued volume task is cancelled through ``POST /api/v1/tasks/{id}/actions/
cancel`` (``cancel_task`` here; ``409 not-cancellable`` once dispatched).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane.api.common import (
    COMMANDS,
    Name,
    check_name,
    claim_name,
    decode_body,
    domain_problem,
    flag,
    idempotency_key,
    meta_for,
    no_body,
)
from controlplane.auth.middleware import principal_of
from controlplane.domain import name_claim
from controlplane.domain import storage_pool as sd
from controlplane.domain import vm as vm_domain
from controlplane.domain.errors import (
    DomainError,
)
from controlplane.handlers import Outcome, TooMuchContention
from events import problems, subjects
from events import storage as se
from events.base import new_id
from events.bus import Bus
from events.codec import encode
from events.errors import StoreUnavailable
from events.permissions import STORAGE_MANAGE, requires
from events.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("lq_storage_settings", Settings)
RELAY: web.AppKey[Bus] = web.AppKey("lq_storage_relay", Bus)
"""The bus that carries uploads to the agents (set by the service)."""
MAX_UPLOAD = 1024 * se.GIB

routes = web.RouteTableDef()

Gib = Annotated[int, msgspec.Meta(ge=1, le=1024 * 1024)]
Overcommit = Annotated[float, msgspec.Meta(ge=0.1, le=100)]
Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
HostId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class PoolBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    type: se.PoolType
    params: dict[str, Any]
    overcommit: Overcommit = 1.0
    capacity_gib: Annotated[int, msgspec.Meta(ge=0, le=1024 * 1024)] = 0
    host_ids: Annotated[list[HostId], msgspec.Meta(max_length=256)] = []


class PoolPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    overcommit: Overcommit | None = None
    capacity_gib: Annotated[int, msgspec.Meta(ge=0, le=1024 * 1024)] | None = None


class HostBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host_id: HostId


class RefreshBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host_id: HostId | None = None


class VolumeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool_id: HostId
    name: Name
    size_gib: Gib
    format: se.VolumeFormat = "qcow2"
    thin: bool = True


class ResizeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    size_gib: Gib


class CloneBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name


class ImportBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``size_gib`` is the space reserved while downloading (the image may not be larger);
    the volume's real size is what the host finds once it is in."""

    pool_id: HostId
    name: Name
    url: Url
    format: se.VolumeFormat = "qcow2"
    size_gib: Gib = 10


class UploadQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool_id: HostId
    name: Name
    format: se.VolumeFormat = "qcow2"


async def execute(
    request: web.Request, pool_id: str, command: sd.Command, task_id: str = ""
) -> Outcome:
    """One decision on the pool; ``task_id`` (a volume operation's) is the correlation id."""
    try:
        return await request.app[COMMANDS].handler.execute(
            sd.KIND, pool_id, sd.decider(command), meta_for(request, task_id or new_id())
        )
    except (DomainError, TooMuchContention) as exc:
        raise domain_problem(exc, pool_id, what="storage-pool") from exc


def _pool(request: web.Request, pool_id: str | None = None) -> sd.Pool:
    ident = pool_id or request.match_info["id"]
    state: sd.Pool | None = request.app[COMMANDS].repo.get(sd.KIND, ident)[0]
    if state is None or state.deleted:
        raise problems.not_found("storage-pool", ident)
    return state


def _volume(request: web.Request) -> tuple[sd.Pool, sd.Volume]:
    ident = request.match_info["id"]
    for pool in request.app[COMMANDS].repo.all(sd.KIND):
        vol = pool.volumes.get(ident)
        if vol is not None and not pool.deleted:
            return pool, vol
    raise problems.not_found("volume", ident)


def _host(request: web.Request, host_id: str) -> None:
    if request.app[COMMANDS].repo.host(host_id) is None:
        raise problems.Problem(
            422, "unknown-host", "The request cannot be carried out", f"no host {host_id}"
        )


def attachments(repo: Any, pool_id: str, name: str) -> list[tuple[str, str]]:
    """``(vm_id, disk_id)`` of every live VM disk that uses volume ``name`` of the pool."""
    found = []
    for vm in repo.all("vm"):
        if vm.state == "deleted":
            continue
        for disk in vm.disks:
            if disk.pool_id != pool_id:
                continue
            if disk.volume in (name, f"/{name}") or (
                not disk.volume and f"{vm.vm_id}-{disk.disk_id}.qcow2" == name
            ):
                found.append((vm.vm_id, disk.disk_id))
    return found


def _answer(status: int = 202, **body: Any) -> web.Response:
    return web.json_response(body, status=status)


def _task_answer(out: Outcome, pool_id: str, volume_id: str) -> web.Response:
    """``202`` naming the volume's task (a repeated request names the task already there)."""
    state: sd.Pool = out.state
    vol = state.volumes.get(volume_id) if state is not None else None
    task_id = vol.task_id if vol is not None else ""
    return _answer(volume_id=volume_id, pool_id=pool_id, task_id=task_id, seq=out.seq)


_IDEM_NAMESPACE = uuid.UUID("8a1c3f0e-5b7d-4e2a-9c61-0d4f7e2b9a53")


def _new_volume_id(key: str) -> str:
    """With an ``Idempotency-Key`` the volume id derives from it, so that concurrent
    duplicates decide on the same volume and only one can ever exist for the key."""
    return str(uuid.uuid5(_IDEM_NAMESPACE, key)) if key else new_id()


def _seen(request: web.Request, key: str) -> web.Response | None:
    """The first answer of a request already made with this ``Idempotency-Key``."""
    if not key:
        return None
    seen = request.app[COMMANDS].repo.idempotent(key)
    if seen is None or seen.target_kind != sd.TASK_TARGET:
        return None
    pool_id = next(
        (p.pool_id for p in request.app[COMMANDS].repo.all(sd.KIND) if seen.target_id in p.volumes),
        "",
    )
    return _answer(volume_id=seen.target_id, pool_id=pool_id, task_id=seen.task_id, seq=seen.seq)


async def _volume_task(
    request: web.Request, pool_id: str, volume_id: str, command: sd.Command, key: str
) -> web.Response:
    """Decide a volume operation; a duplicate of a keyed request answers as the first one
    (also when it lost the race to append)."""
    task_id = getattr(command, "task_id", "")
    try:
        out = await execute(request, pool_id, command, task_id)
    except problems.Problem:
        if (first := _seen(request, key)) is not None:
            return first
        raise
    if (first := _seen(request, key)) is not None:
        return first
    return _task_answer(out, pool_id, volume_id)


# -- pools ------------------------------------------------------------------------------------


@routes.post("/api/v1/storage-pools")
@requires(STORAGE_MANAGE)
async def create_pool(request: web.Request) -> web.Response:
    body = await decode_body(request, PoolBody)
    try:
        params = se.parse_params(body.type, body.params)
    except msgspec.ValidationError as exc:
        raise problems.invalid_body(f"params of a {body.type} pool: {exc}") from exc
    pool_id = new_id()
    check_name(request, name_claim.STORAGE_POOL, body.name, pool_id)
    for host_id in body.host_ids:
        _host(request, host_id)
    if len(body.host_ids) > 1 and body.type not in se.SHARED_TYPES:
        raise problems.conflict(
            f"a {body.type} pool is local to one host; only netfs, rbd and iscsi are shared",
            slug="pool-not-shared",
        )
    command = sd.Define(
        pool_id=pool_id,
        name=body.name,
        pool_type=body.type,
        params=params,
        overcommit=body.overcommit,
        capacity_bytes=body.capacity_gib * se.GIB,
        allowed_roots=request.app[SETTINGS].storage_roots,
    )
    try:  # the pool's own rules first: an invalid request claims nothing
        sd.decide(None, command)
    except DomainError as exc:
        raise domain_problem(exc, pool_id, what="storage-pool") from exc
    await claim_name(request, name_claim.STORAGE_POOL, body.name, pool_id)
    out = await execute(request, pool_id, command)
    for host_id in dict.fromkeys(body.host_ids):
        out = await execute(request, pool_id, sd.Attach(host_id=host_id))
    return _answer(201, pool_id=pool_id, seq=out.seq)


@routes.patch("/api/v1/storage-pools/{id}")
@requires(STORAGE_MANAGE)
async def update_pool(request: web.Request) -> web.Response:
    pool = _pool(request)
    body = await decode_body(request, PoolPatch)
    renamed = body.name is not None and body.name != pool.name
    if body.name is not None and renamed:
        check_name(request, name_claim.STORAGE_POOL, body.name, pool.pool_id)
    command = sd.Update(
        name=body.name,
        overcommit=body.overcommit,
        capacity_bytes=None if body.capacity_gib is None else body.capacity_gib * se.GIB,
    )
    if body.name is not None and renamed:  # its own rules first: if invalid, claim nothing
        try:
            sd.decide(pool, command)
        except DomainError as exc:
            raise domain_problem(exc, pool.pool_id, what="storage-pool") from exc
        await claim_name(request, name_claim.STORAGE_POOL, body.name, pool.pool_id)
    out = await execute(request, pool.pool_id, command)
    return _answer(pool_id=pool.pool_id, seq=out.seq)


@routes.delete("/api/v1/storage-pools/{id}")
@requires(STORAGE_MANAGE)
async def delete_pool(request: web.Request) -> web.Response:
    pool = _pool(request)
    out = await execute(request, pool.pool_id, sd.Delete())
    return _answer(pool_id=pool.pool_id, seq=out.seq)


@routes.post("/api/v1/storage-pools/{id}/actions/{verb}")
@requires(STORAGE_MANAGE)
async def pool_action(request: web.Request) -> web.Response:
    pool = _pool(request)
    verb = request.match_info["verb"]
    command: sd.Command
    if verb in ("attach", "detach"):
        body = await decode_body(request, HostBody)
        _host(request, body.host_id)
        command = (
            sd.Attach(host_id=body.host_id) if verb == "attach" else sd.Detach(host_id=body.host_id)
        )
    elif verb == "refresh":
        refresh = await decode_body(request, RefreshBody)
        command = sd.Refresh(host_id=refresh.host_id)
    else:
        raise problems.not_found("action", verb)
    out = await execute(request, pool.pool_id, command)
    return _answer(pool_id=pool.pool_id, seq=out.seq)


# -- volumes ----------------------------------------------------------------------------------


async def _new_volume(request: web.Request, pool_id: str, command: sd.CreateVolume) -> web.Response:
    return await _volume_task(request, pool_id, command.volume_id, command, command.idempotency_key)


@routes.post("/api/v1/volumes")
@requires(STORAGE_MANAGE)
async def create_volume(request: web.Request) -> web.Response:
    body = await decode_body(request, VolumeBody)
    key = idempotency_key(request)
    if (first := _seen(request, key)) is not None:
        return first
    pool = _pool(request, body.pool_id)
    command = sd.CreateVolume(
        task_id=new_id(),
        volume_id=_new_volume_id(key),
        name=body.name,
        format=body.format,
        size_bytes=body.size_gib * se.GIB,
        thin=body.thin,
        idempotency_key=key,
    )
    return await _new_volume(request, pool.pool_id, command)


@routes.post("/api/v1/volumes/import")
@requires(STORAGE_MANAGE)
async def import_volume(request: web.Request) -> web.Response:
    body = await decode_body(request, ImportBody)
    key = idempotency_key(request)
    if (first := _seen(request, key)) is not None:
        return first
    pool = _pool(request, body.pool_id)
    command = sd.CreateVolume(
        task_id=new_id(),
        volume_id=_new_volume_id(key),
        name=body.name,
        format=body.format,
        size_bytes=body.size_gib * se.GIB,
        source_url=body.url,
        idempotency_key=key,
    )
    return await _new_volume(request, pool.pool_id, command)


@routes.post("/api/v1/volumes/upload")
@requires(STORAGE_MANAGE)
async def upload_volume(request: web.Request) -> web.Response:
    """The body (``Content-Length`` required) becomes a new volume: the route reserves that
    many bytes, then relays the body in chunks to the host that makes the volume; the
    answer comes once the host has every byte (the volume turns ready when it is in)."""
    try:
        query = msgspec.convert(dict(request.query), UploadQuery)
    except msgspec.ValidationError as exc:
        raise problems.invalid_param(str(exc)) from exc
    length = request.content_length
    if length is None:
        raise problems.Problem(
            411, "length-required", "Content-Length is required", "send the file's size"
        )
    if not 0 < length <= MAX_UPLOAD:
        raise problems.invalid_param(f"the upload must have 1 to {MAX_UPLOAD} bytes")
    pool = _pool(request, query.pool_id)
    task_id = new_id()
    command = sd.CreateVolume(
        task_id=task_id,
        volume_id=new_id(),
        name=query.name,
        format=query.format,
        size_bytes=length,
        source_url=se.UPLOAD_SOURCE,
    )
    out = await execute(request, pool.pool_id, command, task_id)
    state: sd.Pool = out.state
    vol = state.volumes[command.volume_id]
    host_id = state.executor()
    try:
        if host_id is None:
            raise StoreUnavailable(f"pool {pool.name} is attached to no host")
        await _relay(request, host_id, state, vol)
    except (StoreUnavailable, ValueError, OSError) as exc:
        failed = sd.VolumeFailed(volume_id=vol.volume_id, operation="import", error=str(exc))
        with contextlib.suppress(DomainError, TooMuchContention, problems.Problem):
            await execute(request, pool.pool_id, failed, task_id)
        raise problems.Problem(
            502,
            "upload-failed",
            "The upload did not reach its host",
            str(exc),
            volume_id=vol.volume_id,
            task_id=task_id,
        ) from exc
    return _task_answer(out, pool.pool_id, vol.volume_id)


async def _relay(request: web.Request, host_id: str, pool: sd.Pool, vol: sd.Volume) -> None:
    bus = request.app[RELAY]
    spec = se.PoolSpec(pool_id=pool.pool_id, pool_type=pool.pool_type, params=pool.params)
    order = se.StorageRequest(
        op_id=f"{vol.volume_id}.receive",
        op="receive",
        pool=spec,
        volume=se.VolumeSpec(
            volume_id=vol.volume_id, name=vol.name, format=vol.format, size_bytes=vol.size_bytes
        ),
        url=se.UPLOAD_SOURCE,
    )
    ack = se.ACK_DECODER.decode(
        await bus.request(subjects.storage_subject(host_id), encode(order), timeout=10.0)
    )
    if not ack.ok:
        raise ValueError(ack.error)
    started = sd.VolumeStarted(volume_id=vol.volume_id, operation="import", host_id=host_id)
    with contextlib.suppress(problems.Problem):
        await execute(request, pool.pool_id, started, vol.task_id)
    subject = subjects.upload_subject(host_id, vol.volume_id)
    first = True
    async for chunk in _chunks(request):
        await _send_chunk(bus, subject, chunk, wait_for_receiver=first)
        first = False
    await _send_chunk(bus, subject, b"", wait_for_receiver=first)


async def _chunks(request: web.Request) -> AsyncIterator[bytes]:
    buffer = b""
    async for data in request.content.iter_chunked(se.UPLOAD_CHUNK):
        buffer += data
        while len(buffer) >= se.UPLOAD_CHUNK:
            yield buffer[: se.UPLOAD_CHUNK]
            buffer = buffer[se.UPLOAD_CHUNK :]
    if buffer:
        yield buffer


async def _send_chunk(bus: Bus, subject: str, chunk: bytes, *, wait_for_receiver: bool) -> None:
    """One chunk, acknowledged; the first waits up to 10 s for the agent to listen."""
    for attempt in range(50 if wait_for_receiver else 1):
        try:
            raw = await bus.request(subject, chunk, timeout=30.0)
            break
        except StoreUnavailable:
            if attempt == (49 if wait_for_receiver else 0):
                raise
            await asyncio.sleep(0.2)
    ack = se.ACK_DECODER.decode(raw)
    if not ack.ok:
        raise ValueError(ack.error)


@routes.delete("/api/v1/volumes/{id}")
@requires(STORAGE_MANAGE)
async def delete_volume(request: web.Request) -> web.Response:
    force = flag(request, "force")
    key = idempotency_key(request)
    if (first := _seen(request, key)) is not None:
        return first
    pool, vol = _volume(request)
    cmds = request.app[COMMANDS]
    using = attachments(cmds.repo, pool.pool_id, vol.name)
    command = sd.DeleteVolume(
        task_id=new_id(),
        volume_id=vol.volume_id,
        force=force,
        attached=tuple(f"{v}/{d}" for v, d in using),
        idempotency_key=key,
    )
    try:  # refuse before detaching anything
        sd.decide(pool, command)
    except DomainError as exc:
        raise domain_problem(exc, vol.volume_id, what="volume") from exc
    for vm_id, disk_id in using if force else ():
        detach = vm_domain.DetachDisk(task_id=new_id(), disk_id=disk_id)
        try:
            await cmds.handler.execute(
                "vm", vm_id, vm_domain.decider(detach), meta_for(request, detach.task_id)
            )
        except (DomainError, TooMuchContention) as exc:
            raise problems.conflict(
                f"volume {vol.name}: VM {vm_id} cannot detach {disk_id}: {exc}",
                slug="volume-in-use",
            ) from exc
    return await _volume_task(request, pool.pool_id, vol.volume_id, command, key)


@routes.post("/api/v1/volumes/{id}/actions/{verb}")
@requires(STORAGE_MANAGE)
async def volume_action(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]
    key = idempotency_key(request) if verb in ("resize", "clone") else ""
    if (first := _seen(request, key)) is not None:
        return first
    pool, vol = _volume(request)
    if verb == "resize":
        body = await decode_body(request, ResizeBody)
        command = sd.ResizeVolume(
            task_id=new_id(),
            volume_id=vol.volume_id,
            size_bytes=body.size_gib * se.GIB,
            idempotency_key=key,
        )
        return await _volume_task(request, pool.pool_id, vol.volume_id, command, key)
    if verb == "clone":
        clone = await decode_body(request, CloneBody)
        new = sd.CreateVolume(
            task_id=new_id(),
            volume_id=_new_volume_id(key),
            name=clone.name,
            format=vol.format,
            size_bytes=vol.size_bytes,
            thin=vol.thin,
            clone_of=vol.volume_id,
            idempotency_key=key,
        )
        return await _new_volume(request, pool.pool_id, new)
    await no_body(request)
    raise problems.not_found("action", verb)


async def cancel_task(
    request: web.Request, volume_id: str, task_id: str, reason: str
) -> web.Response:
    """Cancel a volume's queued task (``POST /api/v1/tasks/{id}/actions/cancel`` finds the
    task's volume and comes here); it needs ``storage.manage`` as well."""
    who = principal_of(request)
    if who is None or not who.allows(STORAGE_MANAGE):
        raise problems.forbidden(STORAGE_MANAGE)
    pool = next(
        (p for p in request.app[COMMANDS].repo.all(sd.KIND) if volume_id in p.volumes), None
    )
    if pool is None or pool.deleted:
        raise problems.conflict(f"task {task_id} is no longer pending", slug="not-cancellable")
    out = await execute(
        request, pool.pool_id, sd.CancelTask(task_id=task_id, reason=reason), task_id
    )
    return _answer(volume_id=volume_id, pool_id=pool.pool_id, task_id=task_id, seq=out.seq)
