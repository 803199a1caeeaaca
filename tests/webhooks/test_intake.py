"""The dispatcher's intake on a real PostgreSQL: a batch read twice queues once, an event
meets the subscriptions as they were when it happened, and disabling cancels what waits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from events import auth as ae
from events import webhook as we
from events.base import Event, Meta
from events.codec import StoredEvent, wrap
from projections import webhook_store as store

WS = "lq_webhooks"
META = Meta(actor="user:test", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


def _stored(seq: int, kind: str, ident: str, event: Event) -> StoredEvent:
    (env,) = wrap(kind, ident, [event], META)
    return StoredEvent(seq=seq, index=0, envelope=env)


def _hook(seq: int, enabled: bool = True, updated: bool = False) -> StoredEvent:
    cls = we.WebhookUpdated if updated else we.WebhookCreated
    return _stored(
        seq, "webhook", "w1",
        cls(webhook_id="w1", name="n", url="https://x.example/", kinds=["role"], enabled=enabled),
    )  # fmt: skip


def _role(seq: int, name: str) -> StoredEvent:
    return _stored(seq, "role", name, ae.RoleCreated(role=name))


async def _rows(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    cur = await conn.execute(f"SELECT event_type, seq, status FROM {WS}.deliveries ORDER BY seq")
    return list(await cur.fetchall())


async def test_intake_is_idempotent_and_follows_the_stream_order(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        await store.create(conn, WS)
        position, subs = await store.load(conn, WS)
        assert (position, subs) == (0, {})
        batch = [
            _role(1, "early"),
            _hook(2),
            _role(3, "a"),
            _stored(4, "user", "u", ae.UserCreated(user_id="u", username="u")),
        ]
        assert await store.intake(conn, WS, subs, batch) == {"w1"}
        assert await store.intake(conn, WS, subs, batch) == set()  # read twice: queued once
        assert await _rows(conn) == [("role.created", 3, "pending")]
        # disabling cancels what waits, and events while disabled are not queued
        await store.intake(conn, WS, subs, [_hook(5, enabled=False, updated=True), _role(6, "b")])
        assert await _rows(conn) == [("role.created", 3, "cancelled")]
        await store.intake(conn, WS, subs, [_hook(7, updated=True), _role(8, "c")])
        assert [r[1:] for r in await _rows(conn)] == [(3, "cancelled"), (8, "pending")]
        # a fresh start reads the same subscriptions and checkpoint back
        position, again = await store.load(conn, WS)
        assert position == 8 and again == subs
