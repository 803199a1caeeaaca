"""Query routes of Settings → Security: users, roles (built-in and custom), API tokens.

Read from the ``users``, ``roles`` and ``api_tokens`` read models (``projections.security``)
through the same ``_read`` wrapper as every other GET, so ``?min_seq=`` gives
read-your-writes after a change. ``/tokens`` shows callers their own tokens; with
``user.read`` they may ask for anyone's (``?user_id=``) or all (``?all=true``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from events import problems
from events.permissions import (
    AUTHENTICATED,
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    USER_READ,
    caller,
    requires,
)
from projections import queries
from projections.api import _limit, _read, _states, _text
from projections.queries import Sort

USER_SORT = Sort("username", (("username", "text"), ("id", "text")))
TOKEN_SORT = Sort("-created_at", (("created_at", "timestamptz"), ("id", "text")), desc=True)
USER_STATES = ("active", "disabled", "deleted")

Conn = psycopg.AsyncConnection[Any]


def setup(app: web.Application) -> None:
    """Add the routes (``projections.api.setup`` owns the pool they read through)."""
    r = app.router
    base = "/api/v1"
    r.add_get(f"{base}/users", requires(USER_READ)(_read(_list_users)))
    r.add_get(f"{base}/users/{{id}}", requires(USER_READ)(_read(_user)))
    r.add_get(f"{base}/roles", requires(USER_READ)(_read(_list_roles)))
    r.add_get(f"{base}/tokens", requires(AUTHENTICATED)(_read(_list_tokens)))


async def _list_users(request: web.Request, conn: Conn) -> Any:
    states = _states(request, USER_STATES) or ["active", "disabled"]
    where: list[str] = ["state = ANY(%s)"]
    params: list[Any] = [states]
    if q := _text(request, "q"):
        where.append("username ILIKE %s")
        params.append(queries.like(q))
    return await queries.page(
        conn,
        "users",
        where=where,
        params=params,
        sort=USER_SORT,
        limit=_limit(request),
        cursor=_text(request, "cursor"),
    )


async def _user(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    row = await queries.get(conn, "users", ident)
    if row is None:
        raise problems.not_found("user", ident)
    return row


async def _list_roles(request: web.Request, conn: Conn) -> Any:
    builtin = [
        {
            "name": name,
            "description": BUILTIN_DESCRIPTIONS[name],
            "permissions": sorted(perms),
            "builtin": True,
        }
        for name, perms in BUILTIN_ROLES.items()
    ]
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT name, description, permissions, created_at, updated_at, seq FROM roles"
            " WHERE NOT deleted ORDER BY name"
        )
        rows = await cur.fetchall()
    custom = [
        {
            "name": r[0],
            "description": r[1],
            "permissions": r[2],
            "builtin": False,
            "created_at": r[3],
            "updated_at": r[4],
            "seq": r[5],
        }
        for r in rows
    ]
    items = builtin + custom
    return {"items": items, "next_cursor": None, "total": len(items)}


async def _list_tokens(request: web.Request, conn: Conn) -> Any:
    who = caller()
    if who is None:
        raise problems.unauthorized("credentials required")
    wanted = _text(request, "user_id") or who.user_id
    everyone = request.query.get("all") == "true"
    if (everyone or wanted != who.user_id) and not who.allows(USER_READ):
        raise problems.forbidden(USER_READ)
    where: list[str] = [] if everyone else ["t.user_id = %s"]
    params: list[Any] = [] if everyone else [wanted]
    if request.query.get("include_revoked") != "true":
        where.append("t.revoked_at IS NULL")
    table = "(SELECT t.*, u.username FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id"
    table += (" WHERE " + " AND ".join(where) if where else "") + ") AS tokens"
    return await queries.page(
        conn,
        table,
        where=[],
        params=params,
        sort=TOKEN_SORT,
        limit=_limit(request),
        cursor=_text(request, "cursor"),
    )
