"""Every route of the composed app declares its permission (``events.permissions.requires``).

This walks the whole route table of ``lq.web.build_app``, so a route added anywhere — the
controlplane's commands, any projections route module, the app itself — without a
declaration fails here, naming the handler to decorate.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from events import settings as settings_mod
from events.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC, declared
from lq.web import build_app

PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/live"),
    ("GET", "/ready"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("GET", "/api/openapi.json"),  # the API's description holds no data
    ("GET", "/api/docs"),
    ("GET", "/{tail}"),  # the dashboard's static files (no data; it signs in at /login)
}


def routes(tmp_path: Path) -> list[web.AbstractRoute]:
    s = settings_mod.load({"data_dir": str(tmp_path)}, env={})
    return [r for r in build_app(s).router.routes() if r.method != "HEAD"]


def _path(route: web.AbstractRoute) -> str:
    info = route.resource.get_info() if route.resource is not None else {}
    raw = info.get("path") or info.get("formatter") or "?"
    return str(raw).replace("{tail:.*}", "{tail}")


def _name(handler: object) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


def test_every_route_declares_a_permission(tmp_path: Path) -> None:
    missing = [
        f"{r.method} {_path(r)} -> {_name(r.handler)} has no @requires(...)"
        for r in routes(tmp_path)
        if declared(r.handler) is None
    ]
    assert not missing, (
        "decorate these handlers with events.permissions.requires(<permission>) "
        "(PUBLIC only for what must answer without credentials):\n  " + "\n  ".join(missing)
    )


def test_declared_permissions_exist_and_only_known_routes_are_public(tmp_path: Path) -> None:
    public = set()
    for r in routes(tmp_path):
        perm = declared(r.handler)
        assert perm in PERMISSIONS or perm in (PUBLIC, AUTHENTICATED), (_path(r), perm)
        if perm == PUBLIC:
            public.add((r.method, _path(r)))
    assert public <= PUBLIC_ROUTES, f"unexpected public routes: {public - PUBLIC_ROUTES}"
