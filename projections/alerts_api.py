"""Alert and silence queries, folded from the audit log of the read model.

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
from events.permissions import ALERT_READ, requires
from projections import api

SEVERITIES = ("critical", "warning", "info")
STATUSES = ("firing", "acknowledged", "resolved", "open")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/alerts", requires(ALERT_READ)(api._read(_alerts)))
    r.add_get("/api/v1/alerts/{id}", requires(ALERT_READ)(api._read(_alert)))
    r.add_get("/api/v1/silences", requires(ALERT_READ)(api._read(_silences)))


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
                | {"at": _iso(at)}
            )
        a["seq"] = seq
    return alerts


async def _alerts(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    q = request.query
    status, severity = q.get("status") or None, q.get("severity") or None
    if status is not None and status not in STATUSES:
        raise problems.invalid_param(f"status must be one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise problems.invalid_param(f"severity must be one of {', '.join(SEVERITIES)}")
    text = (q.get("q") or "").lower()
    scope_id = q.get("scope_id") or None
    alerts = list(fold_alerts(await _rows(conn, "alert")).values())
    counts = dict.fromkeys(SEVERITIES, 0)
    for a in alerts:
        if a["status"] != "resolved":
            counts[a["severity"]] += 1

    def keep(a: dict[str, Any]) -> bool:
        if status == "open" and a["status"] == "resolved":
            return False
        if status not in (None, "open") and a["status"] != status:
            return False
        if (severity and a["severity"] != severity) or (scope_id and a["scope_id"] != scope_id):
            return False
        haystack = f"{a['rule_name']} {a['message']} {a['scope_id']} {a['rule_id']}".lower()
        return text in haystack

    items = sorted(filter(keep, alerts), key=lambda a: a["fired_at"], reverse=True)
    return {"items": items, "next_cursor": None, "total": len(items), "open_by_severity": counts}


async def _alert(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    ident = request.match_info["id"]
    found = fold_alerts(await _rows(conn, "alert", ident)).get(ident)
    if found is None:
        raise problems.not_found("alert", ident)
    return found


async def _silences(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
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
    return {
        "items": sorted(items, key=lambda s: s["created_at"], reverse=True),
        "next_cursor": None,
    }
