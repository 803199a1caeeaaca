"""Query routes of DRS recommendations (the commands are ``controlplane.api.drs``).

``GET /api/v1/drs/recommendations`` pages the read model, newest first, filtered by
``state`` (comma-separated), ``cluster_id`` or ``vm_id``; ``GET .../{id}`` answers one.
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.drs import RecommendationState
from events.permissions import HOST_READ, requires
from projections import queries
from projections.api import _limit, _read, _states, _text
from projections.queries import Sort

Conn = psycopg.AsyncConnection[Any]

STATES: tuple[str, ...] = RecommendationState.__args__  # type: ignore[attr-defined]
SORT = Sort("-created_at", (("created_at", "timestamptz"), ("id", "text")), desc=True)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/drs/recommendations", requires(HOST_READ)(_read(_list)))
    r.add_get("/api/v1/drs/recommendations/{id}", requires(HOST_READ)(_read(_one)))


async def _list(request: web.Request, conn: Conn) -> Any:
    where: list[str] = []
    params: list[Any] = []
    if states := _states(request, STATES):
        where.append("state = ANY(%s)")
        params.append(states)
    for name in ("cluster_id", "vm_id"):
        if value := _text(request, name):
            where.append(f"{name} = %s")
            params.append(value)
    return await queries.page(
        conn,
        "drs_recommendations",
        where=where,
        params=params,
        sort=SORT,
        limit=_limit(request),
        cursor=_text(request, "cursor"),
    )


async def _one(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    async with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        await cur.execute("SELECT * FROM drs_recommendations WHERE id = %s", [ident])
        row = await cur.fetchone()
    if row is None:
        raise problems.not_found("drs-recommendation", ident)
    return row
