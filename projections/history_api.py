"""HTTP routes of history: an entity as of a point, diffs between two points, task traces.

Split from ``projections.api`` to keep that module about the live read model; ``api.setup``
calls ``add_routes`` with its ``_read`` wrapper, so these routes get the same pooled
connections, ``min_seq`` waits and problem rendering. ``GET /api/v1/<kind>/{id}?as_of=``
is answered by ``api``'s item route, which delegates here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from aiohttp import web

from events import permissions, problems
from projections import history, queries

Query = Callable[[web.Request, psycopg.AsyncConnection[Any]], Awaitable[Any]]
Read = Callable[[Query], Callable[[web.Request], Awaitable[web.StreamResponse]]]

READ_PERMISSION = {"vm": permissions.VM_READ, "host": permissions.HOST_READ}


def point(request: web.Request, name: str) -> history.Point | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return history.parse_point(raw)
    except history.BadPoint as exc:
        raise problems.invalid_param(f"{name}: {exc}") from None


async def item_as_of(
    conn: psycopg.AsyncConnection[Any], kind: str, ident: str, at: history.Point
) -> Any:
    row = await history.as_of(conn, kind, ident, at)
    if row is None:
        raise problems.not_found(kind, f"{ident} as of {at}")
    return row


def _diff(table: str, kind: str) -> Query:
    async def query(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
        ident = request.match_info["id"]
        start = point(request, "from") or history.Point(seq=0)
        end = point(request, "to") or history.Point(seq=await queries.checkpoint(conn))
        out = await history.diff(conn, kind, ident, start, end)
        if out["from"] is None and out["to"] is None:
            raise problems.not_found(kind, ident)
        return out

    return query


async def _trace(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    task_id = request.match_info["id"]
    task = await queries.get(conn, "tasks", task_id)
    if task is None:
        raise problems.not_found("task", task_id)
    out = await history.trace(conn, task_id)
    target = {"vm": "vms", "host": "hosts"}.get(task["target_kind"])
    state = await queries.get(conn, target, task["target_id"]) if target else None
    return {**out, "task": task, "state": state}


def add_routes(router: web.UrlDispatcher, read: Read) -> None:
    base = "/api/v1"
    for table, kind in history.KINDS.items():
        handler = read(_diff(table, kind))
        permissions.requires(READ_PERMISSION.get(kind, permissions.TASK_READ))(handler)
        router.add_get(f"{base}/{table}/{{id}}/diff", handler)
    trace = permissions.requires(permissions.EVENT_READ)(read(_trace))
    router.add_get(f"{base}/tasks/{{id}}/trace", trace)
