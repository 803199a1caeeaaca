"""The storage-pool aggregate: a pool, the hosts it is attached to and its volumes.

Capacity accounting lives here. Every volume holds its virtual size (thin or not) against
``limit = capacity x overcommit``, where capacity is the pool's declared capacity or, when
none was declared, the largest one an attached host reported. Creating, cloning, importing
or growing a volume is a decision on this aggregate, appended with the expected-sequence
check, so two requests racing for the last space cannot both win: the second one is
decided again against the first one's reservation and refused (409).

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

import os
from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import (
    AlreadyExists,
    InsufficientCapacity,
    InvalidRequest,
    InvalidState,
    UnknownAggregate,
    UnknownPart,
)
from events import storage as se
from events import task as te
from events.base import Event
from events.codec import Envelope

KIND = se.KIND
TASK_TARGET = "volume"
_LIVE = ("creating", "ready", "resizing", "deleting")


class HostState(msgspec.Struct, frozen=True, kw_only=True):
    state: se.PoolState = "pending"
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0
    error: str = ""


class Volume(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    name: str
    format: se.VolumeFormat
    size_bytes: int
    thin: bool = True
    state: se.VolumeState = "creating"
    operation: se.VolumeOperation = "create"
    previous_size: int = 0  # the size before a pending resize (kept if it fails)
    clone_of: str = ""
    source_url: str = ""
    host_id: str = ""
    path: str = ""
    error: str = ""
    task_id: str = ""  # the task of the pending (or last) operation
    task_running: bool = False  # dispatched to the host (no longer cancellable)
    since: datetime | None = None  # the pending operation's last step (its deadline's start)

    @property
    def live(self) -> bool:
        return self.state in _LIVE


class Pool(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    name: str
    pool_type: se.PoolType
    params: se.PoolParams
    overcommit: float = 1.0
    declared_bytes: int = 0
    hosts: dict[str, HostState] = {}
    volumes: dict[str, Volume] = {}
    deleted: bool = False

    @property
    def shared(self) -> bool:
        return self.pool_type in se.SHARED_TYPES

    @property
    def capacity_bytes(self) -> int:
        if self.declared_bytes:
            return self.declared_bytes
        return max((h.capacity_bytes for h in self.hosts.values()), default=0)

    @property
    def limit_bytes(self) -> int:
        return int(self.capacity_bytes * self.overcommit)

    @property
    def allocated_bytes(self) -> int:
        return sum(v.size_bytes for v in self.volumes.values() if v.live)

    def live_volumes(self) -> list[Volume]:
        return [v for v in self.volumes.values() if v.live]

    def by_name(self, name: str) -> Volume | None:
        return next((v for v in self.volumes.values() if v.live and v.name == name), None)

    def executor(self) -> str | None:
        """The host that carries out volume operations: an active one, else any attached."""
        active = sorted(h for h, s in self.hosts.items() if s.state == "active")
        if active:
            return active[0]
        return min(self.hosts) if self.hosts else None


# -- commands -------------------------------------------------------------------------------


class Define(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    name: str
    pool_type: se.PoolType
    params: se.PoolParams
    overcommit: float = 1.0
    capacity_bytes: int = 0
    allowed_roots: tuple[str, ...] = ()


class Update(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    overcommit: float | None = None
    capacity_bytes: int | None = None


class Attach(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str


class Detach(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str


class Observe(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    state: se.PoolState
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0
    error: str = ""


class Refresh(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


class CreateVolume(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    volume_id: str
    name: str
    format: se.VolumeFormat = "qcow2"
    size_bytes: int
    thin: bool = True
    clone_of: str = ""
    source_url: str = ""
    idempotency_key: str = ""


class ResizeVolume(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    volume_id: str
    size_bytes: int
    idempotency_key: str = ""


class DeleteVolume(msgspec.Struct, frozen=True, kw_only=True):
    """``attached`` = ``vm_id/disk_id`` of every VM disk using it (the route finds them);
    without ``force`` any attachment refuses the deletion."""

    task_id: str
    volume_id: str
    force: bool = False
    attached: tuple[str, ...] = ()
    idempotency_key: str = ""


class CancelTask(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel a volume's task while it is still queued: the operation never reaches the
    host (a creation gives its space back, a resize or deletion leaves the volume as it
    was). Once dispatched to the host it cannot be taken back (``not-cancellable``)."""

    task_id: str
    reason: str = ""


class VolumeDone(msgspec.Struct, frozen=True, kw_only=True):
    """A host finished the volume's pending operation."""

    volume_id: str
    operation: se.VolumeOperation
    host_id: str
    path: str = ""
    size_bytes: int = 0
    allocation_bytes: int = 0


class VolumeStarted(msgspec.Struct, frozen=True, kw_only=True):
    """The host took the volume's pending operation: its task is running."""

    volume_id: str
    operation: se.VolumeOperation
    host_id: str


class VolumeFailed(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    operation: se.VolumeOperation
    error: str


class VolumeProgress(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    percent: int
    message: str = ""


Command = (
    Define
    | Update
    | Attach
    | Detach
    | Observe
    | Refresh
    | Delete
    | CreateVolume
    | ResizeVolume
    | DeleteVolume
    | VolumeStarted
    | VolumeDone
    | VolumeFailed
    | VolumeProgress
    | CancelTask
)


def check_path(path: str, roots: tuple[str, ...]) -> str:
    """``path`` normalised, if it lies strictly under one of ``roots``."""
    norm = os.path.normpath(path)
    if norm != path.rstrip("/") or "/../" in path + "/":
        raise InvalidRequest(f"path {path!r} is not a normalised absolute path", "invalid-path")
    for root in roots:
        if norm.startswith(root.rstrip("/") + "/"):
            return norm
    raise InvalidRequest(
        f"path {path} is not under an allowed storage root ({', '.join(roots) or 'none set'};"
        " setting storage_allowed_roots)",
        "path-not-allowed",
    )


def _define(command: Define) -> list[Event]:
    params = command.params
    if command.pool_type == "dir":
        params = msgspec.structs.replace(
            params, path=check_path(params.path, command.allowed_roots)
        )
    _limits(command.overcommit, command.capacity_bytes)
    return [
        se.PoolDefined(
            pool_id=command.pool_id,
            name=command.name,
            pool_type=command.pool_type,
            params=params,
            overcommit=command.overcommit,
            capacity_bytes=command.capacity_bytes,
        )
    ]


def _limits(overcommit: float, capacity_bytes: int) -> None:
    if not 0.1 <= overcommit <= 100:
        raise InvalidRequest("overcommit must be between 0.1 and 100", "invalid-overcommit")
    if capacity_bytes < 0:
        raise InvalidRequest("capacity must not be negative", "invalid-capacity")


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


def decide(pool: Pool | None, command: Command) -> list[Event]:
    if isinstance(command, Define):
        if pool is not None:
            raise AlreadyExists(f"storage pool {command.pool_id} already exists")
        return _define(command)
    if pool is None or pool.deleted:
        raise UnknownAggregate(KIND, pool.pool_id if pool else "")
    pid = pool.pool_id
    match command:
        case Update():
            return _update(pool, command)
        case Attach():
            if command.host_id in pool.hosts:
                return []
            if pool.hosts and not pool.shared:
                raise InvalidState(
                    f"a {pool.pool_type} pool is local to one host and {pool.name} is attached"
                    f" to {next(iter(pool.hosts))}; only netfs, rbd and iscsi pools are shared",
                    "pool-not-shared",
                )
            return [se.PoolAttachedToHost(pool_id=pid, host_id=command.host_id)]
        case Detach():
            if command.host_id not in pool.hosts:
                return []
            if pool.live_volumes() and len(pool.hosts) == 1:
                raise InvalidState(
                    f"pool {pool.name} holds {len(pool.live_volumes())} volumes and this is its"
                    " only host: delete them first",
                    "pool-in-use",
                )
            return [se.PoolDetachedFromHost(pool_id=pid, host_id=command.host_id)]
        case Observe():
            return _observe(pool, command)
        case Refresh():
            hosts = sorted(pool.hosts) if command.host_id is None else [command.host_id]
            if command.host_id is not None and command.host_id not in pool.hosts:
                raise InvalidState(
                    f"pool {pool.name} is not attached to host {command.host_id}", "not-attached"
                )
            if not hosts:
                raise InvalidState(f"pool {pool.name} is attached to no host", "not-attached")
            return [se.PoolRefreshRequested(pool_id=pid, host_ids=hosts)]
        case Delete():
            if pool.live_volumes():
                raise InvalidState(
                    f"pool {pool.name} still holds {len(pool.live_volumes())} volumes",
                    "pool-not-empty",
                )
            return [se.PoolDeleted(pool_id=pid, host_ids=sorted(pool.hosts))]
        case CreateVolume():
            return _create_volume(pool, command)
        case ResizeVolume():
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
                    pool_id=pid, volume_id=vol.volume_id, size_bytes=command.size_bytes
                ),
                queued,
            ]
        case DeleteVolume():
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
                    pool_id=pid,
                    volume_id=vol.volume_id,
                    force=command.force,
                    detached=list(command.attached),
                ),
                _queued(command.task_id, "delete", vol, command.idempotency_key),
            ]
        case VolumeStarted():
            pending = _pending(pool, command.volume_id, command.operation)
            if pending is None or not pending.task_id or pending.task_running:
                return []
            return [te.TaskRunning(task_id=pending.task_id, host_id=command.host_id)]
        case CancelTask():
            return _cancel(pool, command)
        case VolumeDone():
            return _done(pool, command)
        case VolumeFailed():
            failing = _pending(pool, command.volume_id, command.operation)
            if failing is None:
                return []
            events: list[Event] = [
                se.VolumeFailed(
                    pool_id=pid,
                    volume_id=failing.volume_id,
                    operation=command.operation,
                    error=command.error,
                )
            ]
            if failing.task_id:
                events.append(te.TaskFailed(task_id=failing.task_id, error=command.error))
            return events
        case VolumeProgress():
            making = pool.volumes.get(command.volume_id)
            if making is None or making.state != "creating":
                return []
            percent = max(0, min(99, command.percent))
            progressed: list[Event] = [
                se.VolumeProgressed(
                    pool_id=pid,
                    volume_id=making.volume_id,
                    percent=percent,
                    message=command.message,
                )
            ]
            if making.task_id:
                progressed.append(
                    te.TaskProgressed(
                        task_id=making.task_id, percent=percent, message=command.message
                    )
                )
            return progressed
    raise TypeError(f"unknown command {command!r}")


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


def _cancel(pool: Pool, c: CancelTask) -> list[Event]:
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


def _update(pool: Pool, command: Update) -> list[Event]:
    name = pool.name if command.name is None else command.name
    overcommit = pool.overcommit if command.overcommit is None else command.overcommit
    declared = pool.declared_bytes if command.capacity_bytes is None else command.capacity_bytes
    _limits(overcommit, declared)
    if (name, overcommit, declared) == (pool.name, pool.overcommit, pool.declared_bytes):
        return []
    after = msgspec.structs.replace(pool, overcommit=overcommit, declared_bytes=declared)
    if after.capacity_bytes and after.allocated_bytes > after.limit_bytes:
        raise InvalidState(
            f"pool {pool.name} already holds {after.allocated_bytes} bytes of volumes, more than"
            f" the new limit of {after.limit_bytes}",
            "insufficient-capacity",
        )
    return [
        se.PoolUpdated(
            pool_id=pool.pool_id, name=name, overcommit=overcommit, capacity_bytes=declared
        )
    ]


def _observe(pool: Pool, c: Observe) -> list[Event]:
    if c.host_id not in pool.hosts:
        return []
    old = pool.hosts[c.host_id]
    same = (
        old.state == c.state
        and old.error == c.error
        and _near(old.capacity_bytes, c.capacity_bytes)
        and _near(old.allocation_bytes, c.allocation_bytes)
        and _near(old.available_bytes, c.available_bytes)
    )
    if same:
        return []
    return [
        se.PoolStateObserved(
            pool_id=pool.pool_id,
            host_id=c.host_id,
            state=c.state,
            capacity_bytes=c.capacity_bytes,
            allocation_bytes=c.allocation_bytes,
            available_bytes=c.available_bytes,
            error=c.error,
        )
    ]


def _near(a: int, b: int) -> bool:
    """Sizes that moved by less than 1 MiB or 0.5 % are not news (a busy file system)."""
    return abs(a - b) < max(1024 * 1024, max(a, b) // 200)


def _create_volume(pool: Pool, c: CreateVolume) -> list[Event]:
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


def _done(pool: Pool, c: VolumeDone) -> list[Event]:
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


# -- evolve ---------------------------------------------------------------------------------


def _set_volume(pool: Pool, vol: Volume) -> Pool:
    vols = dict(pool.volumes)
    vols[vol.volume_id] = vol
    return msgspec.structs.replace(pool, volumes=vols)


def evolve(pool: Pool | None, env: Envelope) -> Pool | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, se.PoolDefined):
        return Pool(
            pool_id=e.pool_id,
            name=e.name,
            pool_type=e.pool_type,
            params=e.params,
            overcommit=e.overcommit,
            declared_bytes=e.capacity_bytes,
        )
    if pool is None:
        return None
    match e:
        case se.PoolUpdated():
            return r(pool, name=e.name, overcommit=e.overcommit, declared_bytes=e.capacity_bytes)
        case se.PoolAttachedToHost():
            return r(pool, hosts={**pool.hosts, e.host_id: HostState()})
        case se.PoolDetachedFromHost():
            return r(pool, hosts={h: s for h, s in pool.hosts.items() if h != e.host_id})
        case se.PoolStateObserved() if e.host_id in pool.hosts:
            state = HostState(
                state=e.state,
                capacity_bytes=e.capacity_bytes,
                allocation_bytes=e.allocation_bytes,
                available_bytes=e.available_bytes,
                error=e.error,
            )
            return r(pool, hosts={**pool.hosts, e.host_id: state})
        case se.PoolDeleted():
            return r(pool, deleted=True, hosts={})
        case te.TaskQueued() if e.target_kind == TASK_TARGET and e.target_id in pool.volumes:
            queued = r(
                pool.volumes[e.target_id],
                task_id=e.task_id,
                task_running=False,
                since=env.occurred_at,
            )
            return _set_volume(pool, queued)
        case te.TaskRunning() | te.TaskProgressed():
            running = next((v for v in pool.volumes.values() if v.task_id == e.task_id), None)
            if running is None:
                return pool
            return _set_volume(pool, r(running, task_running=True, since=env.occurred_at))
        case se.VolumeCreated():
            return _set_volume(
                pool,
                Volume(
                    volume_id=e.volume_id,
                    name=e.name,
                    format=e.format,
                    size_bytes=e.size_bytes,
                    thin=e.thin,
                    clone_of=e.clone_of,
                    source_url=e.source_url,
                    operation="clone" if e.clone_of else "import" if e.source_url else "create",
                ),
            )
    vol = pool.volumes.get(str(getattr(e, "volume_id", "")))
    if vol is None:
        return pool
    match e:
        case se.VolumeReady():
            vol = r(
                vol,
                state="ready",
                host_id=e.host_id,
                path=e.path,
                size_bytes=e.size_bytes,
                error="",
            )
        case se.VolumeFailed():
            if e.operation in ("create", "clone", "import"):
                vol = r(vol, state="failed", error=e.error)
            elif e.operation == "resize":
                vol = r(vol, state="ready", size_bytes=vol.previous_size, error=e.error)
            else:
                vol = r(vol, state="ready", error=e.error)
        case se.VolumeResizeRequested():
            vol = r(
                vol,
                state="resizing",
                operation="resize",
                previous_size=vol.size_bytes,
                size_bytes=e.size_bytes,
            )
        case se.VolumeResized():
            vol = r(vol, state="ready", size_bytes=e.size_bytes, error="")
        case se.VolumeDeleteRequested():
            vol = r(vol, state="deleting", operation="delete")
        case se.VolumeDeleted():
            return r(pool, volumes={k: v for k, v in pool.volumes.items() if k != vol.volume_id})
    return _set_volume(pool, vol)


def decider(command: Command) -> Callable[[Pool | None], list[Event]]:
    return lambda pool: decide(pool, command)
