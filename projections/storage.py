"""Read models of storage pools, their per-host state and their volumes.

Folded in the batch transaction with the checkpoint (``projections.batch``), row by row
in SQL as the security tables are: pools change at human pace and agents report their
sizes only when they moved. After each event the pool's totals are computed again from
its rows (``_totals``): allocated = the sizes of its live volumes, capacity = the declared
capacity or the largest one a host reported, so replays and duplicates cannot drift them.
The changes announced to live clients have kinds ``storage_pool`` and ``volume``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import msgspec
from psycopg.types.json import Jsonb

from events import storage as se
from events import task as te
from events.codec import StoredEvent
from projections.schema import Conn
from projections.tables import Change

LIVE = ("creating", "ready", "resizing", "deleting")


async def _pool_defined(conn: Conn, s: StoredEvent, e: se.PoolDefined) -> None:
    at = s.envelope.occurred_at
    await conn.execute(
        "INSERT INTO storage_pools (id, name, type, params, shared, overcommit, declared_bytes,"
        " created_at, updated_at, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,"
        " params = EXCLUDED.params, shared = EXCLUDED.shared, overcommit = EXCLUDED.overcommit,"
        " declared_bytes = EXCLUDED.declared_bytes, deleted = false,"
        " updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq",
        [
            e.pool_id,
            e.name,
            e.pool_type,
            Jsonb(msgspec.to_builtins(e.params)),
            e.pool_type in se.SHARED_TYPES,
            e.overcommit,
            e.capacity_bytes,
            at,
            at,
            s.seq,
        ],
    )


async def _pool_event(conn: Conn, s: StoredEvent, e: Any) -> None:
    at = s.envelope.occurred_at
    match e:
        case se.PoolUpdated():
            await conn.execute(
                "UPDATE storage_pools SET name = %s, overcommit = %s, declared_bytes = %s"
                " WHERE id = %s",
                [e.name, e.overcommit, e.capacity_bytes, e.pool_id],
            )
        case se.PoolAttachedToHost():
            await conn.execute(
                "INSERT INTO storage_pool_hosts (pool_id, host_id, updated_at, seq)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (pool_id, host_id) DO NOTHING",
                [e.pool_id, e.host_id, at, s.seq],
            )
        case se.PoolDetachedFromHost():
            await conn.execute(
                "DELETE FROM storage_pool_hosts WHERE pool_id = %s AND host_id = %s",
                [e.pool_id, e.host_id],
            )
        case se.PoolStateObserved():
            await conn.execute(
                "UPDATE storage_pool_hosts SET state = %s, capacity_bytes = %s,"
                " allocation_bytes = %s, available_bytes = %s, error = %s, updated_at = %s,"
                " seq = %s WHERE pool_id = %s AND host_id = %s",
                [
                    e.state,
                    e.capacity_bytes,
                    e.allocation_bytes,
                    e.available_bytes,
                    e.error,
                    at,
                    s.seq,
                    e.pool_id,
                    e.host_id,
                ],
            )
        case se.PoolDeleted():
            await conn.execute("DELETE FROM storage_pool_hosts WHERE pool_id = %s", [e.pool_id])
            await conn.execute("UPDATE storage_pools SET deleted = true WHERE id = %s", [e.pool_id])


async def _volume_created(conn: Conn, s: StoredEvent, e: se.VolumeCreated) -> None:
    at = s.envelope.occurred_at
    operation = "clone" if e.clone_of else "import" if e.source_url else "create"
    await conn.execute(
        "INSERT INTO volumes (id, pool_id, name, format, size_bytes, thin, state, operation,"
        " clone_of, source_url, created_at, updated_at, seq)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'creating', %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO NOTHING",
        [
            e.volume_id,
            e.pool_id,
            e.name,
            e.format,
            e.size_bytes,
            e.thin,
            operation,
            e.clone_of,
            e.source_url,
            at,
            at,
            s.seq,
        ],
    )


async def _volume_event(conn: Conn, s: StoredEvent, e: Any) -> None:
    sets: str
    args: list[Any]
    match e:
        case se.VolumeProgressed():
            sets, args = "progress = %s", [e.percent]
        case se.VolumeReady():
            sets = (
                "state = 'ready', progress = 100, error = '', host_id = %s, path = %s,"
                " size_bytes = %s, allocation_bytes = %s"
            )
            args = [e.host_id, e.path, e.size_bytes, e.allocation_bytes]
        case se.VolumeFailed():
            if e.operation in ("create", "clone", "import"):
                sets, args = "state = 'failed', error = %s", [e.error]
            else:
                sets, args = "state = 'ready', error = %s", [e.error]
        case se.VolumeResizeRequested():
            sets = "state = 'resizing', operation = 'resize', size_bytes = %s"
            args = [e.size_bytes]
        case se.VolumeResized():
            sets = "state = 'ready', error = '', size_bytes = %s, allocation_bytes = %s"
            args = [e.size_bytes, e.allocation_bytes]
        case se.VolumeDeleteRequested():
            sets, args = "state = 'deleting', operation = 'delete'", []
        case se.VolumeDeleted():
            await conn.execute("DELETE FROM volumes WHERE id = %s", [e.volume_id])
            return
        case _:
            return
    await conn.execute(
        f"UPDATE volumes SET {sets}, updated_at = %s, seq = %s WHERE id = %s",
        [*args, s.envelope.occurred_at, s.seq, e.volume_id],
    )


async def _failed_resize(conn: Conn, e: se.VolumeFailed) -> None:
    """A failed resize keeps the size before it: the one recorded before the newest
    ``volume.resize_requested`` of the volume (this batch is already in the audit log)."""
    cur = await conn.execute(
        "SELECT type, data FROM events WHERE aggregate_kind = 'storage_pool'"
        " AND aggregate_id = %s AND type IN ('volume.created', 'volume.ready',"
        " 'volume.resized', 'volume.resize_requested') AND data->>'volume_id' = %s"
        " ORDER BY seq DESC, index DESC LIMIT 50",
        [e.pool_id, e.volume_id],
    )
    rows = await cur.fetchall()
    for i, (kind, _data) in enumerate(rows):
        if kind == "volume.resize_requested" and i + 1 < len(rows):
            await conn.execute(
                "UPDATE volumes SET size_bytes = %s WHERE id = %s",
                [int(rows[i + 1][1]["size_bytes"]), e.volume_id],
            )
            return


async def _totals(conn: Conn, pool_id: str, s: StoredEvent) -> None:
    await conn.execute(
        "UPDATE storage_pools p SET"
        " allocated_bytes = v.allocated, volume_count = v.n,"
        " capacity_bytes = CASE WHEN p.declared_bytes > 0 THEN p.declared_bytes"
        "   ELSE h.capacity END,"
        " limit_bytes = (CASE WHEN p.declared_bytes > 0 THEN p.declared_bytes"
        "   ELSE h.capacity END * p.overcommit)::bigint,"
        " used_bytes = h.used, available_bytes = h.available, host_count = h.n,"
        " state = CASE WHEN p.deleted THEN 'deleted' WHEN h.n = 0 THEN 'detached'"
        "   WHEN h.active = h.n THEN 'active' WHEN h.active > 0 THEN 'degraded'"
        "   WHEN h.pending = h.n THEN 'pending' ELSE h.worst END,"
        " updated_at = %s, seq = %s"
        " FROM (SELECT COALESCE(sum(size_bytes), 0)::bigint AS allocated, count(*)::int AS n"
        "       FROM volumes WHERE pool_id = %s AND state = ANY(%s)) v,"
        "      (SELECT COALESCE(max(capacity_bytes), 0)::bigint AS capacity,"
        "              COALESCE(max(allocation_bytes), 0)::bigint AS used,"
        "              COALESCE(max(available_bytes), 0)::bigint AS available,"
        "              count(*)::int AS n,"
        "              count(*) FILTER (WHERE state = 'active')::int AS active,"
        "              count(*) FILTER (WHERE state = 'pending')::int AS pending,"
        "              COALESCE(min(state) FILTER (WHERE state NOT IN ('active', 'pending')),"
        "                       'inactive') AS worst"
        "       FROM storage_pool_hosts WHERE pool_id = %s) h"
        " WHERE p.id = %s",
        [s.envelope.occurred_at, s.seq, pool_id, list(LIVE), pool_id, pool_id],
    )


_MINE = frozenset(get_args(se.STORAGE_EVENTS)) | {te.TaskQueued}
"""The event classes ``apply`` looks at (a class lookup skips the rest cheaply)."""


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> list[Change]:
    """Fold the storage events of a batch (others are skipped); the rows changed."""
    changed: dict[tuple[str, str], int] = {}
    for s in events:
        e = s.envelope.event
        if type(e) not in _MINE:
            continue
        if isinstance(e, te.TaskQueued) and e.target_kind == "volume":
            await conn.execute(
                "UPDATE volumes SET task_id = %s, updated_at = %s, seq = %s WHERE id = %s",
                [e.task_id, s.envelope.occurred_at, s.seq, e.target_id],
            )
            changed[("volume", e.target_id)] = s.seq
            continue
        if not isinstance(e, se.STORAGE_EVENTS):
            continue
        if isinstance(e, se.PoolDefined):
            await _pool_defined(conn, s, e)
        elif isinstance(e, se.VolumeCreated):
            await _volume_created(conn, s, e)
        elif s.envelope.type.startswith("volume."):
            await _volume_event(conn, s, e)
            if isinstance(e, se.VolumeFailed) and e.operation == "resize":
                await _failed_resize(conn, e)
        else:
            await _pool_event(conn, s, e)
        pool_id: str = e.pool_id
        await _totals(conn, pool_id, s)
        changed[("storage_pool", pool_id)] = s.seq
        volume_id = getattr(e, "volume_id", None)
        if isinstance(volume_id, str):
            changed[("volume", volume_id)] = s.seq
    return [Change(kind, ident, seq) for (kind, ident), seq in changed.items()]
