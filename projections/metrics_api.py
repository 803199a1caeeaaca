"""Monitoring routes: chart series and latest values from the metrics tables.

Kept apart from ``projections.api`` (the inventory read model) because metrics are a
different store with different rules: not events, no ``min_seq`` consistency token, no
change notifications — a chart simply asks again. ``setup`` adds the routes and one
small connection pool of its own; ``lq.web`` mounts it beside the other halves.

Routes (docs/api.md "Monitoring"):

* ``GET /api/v1/{vms|hosts}/{id}/metrics?metric=cpu|memory|disk|net&range=15m|1h|6h|1d|7d|30d|1y``
  (optional ``points``, ``resolution=raw|1m|1h``) → series at an automatic resolution;
* ``GET /api/v1/metrics/latest?kind=host|vm&host_id=&sort=-cpu_pct&limit=`` → the newest
  sample of each host or VM (the host performance table, top VMs);
* ``GET /api/v1/hosts/{id}/pools`` → the host's storage pools as last sampled.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from events import problems
from events.listing import Listing, listed, page_rows
from events.metrics import METRIC_KINDS
from events.permissions import METRICS_READ, requires
from events.settings import Settings
from projections import metrics_queries as q
from projections import metrics_store
from projections.metrics_runner import all_tiers

log = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[Any]]
SETTINGS = web.AppKey("projections.metrics.settings", Settings)
POOL = web.AppKey("projections.metrics.pool", Pool)
KINDS = {"vms": "vm", "hosts": "host"}


def setup(app: web.Application, settings: Settings) -> None:
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    base = "/api/v1"
    app.router.add_get(base + "/vms/{id}/metrics", series)
    app.router.add_get(base + "/hosts/{id}/metrics", series)
    app.router.add_get(base + "/hosts/{id}/pools", host_pools)
    app.router.add_get(base + "/metrics/latest", latest)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute("SELECT set_config('TimeZone', 'UTC', false)")

    pool: Pool = AsyncConnectionPool(
        settings.database_url,
        open=False,
        # Fixed size, all opened up front: no connection is ever being opened in the
        # background when the app stops (a cancelled open would leak it).
        min_size=2,
        max_size=2,
        kwargs={"autocommit": True},
        configure=configure,
        name="metrics-api",
    )
    await pool.open()
    with contextlib.suppress(Exception):  # PostgreSQL may be down: served as 503 meanwhile
        await pool.wait(timeout=10.0)
    app[POOL] = pool
    try:
        async with pool.connection(timeout=10.0) as conn:
            await metrics_store.create(conn, settings.metrics_schema)
    except (psycopg.Error, TimeoutError) as exc:
        log.warning("metrics tables not ready at start-up: %s", exc)
    try:
        yield
    finally:
        await pool.close()


def _entity(request: web.Request) -> tuple[str, str]:
    collection = request.path.split("/")[3]
    raw = request.match_info["id"]
    try:
        return KINDS[collection], str(uuid.UUID(raw))
    except ValueError as exc:
        raise problems.not_found(KINDS[collection], raw) from exc


def _bad(detail: str) -> problems.Problem:
    return problems.Problem(400, "invalid-query", "Invalid query parameter", detail)


@requires(METRICS_READ)
async def series(request: web.Request) -> web.Response:
    kind, entity_id = _entity(request)
    settings = request.app[SETTINGS]
    metric = request.query.get("metric", "cpu")
    rng = request.query.get("range", "1h")
    resolution = request.query.get("resolution") or None
    if metric not in METRIC_KINDS:
        raise _bad(f"metric must be one of {', '.join(METRIC_KINDS)}")
    if rng not in q.RANGES:
        raise _bad(f"range must be one of {', '.join(q.RANGES)}")
    if resolution is not None and resolution not in q.TIER_LABEL.values():
        raise _bad("resolution must be raw, 1m or 1h")
    try:
        points = int(request.query.get("points", "300"))
    except ValueError as exc:
        raise _bad("points must be an integer") from exc
    if not 10 <= points <= 2000:
        raise _bad("points must be between 10 and 2000")
    tiers = all_tiers(settings)
    p = q.plan(tiers, q.RANGES[rng], points, resolution)
    async with request.app[POOL].connection() as conn:
        data = await q.series(
            conn, settings.metrics_schema, tiers, p, entity_id=entity_id, metric=metric
        )
    return web.json_response(
        {
            "id": entity_id,
            "kind": kind,
            "metric": metric,
            "range": rng,
            "resolution": q.TIER_LABEL[p.tier.name],
            "step_s": p.step_s,
            "from": int(p.start * 1000),
            "to": int(p.end * 1000),
            "series": [
                {"key": k, "label": label, "unit": unit}
                for k, label, unit in q.SERIES[(metric, kind)]
            ],
            "points": data,
        }
    )


@requires(METRICS_READ)
async def latest(request: web.Request) -> web.Response:
    kind = request.query.get("kind", "host")
    if kind not in ("host", "vm"):
        raise _bad("kind must be host or vm")
    host_id = request.query.get("host_id") or None
    if host_id is not None:
        try:
            host_id = str(uuid.UUID(host_id))
        except ValueError as exc:
            raise _bad("host_id is not an id") from exc
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError as exc:
        raise _bad("limit must be an integer") from exc
    if not 1 <= limit <= 5000:
        raise _bad("limit must be between 1 and 5000")
    sort = request.query.get("sort", "-cpu_pct")
    settings = request.app[SETTINGS]
    async with request.app[POOL].connection() as conn:
        try:
            items = await q.latest(
                conn,
                settings.metrics_schema,
                kind=0 if kind == "host" else 1,
                host_id=host_id,
                sort=sort,
                limit=limit,
            )
        except ValueError as exc:
            raise _bad(str(exc)) from exc
    return web.json_response({"items": items})


POOL_LISTING = Listing(
    keys={"name": "text", "capacity_bytes": "bigint", "available_bytes": "bigint"},
    default_sort="name",
    default_limit=500,
    tiebreak=(("name", "text"),),
    common=("min_seq",),  # accepted (every GET is), but nothing to wait for here
)


@requires(METRICS_READ)
@listed(POOL_LISTING)
async def host_pools(request: web.Request) -> web.Response:
    asked = POOL_LISTING.parse(request.query)
    _, host_id = _entity(request)
    settings = request.app[SETTINGS]
    async with request.app[POOL].connection() as conn:
        items = await q.pools(conn, settings.metrics_schema, host_id)
    return web.json_response(page_rows(items, asked))
