"""Where the webhook dispatcher keeps its state in PostgreSQL, and its intake of events.

Why a schema of its own (``settings.webhook_schema``, ``<db_schema>_webhooks``) and not
the read model: the delivery log is not derived from the event log (it records what
receivers answered), so a read-model rebuild, which drops and recreates the read-model
schema, must never touch it — the same reason metrics live beside the read model.

Three tables and a checkpoint:

* ``subscriptions`` — every webhook as of the intake's checkpoint (folded from
  ``webhook.*`` events in stream order, so an event is matched against the subscriptions
  exactly as they were when it happened);
* ``deliveries`` — one row per (subscription, event): the queue *and* the log. ``pending``
  rows are due at ``next_attempt_at``; ``delivered``, ``failed`` and ``cancelled`` are final;
* ``attempts`` — one row per HTTP attempt (answer code, error, duration).

``intake`` applies one batch of events in one transaction with the checkpoint, so a crash
neither loses nor doubles a delivery: PostgreSQL alone says where to resume.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg

from events import webhook as we
from events.codec import Envelope, StoredEvent, encode, event_data
from projections import schema as rm_schema

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[Any]
CHECKPOINT = "intake"
FINAL = ("delivered", "failed", "cancelled")


def ddl(ws: str) -> str:
    rm_schema.validate(ws)
    return f"""
CREATE SCHEMA IF NOT EXISTS {ws};
CREATE TABLE IF NOT EXISTS {ws}.checkpoint (name text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {ws}.subscriptions (
    id text PRIMARY KEY, name text NOT NULL, url text NOT NULL,
    kinds text[] NOT NULL, types text[] NOT NULL, enabled boolean NOT NULL,
    deleted boolean NOT NULL DEFAULT false, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {ws}.deliveries (
    id text PRIMARY KEY, pos bigserial UNIQUE, webhook_id text NOT NULL,
    event_id text NOT NULL, event_type text NOT NULL, aggregate_kind text NOT NULL,
    aggregate_id text NOT NULL, seq bigint NOT NULL, body bytea NOT NULL,
    status text NOT NULL, attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz, created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz, response_code integer, error text NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS deliveries_due ON {ws}.deliveries (webhook_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_log ON {ws}.deliveries (webhook_id, pos);
CREATE INDEX IF NOT EXISTS deliveries_finished ON {ws}.deliveries (finished_at)
    WHERE status <> 'pending';
CREATE TABLE IF NOT EXISTS {ws}.attempts (
    delivery_id text NOT NULL REFERENCES {ws}.deliveries (id) ON DELETE CASCADE,
    n integer NOT NULL, at timestamptz NOT NULL, response_code integer,
    error text NOT NULL DEFAULT '', duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, n));
INSERT INTO {ws}.checkpoint (name, seq) VALUES ('{CHECKPOINT}', 0) ON CONFLICT DO NOTHING;
"""


async def create(conn: Conn, ws: str) -> None:
    """Create the dispatcher's tables (idempotent)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["lq.ddl." + ws])
        await conn.execute(ddl(ws).encode())


@dataclass
class Subscription:
    id: str
    name: str
    url: str
    kinds: tuple[str, ...]
    types: tuple[str, ...]
    enabled: bool
    deleted: bool = False

    @property
    def active(self) -> bool:
        return self.enabled and not self.deleted

    def wants(self, env: Envelope) -> bool:
        return self.active and we.matches(self.kinds, self.types, env.aggregate_kind, env.type)


async def load(conn: Conn, ws: str) -> tuple[int, dict[str, Subscription]]:
    """The intake checkpoint and every subscription as of it."""
    cur = await conn.execute(f"SELECT seq FROM {ws}.checkpoint WHERE name = %s", [CHECKPOINT])
    row = await cur.fetchone()
    cur = await conn.execute(
        f"SELECT id, name, url, kinds, types, enabled, deleted FROM {ws}.subscriptions"
    )
    subs = {
        r[0]: Subscription(r[0], r[1], r[2], tuple(r[3]), tuple(r[4]), r[5], r[6])
        for r in await cur.fetchall()
    }
    return (int(row[0]) if row else 0), subs


def body_of(env: Envelope) -> bytes:
    """The envelope's JSON as receivers get it (an unknown event's data verbatim)."""
    data = msgspec.to_builtins(env)
    data["event"] = event_data(env)
    return encode(data)


async def _save(conn: Conn, ws: str, sub: Subscription, seq: int) -> None:
    await conn.execute(
        f"INSERT INTO {ws}.subscriptions (id, name, url, kinds, types, enabled, deleted, seq)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
        " name = EXCLUDED.name, url = EXCLUDED.url, kinds = EXCLUDED.kinds,"
        " types = EXCLUDED.types, enabled = EXCLUDED.enabled, deleted = EXCLUDED.deleted,"
        " seq = EXCLUDED.seq",
        [sub.id, sub.name, sub.url, list(sub.kinds), list(sub.types), sub.enabled, sub.deleted,
         seq],
    )  # fmt: skip
    if not sub.active:
        await conn.execute(
            f"UPDATE {ws}.deliveries SET status = 'cancelled', finished_at = now(),"
            " next_attempt_at = NULL, error = %s WHERE webhook_id = %s AND status = 'pending'",
            ["subscription deleted" if sub.deleted else "subscription disabled", sub.id],
        )


def _fold(subs: dict[str, Subscription], env: Envelope) -> Subscription | None:
    """Apply a subscription change to ``subs``; the changed subscription, if any."""
    e = env.event
    if isinstance(e, we.WebhookCreated | we.WebhookUpdated):
        sub = Subscription(e.webhook_id, e.name, e.url, tuple(e.kinds), tuple(e.types), e.enabled)
    elif isinstance(e, we.WebhookDeleted) and e.webhook_id in subs:
        old = subs[e.webhook_id]
        sub = Subscription(old.id, old.name, old.url, old.kinds, old.types, False, True)
    else:
        return None
    subs[sub.id] = sub
    return sub


async def intake(
    conn: Conn, ws: str, subs: dict[str, Subscription], events: Sequence[StoredEvent]
) -> set[str]:
    """Queue a delivery for every (subscription, event) match and move the checkpoint, in
    one transaction; ``subs`` is updated in place. The subscriptions that got deliveries.

    Events at or below the checkpoint are skipped, so a batch read twice queues once."""
    woken: set[str] = set()
    async with conn.transaction():
        cur = await conn.execute(
            f"SELECT seq FROM {ws}.checkpoint WHERE name = %s FOR UPDATE", [CHECKPOINT]
        )
        row = await cur.fetchone()
        done = int(row[0]) if row else 0
        fresh = [se for se in events if se.seq > done]
        if not fresh:
            return woken
        rows: list[tuple[Any, ...]] = []
        for se in fresh:
            env = se.envelope
            changed = _fold(subs, env) if env.aggregate_kind == we.KIND else None
            if changed is not None:
                await _save(conn, ws, changed, se.seq)
            if isinstance(env.event, we.WebhookPinged):
                target = subs.get(env.event.webhook_id)
                targets: Iterable[Subscription] = [target] if target and target.active else []
            else:  # never a subscription's own changes: only pings are about itself
                own = env.aggregate_id if env.aggregate_kind == we.KIND else None
                targets = [s for s in subs.values() if s.id != own and s.wants(env)]
            body: bytes | None = None
            for sub in targets:
                body = body or body_of(env)
                rows.append(
                    (we.delivery_id(sub.id, env.event_id), sub.id, env.event_id, env.type,
                     env.aggregate_kind, env.aggregate_id, se.seq, body)
                )  # fmt: skip
                woken.add(sub.id)
        if rows:
            async with conn.cursor() as c:
                await c.executemany(
                    f"INSERT INTO {ws}.deliveries (id, webhook_id, event_id, event_type,"
                    " aggregate_kind, aggregate_id, seq, body, status, next_attempt_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', now())"
                    " ON CONFLICT (id) DO NOTHING",
                    rows,
                )
        await conn.execute(
            f"UPDATE {ws}.checkpoint SET seq = %s WHERE name = %s",
            [max(se.seq for se in fresh), CHECKPOINT],
        )
    return woken


# -- the worker's queries ---------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    id: str
    event_type: str
    seq: int
    body: bytes
    attempts: int


async def due(conn: Conn, ws: str, webhook_id: str, limit: int = 20) -> list[Due]:
    cur = await conn.execute(
        f"SELECT id, event_type, seq, body, attempts FROM {ws}.deliveries"
        " WHERE webhook_id = %s AND status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at, pos LIMIT %s",
        [webhook_id, limit],
    )
    return [Due(r[0], r[1], int(r[2]), bytes(r[3]), int(r[4])) for r in await cur.fetchall()]


async def next_due_in(conn: Conn, ws: str, webhook_id: str) -> float | None:
    """Seconds until the subscription's next pending delivery is due (None: none pending)."""
    cur = await conn.execute(
        "SELECT EXTRACT(EPOCH FROM (min(next_attempt_at) - now()))::float8"
        f" FROM {ws}.deliveries WHERE webhook_id = %s AND status = 'pending'",
        [webhook_id],
    )
    row = await cur.fetchone()
    return None if row is None or row[0] is None else max(0.0, float(row[0]))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int | None
    error: str
    duration_ms: int
    retry_in_s: float | None
    """Delay before the next attempt; None when this attempt was the last."""


async def record(conn: Conn, ws: str, d: Due, outcome: Outcome) -> None:
    """One attempt's outcome: the attempt row, and the delivery's new status."""
    n = d.attempts + 1
    if outcome.ok:
        status = "delivered"
    elif outcome.retry_in_s is None:
        status = "failed"
    else:
        status = "pending"
    async with conn.transaction():
        await conn.execute(
            f"INSERT INTO {ws}.attempts (delivery_id, n, at, response_code, error, duration_ms)"
            " VALUES (%s, %s, now(), %s, %s, %s) ON CONFLICT DO NOTHING",
            [d.id, n, outcome.code, outcome.error, outcome.duration_ms],
        )
        # a delivery cancelled meanwhile stays cancelled, unless the receiver took it
        await conn.execute(
            f"UPDATE {ws}.deliveries SET attempts = %s, response_code = %s, error = %s,"
            " status = CASE WHEN status = 'cancelled' AND NOT %s THEN 'cancelled' ELSE %s END,"
            " next_attempt_at = CASE WHEN %s = 'pending' AND status <> 'cancelled'"
            "   THEN now() + make_interval(secs => %s) END,"
            " finished_at = CASE WHEN %s <> 'pending' OR status = 'cancelled'"
            "   THEN COALESCE(finished_at, now()) END"
            " WHERE id = %s",
            [n, outcome.code, outcome.error, outcome.ok, status, status,
             outcome.retry_in_s or 0.0, status, d.id],
        )  # fmt: skip


async def prune(conn: Conn, ws: str, older_than_s: float) -> int:
    """Forget finished deliveries older than the retention; how many went."""
    cur = await conn.execute(
        f"DELETE FROM {ws}.deliveries WHERE status <> 'pending'"
        " AND finished_at < now() - make_interval(secs => %s)",
        [older_than_s],
    )
    return cur.rowcount
