"""Decisions about the pool itself: defining, updating and deleting it, attaching it to
hosts and taking in what they report.

Kept apart from the volume decisions (``storage_pool_volumes``) because these change the
pool's shape and its capacity limit, not what it holds: only a shared pool (netfs, rbd,
iscsi) may be attached to more than one host, a pool cannot lose its last host or be
deleted while it holds volumes, and its limit cannot drop below what its volumes already
hold. A ``dir`` pool's path must lie under one of the allowed storage roots.
"""

from __future__ import annotations

import os

import msgspec

from controlplane.domain.errors import InvalidRequest, InvalidState
from controlplane.domain.storage_pool_commands import (
    Attach,
    Define,
    Delete,
    Detach,
    Observe,
    Refresh,
    Update,
)
from controlplane.domain.storage_pool_state import Pool
from events import storage as se
from events.base import Event


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


def define(command: Define) -> list[Event]:
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


def update(pool: Pool, command: Update) -> list[Event]:
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


def attach(pool: Pool, command: Attach) -> list[Event]:
    if command.host_id in pool.hosts:
        return []
    if pool.hosts and not pool.shared:
        raise InvalidState(
            f"a {pool.pool_type} pool is local to one host and {pool.name} is attached"
            f" to {next(iter(pool.hosts))}; only netfs, rbd and iscsi pools are shared",
            "pool-not-shared",
        )
    return [se.PoolAttachedToHost(pool_id=pool.pool_id, host_id=command.host_id)]


def detach(pool: Pool, command: Detach) -> list[Event]:
    if command.host_id not in pool.hosts:
        return []
    if pool.live_volumes() and len(pool.hosts) == 1:
        raise InvalidState(
            f"pool {pool.name} holds {len(pool.live_volumes())} volumes and this is its"
            " only host: delete them first",
            "pool-in-use",
        )
    return [se.PoolDetachedFromHost(pool_id=pool.pool_id, host_id=command.host_id)]


def observe(pool: Pool, c: Observe) -> list[Event]:
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


def refresh(pool: Pool, command: Refresh) -> list[Event]:
    hosts = sorted(pool.hosts) if command.host_id is None else [command.host_id]
    if command.host_id is not None and command.host_id not in pool.hosts:
        raise InvalidState(
            f"pool {pool.name} is not attached to host {command.host_id}", "not-attached"
        )
    if not hosts:
        raise InvalidState(f"pool {pool.name} is attached to no host", "not-attached")
    return [se.PoolRefreshRequested(pool_id=pool.pool_id, host_ids=hosts)]


def delete(pool: Pool, _command: Delete) -> list[Event]:
    if pool.live_volumes():
        raise InvalidState(
            f"pool {pool.name} still holds {len(pool.live_volumes())} volumes",
            "pool-not-empty",
        )
    return [se.PoolDeleted(pool_id=pool.pool_id, host_ids=sorted(pool.hosts))]
