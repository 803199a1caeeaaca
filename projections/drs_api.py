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
from events.listing import Filter, Listing, listed
from events.permissions import HOST_READ, requires
from projections import queries
from projections.api import _read

Conn = psycopg.AsyncConnection[Any]

STATES: tuple[str, ...] = RecommendationState.__args__  # type: ignore[attr-defined]


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/drs/recommendations", requires(HOST_READ)(_read(_list)))
    r.add_get("/api/v1/drs/recommendations/{id}", requires(HOST_READ)(_read(_one)))


LISTING = Listing(
    keys={
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "state": "text",
        "priority": "int",
        "improvement": "double precision",
    },
    default_sort="-created_at",
    filters={
        "state": Filter("enum", STATES, "state = ANY(%s)", "comma-separated"),
        "cluster_id": Filter(sql="cluster_id = %s", description="one cluster's"),
        "vm_id": Filter(sql="vm_id = %s", description="about one VM"),
    },
)


@listed(LISTING)
async def _list(request: web.Request, conn: Conn) -> Any:
    return await queries.listing_page(conn, "drs_recommendations", LISTING.parse(request.query))


async def _one(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    async with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        await cur.execute("SELECT * FROM drs_recommendations WHERE id = %s", [ident])
        row = await cur.fetchone()
    if row is None:
        raise problems.not_found("drs-recommendation", ident)
    return row
