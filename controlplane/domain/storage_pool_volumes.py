"""Decisions about a pool's volumes: create, clone, import, upload, resize and delete,
each as a task, and the host's answers that move those tasks on.

Kept apart from the pool's own decisions (``storage_pool_lifecycle``) because this is
where space is reserved. Creating, cloning, importing or growing a volume is a decision on
the pool aggregate, appended with the expected-sequence check, so two requests racing for
the last space cannot both win: the second one is decided again against the first one's
reservation and refused (409).

Every volume operation (create, clone, import, upload, resize, delete) is a task: the
decision that starts it also queues its ``task.*`` (target kind ``volume``), the host
taking the request makes it ``running`` and the host's outcome ends it ``succeeded`` or
``failed`` with the host's reason, each in the same message as the volume's own event.
A task still queued (not yet dispatched to its host) can be cancelled (``CancelTask``);
one whose host is disconnected or that outlives its deadline is failed by the storage
process manager (``controlplane.domain.storage_deadlines`` says when and why).

Attachment of a volume to a VM is the VM's business (its disks name ``pool_id`` and the
volume); the route finds the VMs using a volume and passes them in (``DeleteVolume``), so
this module stays pure.
"""

from __future__ import annotations

from controlplane.domain.errors import (
    AlreadyExists,
    InsufficientCapacity,
    InvalidRequest,
    InvalidState,
    UnknownPart,
)
from controlplane.domain.storage_pool_commands import (
    CancelTask,
    CreateVolume,
    DeleteVolume,
    ResizeVolume,
    VolumeDone,
    VolumeFailed,
    VolumeProgress,
    VolumeStarted,
)
from controlplane.domain.storage_pool_state import TASK_TARGET, Pool, Volume
from events import storage as se
from events import task as te
from events.base import Event


def _room(pool: Pool, more: int, what: str) -> None:
    if more <= 0:
        return
    if pool.capacity_bytes <= 0:
        raise InsufficientCapacity(
            f"pool {pool.name} has no known capacity yet: attach it to a host that reports"
            " it, or declare capacity_gib"
        )
    free = pool.limit_bytes - pool.allocated_bytes
    if more > free:
        raise InsufficientCapacity(
            f"pool {pool.name} cannot hold {what}: {more} bytes needed, {max(free, 0)} free of"
            f" {pool.limit_bytes} (capacity {pool.capacity_bytes} x overcommit"
            f" {pool.overcommit:g})"
        )


def _volume(pool: Pool, volume_id: str, failed_too: bool = False) -> Volume:
    vol = pool.volumes.get(volume_id)
    if vol is None or not (vol.live or (failed_too and vol.state == "failed")):
        raise UnknownPart("volume", volume_id)
    return vol


def _ready(vol: Volume, doing: str) -> None:
    if vol.state != "ready":
        raise InvalidState(
            f"volume {vol.name} is {vol.state}: cannot {doing} now", "operation-in-progress"
        )


def _pending(pool: Pool, volume_id: str, operation: se.VolumeOperation) -> Volume | None:
    """The volume if ``operation`` is what it is waiting for (a late or repeated host
    answer about anything else decides nothing)."""
    vol = pool.volumes.get(volume_id)
    if vol is None or not vol.live or vol.operation != operation or vol.state == "ready":
        return None
    return vol


def _queued(task_id: str, operation: str, vol: Volume, key: str = "") -> te.TaskQueued:
    return te.TaskQueued(
        task_id=task_id,
        operation=f"volume.{operation}",
        target_kind=TASK_TARGET,
        target_id=vol.volume_id,
        description=vol.name,
        idempotency_key=key,
    )


# -- requests -------------------------------------------------------------------------------


def create_volume(pool: Pool, c: CreateVolume) -> list[Event]:
    if c.volume_id in pool.volumes:
        return []
    if pool.by_name(c.name) is not None:
        raise AlreadyExists(f"pool {pool.name} already has a volume named {c.name}")
    if pool.pool_type == "iscsi":
        raise InvalidRequest(
            "an iscsi pool's volumes are its target's LUNs: volumes cannot be created in it",
            "pool-read-only",
        )
    if not pool.hosts:
        raise InvalidState(f"pool {pool.name} is attached to no host", "not-attached")
    if c.size_bytes <= 0 and not (c.source_url or c.clone_of):
        raise InvalidRequest("size must be positive", "invalid-size")
    what = f"volume {c.name}"
    if c.clone_of:
        src = _volume(pool, c.clone_of)
        _ready(src, "clone it")
        size = max(c.size_bytes, src.size_bytes)
        what = f"a clone of {src.name}"
    else:
        size = c.size_bytes
    _room(pool, size, what)
    operation = (
        "upload"
        if c.source_url == se.UPLOAD_SOURCE
        else "import"
        if c.source_url
        else "clone"
        if c.clone_of
        else "create"
    )
    return [
        se.VolumeCreated(
            pool_id=pool.pool_id,
            volume_id=c.volume_id,
            name=c.name,
            format=c.format,
            size_bytes=size,
            thin=c.thin,
            clone_of=c.clone_of,
            source_url=c.source_url,
        ),
        te.TaskQueued(
            task_id=c.task_id,
            operation=f"volume.{operation}",
            target_kind=TASK_TARGET,
            target_id=c.volume_id,
            description=c.name,
            idempotency_key=c.idempotency_key,
        ),
    ]


def resize_volume(pool: Pool, command: ResizeVolume) -> list[Event]:
    vol = _volume(pool, command.volume_id)
    if command.size_bytes < vol.size_bytes:
        raise InvalidRequest(
            f"volume {vol.name} is {vol.size_bytes} bytes: volumes only grow",
            "shrink-not-supported",
        )
    _ready(vol, "resize it")
    queued = _queued(command.task_id, "resize", vol, command.idempotency_key)
    if command.size_bytes == vol.size_bytes:
        done = f"volume {vol.name} is already {vol.size_bytes} bytes"
        return [queued, te.TaskSucceeded(task_id=command.task_id, message=done)]
    _room(pool, command.size_bytes - vol.size_bytes, f"{vol.name} grown")
    return [
        se.VolumeResizeRequested(
            pool_id=pool.pool_id, volume_id=vol.volume_id, size_bytes=command.size_bytes
        ),
        queued,
    ]


def delete_volume(pool: Pool, command: DeleteVolume) -> list[Event]:
    vol = _volume(pool, command.volume_id, failed_too=True)
    if vol.state == "deleting":
        return []
    if command.attached and not command.force:
        raise InvalidState(
            f"volume {vol.name} is attached to {', '.join(command.attached)}:"
            " detach it first or delete with force=true",
            "volume-in-use",
        )
    if vol.state not in ("ready", "failed"):
        _ready(vol, "delete it")
    return [
        se.VolumeDeleteRequested(
            pool_id=pool.pool_id,
            volume_id=vol.volume_id,
            force=command.force,
            detached=list(command.attached),
        ),
        _queued(command.task_id, "delete", vol, command.idempotency_key),
    ]


def cancel(pool: Pool, c: CancelTask) -> list[Event]:
    vol = next((v for v in pool.volumes.values() if v.task_id == c.task_id), None)
    if vol is None or not vol.live or vol.state == "ready":
        raise InvalidState(f"task {c.task_id} is no longer pending", "not-cancellable")
    if vol.task_running:
        raise InvalidState(
            f"task {c.task_id} ({vol.operation} of volume {vol.name}) was dispatched to its"
            " host and cannot be cancelled any more",
            "not-cancellable",
        )
    if vol.source_url == se.UPLOAD_SOURCE and vol.state == "creating":
        raise InvalidState(
            "an upload is cancelled by ending its request, not its task", "not-cancellable"
        )
    why = f"cancelled: {c.reason}" if c.reason else "cancelled"
    return [
        se.VolumeFailed(
            pool_id=pool.pool_id, volume_id=vol.volume_id, operation=vol.operation, error=why
        ),
        te.TaskCancelled(task_id=c.task_id, reason=c.reason),
    ]


# -- the host's answers ----------------------------------------------------------------------


def started(pool: Pool, command: VolumeStarted) -> list[Event]:
    pending = _pending(pool, command.volume_id, command.operation)
    if pending is None or not pending.task_id or pending.task_running:
        return []
    return [te.TaskRunning(task_id=pending.task_id, host_id=command.host_id)]


def done(pool: Pool, c: VolumeDone) -> list[Event]:
    vol = pool.volumes.get(c.volume_id)
    if vol is not None and c.operation == "delete" == vol.operation and vol.state == "ready":
        # a deletion whose task failed (host away, deadline) that the host did carry out
        # after all: the volume is gone, whatever its task says
        return [se.VolumeDeleted(pool_id=pool.pool_id, volume_id=vol.volume_id)]
    if vol is None or vol.operation != c.operation or vol.state in ("ready", "failed"):
        return []
    events = _done_events(pool, vol, c)
    if events and vol.task_id:
        if not vol.task_running:  # the outcome came before the host's acknowledgement
            events.append(te.TaskRunning(task_id=vol.task_id, host_id=c.host_id))
        events.append(te.TaskSucceeded(task_id=vol.task_id))
    return events


def _done_events(pool: Pool, vol: Volume, c: VolumeDone) -> list[Event]:
    pid = pool.pool_id
    match vol.state:
        case "creating":
            return [
                se.VolumeReady(
                    pool_id=pid,
                    volume_id=vol.volume_id,
                    host_id=c.host_id,
                    path=c.path,
                    size_bytes=c.size_bytes or vol.size_bytes,
                    allocation_bytes=c.allocation_bytes,
                )
            ]
        case "resizing":
            return [
                se.VolumeResized(
                    pool_id=pid,
                    volume_id=vol.volume_id,
                    size_bytes=max(c.size_bytes, vol.size_bytes),
                    allocation_bytes=c.allocation_bytes,
                )
            ]
        case "deleting":
            return [se.VolumeDeleted(pool_id=pid, volume_id=vol.volume_id)]
    return []


def failed(pool: Pool, command: VolumeFailed) -> list[Event]:
    failing = _pending(pool, command.volume_id, command.operation)
    if failing is None:
        return []
    events: list[Event] = [
        se.VolumeFailed(
            pool_id=pool.pool_id,
            volume_id=failing.volume_id,
            operation=command.operation,
            error=command.error,
        )
    ]
    if failing.task_id:
        events.append(te.TaskFailed(task_id=failing.task_id, error=command.error))
    return events


def progress(pool: Pool, command: VolumeProgress) -> list[Event]:
    making = pool.volumes.get(command.volume_id)
    if making is None or making.state != "creating":
        return []
    percent = max(0, min(99, command.percent))
    progressed: list[Event] = [
        se.VolumeProgressed(
            pool_id=pool.pool_id,
            volume_id=making.volume_id,
            percent=percent,
            message=command.message,
        )
    ]
    if making.task_id:
        progressed.append(
            te.TaskProgressed(task_id=making.task_id, percent=percent, message=command.message)
        )
    return progressed
