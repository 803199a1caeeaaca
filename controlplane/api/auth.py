"""Sign-in routes: login, refresh, logout, own password, who am I, the permission catalogue.

``login`` and ``refresh`` are the only routes besides health that answer without an access
token (refresh presents its refresh token in the body). Answers carry
``{access_token, refresh_token, expires_in, token_type: "Bearer", user}``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import decode_body
from controlplane.auth.middleware import AUTH, principal_of
from events import problems
from events.permissions import (
    AUTHENTICATED,
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    PERMISSIONS,
    PUBLIC,
    Principal,
    requires,
)

routes = web.RouteTableDef()

Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    password: Secret


class RefreshBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class PasswordBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current_password: Secret
    new_password: Secret


def address_of(request: web.Request) -> str:
    return request.remote or ""


def principal(request: web.Request) -> Principal:
    found = principal_of(request)
    if found is None:  # the middleware guarantees one on non-public routes
        raise problems.unauthorized("credentials required")
    return found


def _no_store(body: object) -> web.Response:
    resp = web.json_response(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@routes.post("/api/v1/auth/login")
@requires(PUBLIC)
async def login(request: web.Request) -> web.Response:
    body = await decode_body(request, LoginBody)
    auth = request.app[AUTH]
    return _no_store(await auth.login(body.username, body.password, address_of(request)))


@routes.post("/api/v1/auth/refresh")
@requires(PUBLIC)
async def refresh(request: web.Request) -> web.Response:
    body = await decode_body(request, RefreshBody)
    return _no_store(await request.app[AUTH].refresh(body.refresh_token))


@routes.post("/api/v1/auth/logout")
@requires(AUTHENTICATED)
async def logout(request: web.Request) -> web.Response:
    await request.app[AUTH].logout(principal(request))
    return web.Response(status=204)


@routes.post("/api/v1/auth/password")
@requires(AUTHENTICATED)
async def change_password(request: web.Request) -> web.Response:
    body = await decode_body(request, PasswordBody)
    who = principal(request)
    if who.via != "session":
        raise problems.Problem(
            403, "session-required", "Sign in with a password", "API tokens cannot change passwords"
        )
    auth = request.app[AUTH]
    pair = await auth.change_own_password(
        who, body.current_password, body.new_password, address_of(request)
    )
    return _no_store(pair)


@routes.get("/api/v1/auth/me")
@requires(AUTHENTICATED)
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    auth = request.app[AUTH]
    user = auth.repo.get("user", who.user_id)[0]
    bindings = [] if user is None else [msgspec.to_builtins(b) for b in user.bindings]
    return web.json_response(
        {
            "id": who.user_id,
            "username": who.username,
            "via": who.via,
            "permissions": sorted(who.permissions),
            "cluster_permissions": {k: sorted(v) for k, v in who.scoped.items()},
            "bindings": bindings,
        }
    )


@routes.get("/api/v1/permissions")
@requires(AUTHENTICATED)
async def permission_catalogue(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "permissions": [{"name": k, "description": v} for k, v in PERMISSIONS.items()],
            "builtin_roles": [
                {"name": k, "description": BUILTIN_DESCRIPTIONS[k], "permissions": sorted(v)}
                for k, v in BUILTIN_ROLES.items()
            ],
        }
    )
