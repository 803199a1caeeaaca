"""The HTTP app: command routes (controlplane), query routes (projections), the dashboard.

This is where the two halves of the API meet. Middleware renders every ``Problem`` (and
every unexpected error) as ``application/problem+json``; ``/health``, ``/live`` and
``/ready`` answer here; the built dashboard is served at ``/`` with a fallback to
``index.html`` for client-side routes, leaving ``/api`` alone. The auth middleware
(``controlplane.auth.middleware``) enforces the permission every route declares with
``events.permissions.requires``; only health, login, refresh and the dashboard's files are
``PUBLIC``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

import controlplane.service
import projections.alerts_api
import projections.api
import projections.clusters_api
import projections.drs_api
import projections.metrics_api
import projections.networks_api
import projections.security_api
import projections.storage_api
import projections.telemetry
import projections.webhooks_api
from controlplane.auth.middleware import auth_middleware, principal_of
from events import problems
from events.errors import StoreUnavailable
from events.permissions import PUBLIC, requires
from events.settings import Settings
from lq import observability, openapi

log = logging.getLogger(__name__)

SETTINGS: web.AppKey[Settings] = web.AppKey("lq_settings", Settings)
STARTED: web.AppKey[float] = web.AppKey("lq_started", float)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem_response(p: problems.Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=p.status,
        body=msgspec.json.encode(p.body(instance)),
        content_type="application/problem+json",
        headers=p.headers or None,
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except problems.Problem as p:
        return problem_response(p, request.path)
    except StoreUnavailable as exc:
        # NATS did not confirm the append (down, partitioned, its disk full): the change
        # is not accepted; resending it with the same Idempotency-Key is safe
        log.warning("%s %s: event store unavailable: %s", request.method, request.path, exc)
        busy = problems.unavailable(
            "the event store did not confirm the change; retry with the same Idempotency-Key"
        )
        busy.headers["Retry-After"] = "5"
        return problem_response(busy, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
            exc.status, "http-error"
        )
        return problem_response(
            problems.Problem(exc.status, slug, exc.reason, exc.text or ""), request.path
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(
            problems.Problem(
                500, "internal-error", "Internal error", "the server failed; see its log"
            ),
            request.path,
        )


def ui_directory(settings: Settings) -> Path | None:
    """The built dashboard: the configured folder, the package's copy, or ui/dist."""
    candidates = [Path(settings.ui_dir)] if settings.ui_dir else []
    candidates += [
        Path(__file__).parent / "static",
        Path(__file__).resolve().parent.parent / "ui" / "dist",
    ]
    for c in candidates:
        if (c / "index.html").is_file():
            return c
    return None


@requires(PUBLIC)
async def health(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "uptime_s": round(time.monotonic() - request.app[STARTED], 1)}
    )


@requires(PUBLIC)
async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


@requires(PUBLIC)
async def ready(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    cp = await controlplane.service.readiness(app)
    rm = await projections.api.readiness(app)
    checks: dict[str, Any] = {**cp, **rm}
    lag = max(0, int(cp.get("stream_seq", 0)) - int(rm.get("checkpoint", 0)))
    checks["projector_lag"] = lag
    reasons = []
    if not cp.get("nats"):
        reasons.append("NATS is not reachable")
    if not rm.get("postgres"):
        reasons.append("PostgreSQL is not reachable")
    if lag > settings.ready_max_lag:
        reasons.append(f"the projector lags by {lag} events (bound {settings.ready_max_lag})")
    status = 503 if reasons else 200
    return web.json_response(
        {"status": "ready" if not reasons else "not-ready", "reasons": reasons, "checks": checks},
        status=status,
    )


async def _refresh_lag(app: web.Application) -> None:
    cp = await controlplane.service.readiness(app)
    rm = await projections.api.readiness(app)
    lag = max(0, int(cp.get("stream_seq", 0)) - int(rm.get("checkpoint", 0)))
    projections.telemetry.LAG.set(lag)


async def _stream_end(app: web.Application) -> int:
    """The event log's last sequence, asked of JetStream (a ``min_seq`` past it is refused)."""
    bus = app.get(controlplane.service.BUS)
    if bus is None:
        raise RuntimeError("not connected to NATS yet")
    return await bus.store.last_seq()


def build_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[observability.observe_middleware, problem_middleware, auth_middleware],
        client_max_size=1024 * 1024,
    )
    app[SETTINGS] = settings
    app[STARTED] = time.monotonic()
    app.router.add_get("/health", health)
    app.router.add_get("/live", live)
    app.router.add_get("/ready", ready)
    controlplane.service.setup(app, settings)
    projections.api.setup(app, settings)
    app[projections.api.STREAM_END] = lambda: _stream_end(app)
    projections.security_api.setup(app)
    projections.metrics_api.setup(app, settings)
    projections.alerts_api.setup(app)
    projections.drs_api.setup(app)
    projections.clusters_api.setup(app)
    projections.webhooks_api.setup(app)
    projections.storage_api.setup(app)
    projections.networks_api.setup(app)
    observability.setup(app, _refresh_lag)
    openapi.setup(app)  # /api/openapi.json and /api/docs (public)
    static = ui_directory(settings)
    if static is not None:
        _serve_ui(app, static)
    return app


def _serve_ui(app: web.Application, root: Path) -> None:
    index = root / "index.html"

    @requires(PUBLIC)  # the dashboard's files hold no data; it signs in at /login
    async def spa(request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        if tail.startswith("api/"):
            if principal_of(request) is None:
                raise problems.unauthorized("credentials required")
            raise problems.not_found("route", "/" + tail)
        candidate = (root / tail).resolve()
        if tail and candidate.is_file() and root.resolve() in candidate.parents:
            headers = (
                {"Cache-Control": "public, max-age=31536000, immutable"}
                if (tail.startswith("assets/"))
                else {}
            )
            return web.FileResponse(candidate, headers=headers)
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/{tail:.*}", spa)
