"""The storage-pool aggregate's state and how each event changes it (``evolve``).

Kept apart from the decisions so that they, the storage process manager
(``controlplane.domain.storage_deadlines``) and the read side can share one picture of a
pool without importing each other: this module depends on events only.

Capacity accounting reads from here. Every volume holds its virtual size (thin or not)
against ``limit = capacity x overcommit``, where capacity is the pool's declared capacity
or, when none was declared, the largest one an attached host reported. A volume also
remembers the task of its pending (or last) operation, whether its host has taken it
(``task_running``: no longer cancellable) and since when it waits (its deadline's start).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events import storage as se
from events import task as te
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
