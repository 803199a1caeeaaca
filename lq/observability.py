"""Prometheus ``/metrics`` and per-request correlation for the HTTP app.

``observe_middleware`` runs outermost: it binds the request's correlation id (the
``X-Correlation-Id`` header, else a new id, echoed back in the answer) to every log line
written while the request is served (``events.logctx``), and records request latency by
route *pattern* (``/api/v1/vms/{id}``, never the concrete path, so the label set stays
small). ``/metrics`` renders prometheus-client's default registry, first refreshing the
gauges that are cheaper to compute at scrape time than to keep current (the read model's
lag behind the stream, the same figure ``/ready`` reports).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from events import logctx, tracing
from events.base import new_id
from events.permissions import METRICS_READ, requires

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Refresh = Callable[[web.Application], Awaitable[None]]

REQUEST_SECONDS = Histogram(
    "lq_http_request_seconds",
    "HTTP request latency by route pattern",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REFRESH: web.AppKey[list[Refresh]] = web.AppKey("lq_metrics_refresh", list)


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    canonical = info.canonical if info is not None else ""
    return "/{tail}" if canonical == "/{tail}" else canonical or "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    correlation = request.headers.get("X-Correlation-Id") or new_id()
    started = time.perf_counter()
    status = 500
    with (
        logctx.bind(correlation_id=correlation),
        tracing.span(
            f"HTTP {request.method} {_route(request)}",
            parent=request.headers.get("traceparent"),
            kind=tracing.SERVER,
            correlation_id=correlation,
        ),
    ):
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            REQUEST_SECONDS.labels(request.method, _route(request), str(status)).observe(
                time.perf_counter() - started
            )
    if not response.prepared:
        response.headers["X-Correlation-Id"] = correlation
    return response


# Prometheus scrapes with an API token scoped to metrics.read (docs/security.md): only
# health, login and refresh answer without credentials.
@requires(METRICS_READ)
async def metrics(request: web.Request) -> web.Response:
    for refresh in request.app.get(REFRESH, []):
        await refresh(request.app)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application, *refresh: Refresh) -> None:
    app[REFRESH] = list(refresh)
    app.router.add_get("/metrics", metrics)
