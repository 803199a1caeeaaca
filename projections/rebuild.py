"""Rebuild the read model from sequence 1 and swap it in; compare two read models.

Read models are disposable (``lq projections rebuild``, and the projector itself when the
projection version changed): the whole stream is replayed into a scratch schema beside the
live one while the live one keeps serving, then one transaction swaps them. That
transaction holds the same apply lock as every projector batch, so it never interleaves
with one; inside it the scratch schema first catches up to the live checkpoint (events the
running projector applied meanwhile), then the live schema is dropped and the scratch
schema renamed in its place, and ``NOTIFY lq_changes`` tells readers to resync. A running
projector's next batch reads the checkpoint of the new schema (equal to or ahead of its
own position) and carries on: nothing is applied twice and nothing is skipped.

``compare`` lists row-by-row differences between two read models; tests and ``lq verify``
use it to prove that the live read model equals a fresh rebuild.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from events import natsauth, tls
from events.bus import Bus
from events.settings import Settings
from events.store import EventStore, message_batches
from projections import schema
from projections.batch import CHANNEL, apply_batch

log = logging.getLogger(__name__)

TABLES: dict[str, tuple[str, ...]] = {
    "vms": ("id",),
    "hosts": ("id",),
    "tasks": ("id",),
    "reservations": ("host_id", "vm_id"),
    "events": ("seq", "index"),
    "drs_recommendations": ("id",),
    "clusters": ("id",),
    "affinity_rules": ("id",),
    "storage_pools": ("id",),
    "storage_pool_hosts": ("pool_id", "host_id"),
    "volumes": ("id",),
    "networks": ("id",),
    "network_addresses": ("network_id", "vm_id", "nic_id"),
    "security_groups": ("id",),
    "security_group_rules": ("group_id", "rule_id"),
}
"""Every read-model table ``compare`` checks, with its key (all but ``checkpoint``/``meta``)."""


async def rebuild(settings: Settings) -> int:
    """Rebuild ``settings.db_schema`` from the whole stream; the number of events applied."""
    bus = await Bus.connect(
        settings.nats_url,
        name="projections-rebuild",
        tls=tls.nats_client_context(settings),
        auth=natsauth.service_auth(settings),
    )
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            return await rebuild_with(bus.store, conn, settings.db_schema, settings.projector_batch)
    finally:
        await bus.close()


async def replay_into(
    store: EventStore, conn: schema.Conn, from_seq: int, until_seq: int | None, size: int
) -> int:
    """Apply the stream from ``from_seq`` to ``until_seq`` to the read model on the search
    path, without notifications; the number of events applied."""
    applied = 0
    async for batch in message_batches(store.replay(from_seq=from_seq, until_seq=until_seq), size):
        await apply_batch(conn, batch, notify=False)
        applied += len(batch)
    return applied


async def _drop(conn: schema.Conn, name: str) -> None:
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema.validate(name)} CASCADE")


async def _live_checkpoint(conn: schema.Conn, live: str) -> int:
    cur = await conn.execute("SELECT to_regclass(%s)", [live + ".checkpoint"])
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return 0
    cur = await conn.execute(
        f"SELECT seq FROM {live}.checkpoint WHERE name = %s", [schema.CHECKPOINT]
    )
    found = await cur.fetchone()
    return int(found[0]) if found else 0


async def rebuild_with(store: EventStore, conn: schema.Conn, live: str, size: int) -> int:
    """Replay everything into ``<live>_rebuild``, then swap it in (see the module doc)."""
    scratch = schema.validate(live) + "_rebuild"
    await _drop(conn, scratch)
    await schema.create(conn, scratch)
    await schema.use_schema(conn, scratch)
    applied = await replay_into(store, conn, 1, None, size)
    log.info("rebuilt %d events into %s; swapping it in", applied, scratch)
    async with conn.transaction():
        await conn.execute(schema.APPLY_LOCK, [live])
        target = await _live_checkpoint(conn, live)
        built = await schema.checkpoint(conn)
        if target > built:  # the running projector went on meanwhile: catch up under the lock
            applied += await replay_into(store, conn, built + 1, target, size)
        await conn.execute(f"DROP SCHEMA IF EXISTS {live} CASCADE")
        await conn.execute(f"ALTER SCHEMA {scratch} RENAME TO {live}")
        seq = max(target, built)
        await conn.execute(
            "SELECT pg_notify(%s, %s)", [CHANNEL, f'{{"seq": {seq}, "overflow": true}}']
        )
    await schema.use_schema(conn, live)
    log.info("read model %s rebuilt: %d events, checkpoint %d", live, applied, seq)
    return applied


async def compare(settings: Settings, schema_a: str, schema_b: str) -> list[str]:
    """Row-by-row differences between two read models (empty when they are equal)."""
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as conn:
        return await compare_on(conn, schema_a, schema_b)


async def compare_on(conn: schema.Conn, a: str, b: str, limit: int = 20) -> list[str]:
    a, b = schema.validate(a), schema.validate(b)
    out: list[str] = []
    for table, key in TABLES.items():
        join = " AND ".join(f"x.{k} = y.{k}" for k in key)
        keys = ", ".join(f"coalesce(x.{k}, y.{k})::text" for k in key)
        cur = await conn.execute(
            f"SELECT concat_ws('/', {keys}), to_jsonb(x), to_jsonb(y)"
            f" FROM {a}.{table} x FULL JOIN {b}.{table} y ON {join}"
            f" WHERE to_jsonb(x) IS DISTINCT FROM to_jsonb(y) ORDER BY 1 LIMIT %s",
            [limit],
        )
        rows: list[tuple[Any, ...]] = await cur.fetchall()
        for ident, x, y in rows:
            if x is None:
                out.append(f"{table} {ident}: only in {b}")
            elif y is None:
                out.append(f"{table} {ident}: only in {a}")
            else:
                diff = sorted(k for k in x.keys() | y.keys() if x.get(k) != y.get(k))
                out.append(
                    f"{table} {ident}: "
                    + ", ".join(f"{k} {a}={x.get(k)!r} {b}={y.get(k)!r}" for k in diff)
                )
    return out
