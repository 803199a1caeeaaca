"""The auth middleware: every route's declared permission, enforced in one place.

It finds the handler of the matched route and reads its ``requires(...)`` declaration
(``events.permissions``). No declaration → 500 (fail closed; the route-walk test names
the handler). ``PUBLIC`` routes run without credentials (a presented credential is still
read, so public pages can tell who is signed in); every other route needs a bearer
credential — ``Authorization: Bearer <access JWT | API token>``, or, for WebSocket
upgrades, which browsers cannot give headers, the ``access_token`` query parameter or a
``bearer.<token>`` entry in ``Sec-WebSocket-Protocol``. A path under ``/api/`` that
matches no route answers 401 to strangers, so the route table cannot be probed.

A caller who holds the permission only through cluster-scoped bindings is allowed when
every cluster the request touches (``controlplane.auth.scope``: the resource its path
names and the hosts, VMs, clusters and pools its body names) grants it; lists and
anything outside every cluster need the permission globally.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from controlplane.auth import scope
from controlplane.auth.service import Auth
from events import problems
from events.permissions import CALLER, PUBLIC, Principal, caller, declared

log = logging.getLogger(__name__)

AUTH: web.AppKey[Auth] = web.AppKey("lq_auth", Auth)
WS_PROTOCOL = "lq.v1"
"""The subprotocol the changes WebSocket answers with when the client offers it."""
_WS_BEARER = "bearer."
_MAX_SCOPED_BODY = 64 * 1024  # the command routes' own limit (controlplane.api.common)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def credential_of(request: web.Request) -> str:
    """The bearer credential of a request, or ''."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        for raw in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(","):
            proto = raw.strip()
            if proto.startswith(_WS_BEARER):
                return proto[len(_WS_BEARER) :]
        return request.query.get("access_token", "")
    return ""


def principal_of(request: web.Request) -> Principal | None:
    """The caller of the request being handled (the middleware sets it around the handler)."""
    return caller()


async def _optional(auth: Auth, token: str) -> Principal | None:
    if not token:
        return None
    try:
        return await auth.authenticate(token)
    except problems.Problem:
        return None


async def _as(
    principal: Principal | None, request: web.Request, handler: Handler
) -> web.StreamResponse:
    reset = CALLER.set(principal)
    try:
        return await handler(request)
    finally:
        CALLER.reset(reset)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = request.app[AUTH]
    token = credential_of(request)
    info = request.match_info
    if info.http_exception is not None:  # no route: 404/405
        if request.path.startswith("/api/"):
            if not token:
                raise problems.unauthorized("credentials required")
            return await _as(await auth.authenticate(token), request, handler)
        return await handler(request)
    permission = declared(info.handler)
    if permission is None:
        name = getattr(info.handler, "__qualname__", repr(info.handler))
        log.error("%s %s: handler %s declares no permission", request.method, request.path, name)
        raise problems.Problem(
            500, "undeclared-permission", "Route without a permission", "refused (fail closed)"
        )
    if permission == PUBLIC:
        return await _as(await _optional(auth, token), request, handler)
    if not token:
        raise problems.unauthorized("credentials required")
    principal = await auth.authenticate(token)
    if not principal.allows(permission) and not await _in_scope(
        auth, principal, permission, request
    ):
        await auth.denied(principal, permission, request.method, request.path)
        raise problems.forbidden(permission)
    return await _as(principal, request, handler)


async def _in_scope(
    auth: Auth, principal: Principal, permission: str, request: web.Request
) -> bool:
    """Whether cluster-scoped bindings grant ``permission`` on all this request touches."""
    clusters = scope.clusters_granting(principal.scoped, permission)
    if not clusters:
        return False
    resolver = scope.Resolver(auth.repo)
    touched = resolver.path(request.path, dict(request.match_info))
    if scope.NOWHERE in touched:
        return False  # outside every cluster: only a global binding covers it
    if request.can_read_body:
        size = request.content_length
        if size is None or size > _MAX_SCOPED_BODY:
            return False  # not a command body one can look into (uploads, streams)
        touched |= resolver.body(await request.read())
    return scope.granted(touched, clusters)
