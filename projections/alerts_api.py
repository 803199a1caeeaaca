"""Alert, silence and notification-channel queries, folded from the read model's audit log.

Alerts are few next to VMs and events, and their whole story (fired, acknowledged,
resolved, each notification attempt) is already in the ``events`` table the projector
writes. So these routes fold the ``alert`` and ``silence`` events per request instead of
adding tables to the read model — the answer is exactly as fresh as the projection and
honours ``?min_seq=`` the same way. (Should alert counts grow into the tens of thousands,
an ``alerts`` table folded by the projector replaces this without changing the API.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import ALERT_READ, requires
from projections import api

SEVERITIES = ("critical", "warning", "info")
STATUSES = ("firing", "acknowledged", "resolved", "open")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/alerts", requires(ALERT_READ)(api._read(_alerts)))
    r.add_get("/api/v1/alerts/{id}", requires(ALERT_READ)(api._read(_alert)))
    r.add_get("/api/v1/silences", requires(ALERT_READ)(api._read(_silences)))
    r.add_get("/api/v1/notification-channels", requires(ALERT_READ)(api._read(_channels)))
    r.add_get("/api/v1/notification-channels/{id}", requires(ALERT_READ)(api._read(_channel)))


async def _rows(conn: psycopg.AsyncConnection[Any], kind: str, ident: str | None = None) -> Any:
    where = "aggregate_kind = %s" + (" AND aggregate_id = %s" if ident else "")
    cur = await conn.execute(
        f"SELECT aggregate_id, type, occurred_at, actor, data, seq FROM events WHERE {where}"
        " ORDER BY seq, index",
        [kind, ident] if ident else [kind],
    )
    return await cur.fetchall()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def fold_alerts(rows: Any) -> dict[str, dict[str, Any]]:
    alerts: dict[str, dict[str, Any]] = {}
    for aid, kind, at, _actor, data, seq in rows:
        a = alerts.get(aid)
        if kind == "alert.fired":
            a = alerts[aid] = {
                "id": aid, "rule_id": data["rule_id"], "rule_name": data["rule_name"],
                "severity": data["severity"], "scope_kind": data["scope_kind"],
                "scope_id": data["scope_id"], "status": "firing", "episode": data["episode"],
                "message": data["message"], "value": data.get("value"),
                "threshold": data.get("threshold"), "silenced": data.get("silenced", False),
                "fired_at": _iso(at), "acknowledged_by": None, "acknowledged_at": None,
                "resolved_by": None, "resolved_at": None, "automatic": None,
                "notifications": [], "episodes": (a or {}).get("episodes", 0) + 1,
            }  # fmt: skip
        elif a is None or data.get("episode") != a["episode"]:
            continue
        elif kind == "alert.acknowledged":
            a.update(status="acknowledged", acknowledged_by=data["by"], acknowledged_at=_iso(at))
        elif kind == "alert.resolved":
            a.update(status="resolved", resolved_by=data["by"], resolved_at=_iso(at),
                     automatic=data["automatic"])  # fmt: skip
        elif kind == "alert.notified":
            a["notifications"].append(
                {k: data.get(k) for k in ("channel", "target", "about", "ok", "attempts", "error")}
                | {"channel_id": data.get("channel_id") or None}
                | {"at": _iso(at)}
            )
        a["seq"] = seq
    return alerts


ALERT_LISTING = Listing(
    keys={"fired_at": "timestamptz", "severity": "text", "status": "text", "rule_name": "text"},
    default_sort="-fired_at",
    filters={
        "status": Filter("enum", STATUSES, description="open = firing or acknowledged"),
        "severity": Filter("enum", SEVERITIES, description="comma-separated"),
        "q": Filter("search", description="rule name, message, scope or rule id"),
        "scope_id": Filter(description="the VM's or host's id"),
    },
    default_limit=500,
)
SILENCE_LISTING = Listing(
    keys={"created_at": "timestamptz", "until": "timestamptz"},
    default_sort="-created_at",
    filters={"active": Filter("bool", description="true: in force now; false: ended")},
    default_limit=500,
)


@listed(ALERT_LISTING)
async def _alerts(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = ALERT_LISTING.parse(request.query)
    statuses: list[str] = asked.filters["status"] or []
    severities: list[str] = asked.filters["severity"] or []
    text = (asked.filters["q"] or "").lower()
    scope_id = asked.filters["scope_id"]
    alerts = list(fold_alerts(await _rows(conn, "alert")).values())
    counts = dict.fromkeys(SEVERITIES, 0)
    for a in alerts:
        if a["status"] != "resolved":
            counts[a["severity"]] += 1

    def keep(a: dict[str, Any]) -> bool:
        open_ = "open" in statuses and a["status"] != "resolved"
        if statuses and not open_ and a["status"] not in statuses:
            return False
        if (severities and a["severity"] not in severities) or (
            scope_id and a["scope_id"] != scope_id
        ):
            return False
        haystack = f"{a['rule_name']} {a['message']} {a['scope_id']} {a['rule_id']}".lower()
        return text in haystack

    return page_rows(list(filter(keep, alerts)), asked) | {"open_by_severity": counts}


async def _alert(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    ident = request.match_info["id"]
    found = fold_alerts(await _rows(conn, "alert", ident)).get(ident)
    if found is None:
        raise problems.not_found("alert", ident)
    return found


@listed(SILENCE_LISTING)
async def _silences(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = SILENCE_LISTING.parse(request.query)
    silences: dict[str, dict[str, Any]] = {}
    for sid, kind, at, _actor, data, _seq in await _rows(conn, "silence"):
        if kind == "silence.created":
            silences[sid] = {
                "id": sid, "rule_id": data.get("rule_id"), "scope_id": data.get("scope_id"),
                "until": data["until"], "by": data["by"], "comment": data.get("comment", ""),
                "created_at": _iso(at), "deleted": False,
            }  # fmt: skip
        elif kind == "silence.deleted" and sid in silences:
            silences[sid]["deleted"] = True
    now = datetime.now(UTC)
    items = [
        s | {"active": not s["deleted"] and datetime.fromisoformat(s["until"]) > now}
        for s in silences.values()
    ]
    if asked.filters["active"] is not None:
        items = [s for s in items if s["active"] == asked.filters["active"]]
    return page_rows(items, asked)


def fold_channels(rows: Any) -> dict[str, dict[str, Any]]:
    """Channels as the API shows them (a secret is never in an event: only ``signed``)."""
    channels: dict[str, dict[str, Any]] = {}
    for cid, kind, at, _actor, data, seq in rows:
        if kind in ("channel.created", "channel.updated"):
            c = channels.setdefault(cid, {"id": cid, "created_at": _iso(at), "last_test": None})
            c.update(
                name=data["name"], type=data["channel_type"], url=data.get("url") or None,
                to=data.get("to", []), min_severity=data.get("min_severity", "info"),
                enabled=data.get("enabled", True), signed=data.get("signed", False),
            )  # fmt: skip
        elif kind == "channel.deleted":
            channels.pop(cid, None)
        elif kind == "channel.tested" and cid in channels:
            channels[cid]["last_test"] = {
                k: data.get(k) for k in ("ok", "target", "attempts", "error")
            } | {"at": _iso(at)}
        if cid in channels:
            channels[cid]["seq"] = seq
    return channels


CHANNEL_LISTING = Listing(
    keys={"name": "text", "type": "text", "created_at": "timestamptz"},
    default_sort="name",
    filters={"enabled": Filter("bool", description="true or false")},
    default_limit=500,
)


@listed(CHANNEL_LISTING)
async def _channels(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = CHANNEL_LISTING.parse(request.query)
    items = list(fold_channels(await _rows(conn, "channel")).values())
    if asked.filters["enabled"] is not None:
        items = [c for c in items if c["enabled"] == asked.filters["enabled"]]
    return page_rows(items, asked)


async def _channel(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    ident = request.match_info["id"]
    found = fold_channels(await _rows(conn, "channel", ident)).get(ident)
    if found is None:
        raise problems.not_found("notification channel", ident)
    return found
