"""Webhook queries: subscriptions folded from the audit log, deliveries from the dispatcher.

Subscriptions are few and their whole story is in the read model's ``events`` table, so
they are folded per request (as alerts are): exactly as fresh as the projection, honouring
``?min_seq=`` after a command's answer. Each carries counts from the delivery log, and
``/deliveries`` pages through that log (newest first) with every attempt. The delivery
log lives in the dispatcher's own schema (``projections.webhook_store``); before the
dispatcher first ran it is simply empty. The signing secret is never here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import WEBHOOK_MANAGE, requires
from projections import api, queries
from projections.webhook_store import FINAL

STATUSES = ("pending", *FINAL)
_COLUMNS = (
    "id", "event_id", "event_type", "aggregate_kind", "aggregate_id", "seq", "status",
    "attempts", "response_code", "error", "created_at", "next_attempt_at", "finished_at",
)  # fmt: skip


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/webhooks", requires(WEBHOOK_MANAGE)(api._read(_webhooks)))
    r.add_get("/api/v1/webhooks/{id}", requires(WEBHOOK_MANAGE)(api._read(_webhook)))
    r.add_get("/api/v1/webhooks/{id}/deliveries", requires(WEBHOOK_MANAGE)(api._read(_deliveries)))


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


async def _fold(conn: psycopg.AsyncConnection[Any], ident: str | None) -> dict[str, Any]:
    where = "aggregate_kind = 'webhook'" + (" AND aggregate_id = %s" if ident else "")
    cur = await conn.execute(
        f"SELECT aggregate_id, type, occurred_at, actor, data, seq FROM events WHERE {where}"
        " ORDER BY seq, index",
        [ident] if ident else [],
    )
    hooks: dict[str, dict[str, Any]] = {}
    for wid, kind, at, actor, data, seq in await cur.fetchall():
        if kind in ("webhook.created", "webhook.updated"):
            w = hooks.setdefault(
                wid,
                {"id": wid, "created_at": _iso(at), "created_by": actor,
                 "secret_rotated_at": None, "secret_rotated_by": None},
            )  # fmt: skip
            w.update(
                {k: data.get(k) for k in ("name", "url", "kinds", "types", "enabled")},
                updated_at=_iso(at),
                updated_by=actor,
                seq=seq,
            )
        elif kind == "webhook.secret_rotated" and wid in hooks:
            hooks[wid].update(secret_rotated_at=_iso(at), secret_rotated_by=actor, seq=seq)
        elif kind == "webhook.deleted":
            hooks.pop(wid, None)
    return hooks


async def _schema_ready(conn: psycopg.AsyncConnection[Any], ws: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s)", [ws + ".deliveries"])
    row = await cur.fetchone()
    return row is not None and row[0] is not None


async def _with_stats(
    request: web.Request, conn: psycopg.AsyncConnection[Any], hooks: dict[str, Any]
) -> list[dict[str, Any]]:
    ws = request.app[api.SETTINGS].webhook_schema
    counts: dict[str, dict[str, Any]] = {}
    if hooks and await _schema_ready(conn, ws):
        cur = await conn.execute(
            f"SELECT webhook_id, status, count(*), max(finished_at) FROM {ws}.deliveries"
            " WHERE webhook_id = ANY(%s) GROUP BY webhook_id, status",
            [list(hooks)],
        )
        for wid, status, n, last in await cur.fetchall():
            c = counts.setdefault(wid, {})
            c[status] = int(n)
            if status in ("delivered", "failed") and last is not None:
                prev = c.get("last_finished_at")
                c["last_finished_at"] = max(prev, last) if prev else last
    out = []
    for wid, w in hooks.items():
        c = counts.get(wid, {})
        stats = {s: c.get(s, 0) for s in STATUSES}
        stats["last_finished_at"] = _iso(c.get("last_finished_at"))
        out.append(w | {"deliveries": stats, "failures": stats["failed"]})
    return sorted(out, key=lambda w: (w["name"] or "", w["id"]))


WEBHOOK_LISTING = Listing(
    keys={"name": "text", "created_at": "timestamptz", "failures": "int"},
    default_sort="name",
    filters={
        "enabled": Filter("bool", description="true or false"),
        "q": Filter("search", description="name or URL substring"),
    },
    default_limit=500,
)
DELIVERY_LISTING = Listing(
    keys={"created_at": "timestamptz"},
    default_sort="-created_at",
    filters={"status": Filter("enum", STATUSES, "status = ANY(%s)", "comma-separated")},
    tiebreak=(("pos", "bigint"),),
)


@listed(WEBHOOK_LISTING)
async def _webhooks(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = WEBHOOK_LISTING.parse(request.query)
    items = await _with_stats(request, conn, await _fold(conn, None))
    if asked.filters["enabled"] is not None:
        items = [w for w in items if w["enabled"] == asked.filters["enabled"]]
    if text := (asked.filters["q"] or "").lower():
        items = [w for w in items if text in f"{w['name']} {w['url']}".lower()]
    return page_rows(items, asked)


async def _webhook(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    ident = request.match_info["id"]
    found = await _with_stats(request, conn, await _fold(conn, ident))
    if not found:
        raise problems.not_found("webhook", ident)
    return found[0]


@listed(DELIVERY_LISTING)
async def _deliveries(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = DELIVERY_LISTING.parse(request.query)
    ident = request.match_info["id"]
    if not await _fold(conn, ident):
        raise problems.not_found("webhook", ident)
    ws = request.app[api.SETTINGS].webhook_schema
    if not await _schema_ready(conn, ws):
        return {"items": [], "next_cursor": None, "total": 0}
    out = await queries.listing_page(
        conn,
        f"{ws}.deliveries",
        asked,
        where=["webhook_id = %s"],
        params=[ident],
        columns=", ".join(("pos", *_COLUMNS)),
    )
    items: list[dict[str, Any]] = out["items"]
    tries: dict[str, list[dict[str, Any]]] = {}
    if items:
        cur = await conn.execute(
            "SELECT delivery_id, n, at, response_code, error, duration_ms"
            f" FROM {ws}.attempts WHERE delivery_id = ANY(%s) ORDER BY delivery_id, n",
            [[i["id"] for i in items]],
        )
        for did, n, at, code, error, ms in await cur.fetchall():
            tries.setdefault(did, []).append(
                {"n": n, "at": _iso(at), "response_code": code, "error": error, "duration_ms": ms}
            )
    for item in items:
        del item["pos"]
        item["attempt_log"] = tries.get(item["id"], [])
        for key in ("created_at", "next_attempt_at", "finished_at"):
            item[key] = _iso(item[key])
    return out
