"""The storage-pool aggregate: a pool, the hosts it is attached to and its volumes.

This module is the aggregate's entry point: ``decide`` routes each command to the module
that decides it, and every name callers use is re-exported here, so they need only
``from controlplane.domain import storage_pool``. The parts, each readable on its own:

- ``storage_pool_state``: the state (``Pool``, its host states and volumes), capacity
  accounting (``limit = capacity x overcommit``) and ``evolve``;
- ``storage_pool_commands``: the commands;
- ``storage_pool_lifecycle``: defining, updating and deleting the pool, attaching it to
  hosts and taking in what they report;
- ``storage_pool_volumes``: the volume operations (create, clone, import, upload, resize,
  delete), each a task, and the host's answers that move those tasks on; its docstring
  says how two requests racing for the last space cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable

from controlplane.domain import storage_pool_lifecycle as lifecycle
from controlplane.domain import storage_pool_volumes as volumes
from controlplane.domain.errors import AlreadyExists, UnknownAggregate
from controlplane.domain.storage_pool_commands import (
    Attach,
    CancelTask,
    Command,
    CreateVolume,
    Define,
    Delete,
    DeleteVolume,
    Detach,
    Observe,
    Refresh,
    ResizeVolume,
    Update,
    VolumeDone,
    VolumeFailed,
    VolumeProgress,
    VolumeStarted,
)
from controlplane.domain.storage_pool_lifecycle import check_path
from controlplane.domain.storage_pool_state import (
    KIND,
    TASK_TARGET,
    HostState,
    Pool,
    Volume,
    evolve,
)
from events.base import Event

__all__ = [
    "KIND",
    "TASK_TARGET",
    "Attach",
    "CancelTask",
    "Command",
    "CreateVolume",
    "Define",
    "Delete",
    "DeleteVolume",
    "Detach",
    "HostState",
    "Observe",
    "Pool",
    "Refresh",
    "ResizeVolume",
    "Update",
    "Volume",
    "VolumeDone",
    "VolumeFailed",
    "VolumeProgress",
    "VolumeStarted",
    "check_path",
    "decide",
    "decider",
    "evolve",
]


def decide(pool: Pool | None, command: Command) -> list[Event]:
    if isinstance(command, Define):
        if pool is not None:
            raise AlreadyExists(f"storage pool {command.pool_id} already exists")
        return lifecycle.define(command)
    if pool is None or pool.deleted:
        raise UnknownAggregate(KIND, pool.pool_id if pool else "")
    match command:
        case Update():
            return lifecycle.update(pool, command)
        case Attach():
            return lifecycle.attach(pool, command)
        case Detach():
            return lifecycle.detach(pool, command)
        case Observe():
            return lifecycle.observe(pool, command)
        case Refresh():
            return lifecycle.refresh(pool, command)
        case Delete():
            return lifecycle.delete(pool, command)
        case CreateVolume():
            return volumes.create_volume(pool, command)
        case ResizeVolume():
            return volumes.resize_volume(pool, command)
        case DeleteVolume():
            return volumes.delete_volume(pool, command)
        case VolumeStarted():
            return volumes.started(pool, command)
        case CancelTask():
            return volumes.cancel(pool, command)
        case VolumeDone():
            return volumes.done(pool, command)
        case VolumeFailed():
            return volumes.failed(pool, command)
        case VolumeProgress():
            return volumes.progress(pool, command)
    raise TypeError(f"unknown command {command!r}")


def decider(command: Command) -> Callable[[Pool | None], list[Event]]:
    return lambda pool: decide(pool, command)
