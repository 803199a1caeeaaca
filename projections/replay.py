"""Whole-inventory time travel and self-checks: ``lq replay --until`` and ``lq verify``.

``replay_to`` builds every read model as it was at a past sequence or time into a schema
of its own, with the projector's own ``apply_batch``: the API can then answer from it
(``?schema=<name>``), and it can be compared with a snapshot or queried with SQL. A time
bound stops before the first message that occurred after it (one decision = one message
= one time, so a message is never split).

``verify`` rebuilds the read model into a scratch schema and compares it row by row with
the live one. To compare like with like while the projector keeps running, the final
catch-up and the comparison happen in one transaction holding the live schema's apply lock
(the projector's batches wait for it, briefly), exactly as a rebuild's swap does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg

from events import natsauth
from events.bus import Bus
from events.codec import StoredEvent
from events.settings import Settings
from events.store import EventStore, message_batches
from projections import rebuild, schema
from projections.batch import apply_batch
from projections.history import Point

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replayed:
    schema: str
    events: int
    last_seq: int


async def _until(events: AsyncIterator[StoredEvent], point: Point) -> AsyncIterator[StoredEvent]:
    async for se in events:
        if not point.includes(se.seq, se.envelope.occurred_at):
            return
        yield se


async def _drop_secondary_indexes(conn: schema.Conn, name: str) -> list[str]:
    """Drop ``name``'s non-unique indexes; the DDL to create them again after a bulk load."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " JOIN pg_class c ON c.relname = i.indexname"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname"
            " JOIN pg_index x ON x.indexrelid = c.oid"
            " WHERE i.schemaname = %s AND NOT x.indisunique",
            [name],
        )
        found = await cur.fetchall()
        for index, _ in found:
            await conn.execute(f'DROP INDEX {name}."{index}"'.encode())
    return [str(ddl) for _, ddl in found]


async def _pipelined(conn: schema.Conn, batches: AsyncIterator[list[StoredEvent]]) -> int:
    """Apply batches while the next ones are read and decoded (as the projector does)."""
    queue: asyncio.Queue[list[StoredEvent] | None] = asyncio.Queue(maxsize=2)

    async def read() -> None:
        try:
            async for batch in batches:
                await queue.put(batch)
        finally:
            await queue.put(None)

    reader = asyncio.create_task(read(), name="replay-read")
    applied = 0
    try:
        while (batch := await queue.get()) is not None:
            await apply_batch(conn, batch, notify=False)
            applied += len(batch)
        await reader  # surfaces a read error
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return applied


async def replay_with(
    store: EventStore, conn: schema.Conn, into: str, until: Point | None, size: int
) -> Replayed:
    """Build the read models in ``into`` (replacing it) from sequence 1 up to ``until``."""
    into = schema.validate(into)
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {into} CASCADE")
    await schema.create(conn, into)
    deferred = await _drop_secondary_indexes(conn, into)
    await schema.use_schema(conn, into)
    last = await store.last_seq()
    until_seq = min(until.seq, last) if until is not None and until.seq is not None else last
    events = store.replay(from_seq=1, until_seq=until_seq)
    if until is not None and until.time is not None:
        events = _until(events, until)
    applied = await _pipelined(conn, message_batches(events, size))
    async with conn.transaction():
        for ddl in deferred:  # one sort per index instead of one insert per row and index
            await conn.execute(ddl.encode())
    seq = await schema.checkpoint(conn)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('replayed_until', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [str(until) if until is not None else str(seq)],
        )
    log.info("replayed %d events into %s (checkpoint %d)", applied, into, seq)
    return Replayed(into, applied, seq)


async def replay_to(settings: Settings, into: str, until: Point | None) -> Replayed:
    bus = await Bus.connect(
        settings.nats_url, name="lq-replay", auth=natsauth.service_auth(settings)
    )
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await conn.execute("SELECT set_config('TimeZone', 'UTC', false)")
            return await replay_with(bus.store, conn, into, until, settings.projector_batch)
    finally:
        await bus.close()


async def verify_with(
    store: EventStore, conn: schema.Conn, live: str, size: int, keep: bool = False
) -> tuple[int, list[str]]:
    """Rebuild ``live`` into ``<live>_verify`` and compare: (checkpoint, differences)."""
    live = schema.validate(live)
    scratch = live + "_verify"
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
    await schema.create(conn, scratch)
    await schema.use_schema(conn, scratch)
    cur = await conn.execute(
        f"SELECT seq FROM {live}.checkpoint WHERE name = %s", [schema.CHECKPOINT]
    )
    row = await cur.fetchone()
    await conn.commit()
    target = int(row[0]) if row else 0
    await rebuild.replay_into(store, conn, 1, target, size)
    async with conn.transaction():
        await conn.execute(schema.APPLY_LOCK, [live])
        cur = await conn.execute(
            f"SELECT seq FROM {live}.checkpoint WHERE name = %s", [schema.CHECKPOINT]
        )
        row = await cur.fetchone()
        target = int(row[0]) if row else 0
        built = await schema.checkpoint(conn)
        if target > built:
            await rebuild.replay_into(store, conn, built + 1, target, size)
        differences = await rebuild.compare_on(conn, live, scratch)
    if not keep:
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
    await schema.use_schema(conn, live)
    return target, differences


async def verify(settings: Settings, keep: bool = False) -> tuple[int, list[str]]:
    bus = await Bus.connect(
        settings.nats_url, name="lq-verify", auth=natsauth.service_auth(settings)
    )
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            return await verify_with(
                bus.store, conn, settings.db_schema, settings.projector_batch, keep
            )
    finally:
        await bus.close()
