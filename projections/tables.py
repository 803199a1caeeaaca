"""The working set of one batch and the SQL that loads and stores it.

A batch is folded in memory: the rows its events touch are loaded once, every event is
applied in stream order to those Python rows (the ``vms``, ``hosts`` and ``tasks``
modules hold the fold rules), and the final rows are written back once. That keeps stream
order exact across event types while the database sees a handful of statements per batch
instead of one per event. Column lists here must match ``sql/schema.sql``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import msgspec
from psycopg.copy import AsyncQueuedLibpqWriter
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from events.codec import StoredEvent
from events.evolution import UnknownEvent
from projections.schema import Conn

Row = dict[str, Any]

VM_COLUMNS = (
    "id",
    "name",
    "state",
    "host_id",
    "host_name",
    "vcpus",
    "memory_mib",
    "description",
    "start",
    "error",
    "task_id",
    "created_at",
    "updated_at",
    "seq",
    "firmware",
    "machine",
    "boot_order",
    "max_vcpus",
    "max_memory_mib",
    "template",
    "clone_of",
    "has_cloud_init",
    "kernel_boot",
    "disks",
    "nics",
    "snapshots",
    "snapshot_count",
    "current_snapshot_id",
    "ha_enabled",
    "ha_priority",
    "resource_pool_id",
)
VM_LIST_COLUMNS = tuple(c for c in VM_COLUMNS if c != "snapshots")
"""What a page of ``/vms`` shows: everything but the snapshot tree (``/vms/{id}/snapshots``)."""
HOST_COLUMNS = (
    "id",
    "name",
    "state",
    "uri",
    "cpus",
    "memory_mib",
    "cpu_overcommit",
    "memory_overcommit",
    "allocated_vcpus",
    "allocated_memory_mib",
    "vm_count",
    "labels",
    "reason",
    "cluster_id",
    "created_at",
    "updated_at",
    "seq",
)
TASK_COLUMNS = (
    "id",
    "operation",
    "target_kind",
    "target_id",
    "target_name",
    "description",
    "state",
    "progress",
    "message",
    "error",
    "actor",
    "host_id",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
    "seq",
)
RESERVATION_COLUMNS = ("host_id", "vm_id", "vcpus", "memory_mib", "seq")
EVENT_COLUMNS = (
    "seq",
    "index",
    "event_id",
    "type",
    "schema_version",
    "aggregate_kind",
    "aggregate_id",
    "occurred_at",
    "actor",
    "correlation_id",
    "causation_id",
    "traceparent",
    "data",
    "changes",
    "hash",
)
_json = msgspec.json.Encoder()


class Change(msgspec.Struct, frozen=True):
    """One read-model row that a batch changed, as announced to live clients."""

    kind: str
    id: str
    seq: int


class Batch:
    """Rows loaded for one batch, folded in memory, then written back."""

    def __init__(self) -> None:
        self.vms: dict[str, Row] = {}
        self.hosts: dict[str, Row] = {}
        self.tasks: dict[str, Row] = {}
        # (host_id, vm_id) -> reservation row, or None once released
        self.reservations: dict[tuple[str, str], Row | None] = {}
        self.dirty: dict[str, set[str]] = {"vm": set(), "host": set(), "task": set()}
        self.dirty_reservations: set[tuple[str, str]] = set()
        self.renamed_hosts: dict[str, str] = {}
        self.removed_hosts: set[str] = set()  # rows to delete (``host.removed``)
        self._changes: dict[tuple[str, str], int] = {}

    def touch(self, kind: str, key: str, row: Row, se: StoredEvent) -> None:
        """Record that ``row`` took ``se`` into account (its seq and timestamp move on)."""
        row["seq"] = se.seq
        row["updated_at"] = se.envelope.occurred_at
        self.dirty[kind].add(key)
        self._changes[(kind, key)] = se.seq

    def drop_host(self, host_id: str, se: StoredEvent) -> None:
        """Forget a removed host's row (and its reservations) when the batch is stored."""
        self.hosts.pop(host_id, None)
        self.dirty["host"].discard(host_id)
        self.removed_hosts.add(host_id)
        for pair in [p for p in self.reservations if p[0] == host_id]:
            self.reservations.pop(pair)
            self.dirty_reservations.discard(pair)
        self._changes[("host", host_id)] = se.seq

    def changes(self) -> list[Change]:
        return [Change(kind, key, seq) for (kind, key), seq in self._changes.items()]


_PAIRS = "(SELECT p->>0, p->>1 FROM json_array_elements(%s::json) AS p) AS k(h, v)"
"""``(host_id, vm_id)`` pairs sent as one JSON array of two-element arrays."""


async def load(conn: Conn, table: str, ids: Iterable[str]) -> dict[str, Row]:
    """Rows of ``table`` by primary key ``id``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        set_json_loads(msgspec.json.decode, cur)
        await cur.execute(
            f"SELECT * FROM {table} WHERE id = ANY(ARRAY(SELECT json_array_elements_text(%s)))",
            [_json.encode(wanted).decode()],
        )
        return {row["id"]: row for row in await cur.fetchall()}


async def load_reservations(
    conn: Conn, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Row | None]:
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    out: dict[tuple[str, str], Row | None] = dict.fromkeys(wanted)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT r.* FROM reservations r JOIN {_PAIRS} ON r.host_id = k.h AND r.vm_id = k.v",
            [_json.encode(wanted).decode()],
        )
        for row in await cur.fetchall():
            out[(row["host_id"], row["vm_id"])] = row
    return out


async def upsert(
    conn: Conn, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list[Row]
) -> None:
    """Write whole rows, replacing any with the same key: one statement for all of them.

    The rows travel as one JSON array (encoded by msgspec) that PostgreSQL turns into
    records of the table's own row type; each row must hold every column in ``columns``
    (a missing one is refused before anything is sent)."""
    if not rows:
        return
    wanted = set(columns)
    for row in rows:
        if not wanted <= row.keys():
            raise KeyError(f"{table} row {row.get('id')!r} lacks {sorted(wanted - row.keys())}")
    cols = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    await conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols}"
        f" FROM json_populate_recordset(NULL::{table}, %s::json)"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}",
        [_json.encode(rows).decode()],
    )


async def store(conn: Conn, batch: Batch) -> None:
    """Write every row the batch changed."""
    await upsert(conn, "vms", VM_COLUMNS, ("id",), [batch.vms[k] for k in batch.dirty["vm"]])
    if batch.renamed_hosts:
        async with conn.cursor() as cur:
            await cur.executemany(
                "UPDATE vms SET host_name = %(name)s WHERE host_id = %(id)s"
                " AND host_name IS DISTINCT FROM %(name)s",
                [{"id": k, "name": v} for k, v in batch.renamed_hosts.items()],
            )
    if batch.removed_hosts:
        gone_hosts = sorted(batch.removed_hosts)
        await conn.execute("DELETE FROM reservations WHERE host_id = ANY(%s)", [gone_hosts])
        await conn.execute("DELETE FROM hosts WHERE id = ANY(%s)", [gone_hosts])
    await upsert(
        conn, "hosts", HOST_COLUMNS, ("id",), [batch.hosts[k] for k in batch.dirty["host"]]
    )
    await upsert(
        conn, "tasks", TASK_COLUMNS, ("id",), [batch.tasks[k] for k in batch.dirty["task"]]
    )
    kept: list[Row] = []
    gone: list[tuple[str, str]] = []
    for pair in batch.dirty_reservations:
        row = batch.reservations[pair]
        if row is None:
            gone.append(pair)
        else:
            kept.append(row)
    await upsert(conn, "reservations", RESERVATION_COLUMNS, ("host_id", "vm_id"), kept)
    if gone:
        await conn.execute(
            f"DELETE FROM reservations r USING {_PAIRS} WHERE r.host_id = k.h AND r.vm_id = k.v",
            [_json.encode(gone).decode()],
        )


_COPY_STEP = 200
"""Audit rows formatted between two turns of the writer."""


async def append_audit(
    conn: Conn, events: list[StoredEvent], alongside: Iterable[None] = ()
) -> None:
    """COPY every event of the batch into the ``events`` audit log.

    ``data`` is the event encoded by msgspec straight from its struct (under its ``type``
    tag, as on the wire); an event this version could not read keeps its original type
    and data. The rows are handed to PostgreSQL by a writer task while this one formats
    the next ones, then runs the steps of ``alongside`` (the batch's fold): PostgreSQL
    inserts and indexes the rows while Python works, instead of one waiting for the other.
    """
    async with (
        conn.cursor() as cur,
        cur.copy(
            f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN",
            writer=AsyncQueuedLibpqWriter(cur),
        ) as copy,
    ):
        for i, se in enumerate(events, 1):
            env = se.envelope
            ev = env.event
            await copy.write_row(
                (
                    se.seq,
                    se.index,
                    env.event_id,
                    env.type,
                    env.schema_version,
                    env.aggregate_kind,
                    env.aggregate_id,
                    env.occurred_at,
                    env.actor,
                    env.correlation_id,
                    env.causation_id,
                    env.traceparent,
                    _json.encode(ev.data if type(ev) is UnknownEvent else ev).decode(),
                    None if env.changes is None else _json.encode(env.changes).decode(),
                    env.hash,
                )
            )
            if i % _COPY_STEP == 0:
                await asyncio.sleep(0)  # the writer's turn
        for _ in alongside:
            await asyncio.sleep(0)
