"""Query routes of Settings → Security: users, roles (built-in and custom), API tokens,
host join tokens.

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
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import (
    AUTHENTICATED,
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    HOST_ENROLL,
    USER_READ,
    caller,
    requires,
)
from projections import queries
from projections.api import _read

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
    r.add_get(f"{base}/join-tokens", requires(HOST_ENROLL)(_read(_list_join_tokens)))


USER_LISTING = Listing(
    keys={
        "username": "text",
        "state": "text",
        "created_at": "timestamptz",
        "last_login_at": "timestamptz?",
    },
    default_sort="username",
    filters={
        "state": Filter(
            "enum", USER_STATES, description="comma-separated; default active,disabled"
        ),
        "q": Filter("search", sql="username ILIKE %s", description="username substring"),
    },
)


@listed(USER_LISTING)
async def _list_users(request: web.Request, conn: Conn) -> Any:
    asked = USER_LISTING.parse(request.query)
    states = asked.filters["state"] or ["active", "disabled"]
    return await queries.listing_page(
        conn, "users", asked, where=["state = ANY(%s)"], params=[states]
    )


async def _user(request: web.Request, conn: Conn) -> Any:
    ident = request.match_info["id"]
    row = await queries.get(conn, "users", ident)
    if row is None:
        raise problems.not_found("user", ident)
    return row


ROLE_LISTING = Listing(
    keys={"name": "text"},
    default_sort="name",
    filters={"builtin": Filter("bool", description="true: built-in roles only; false: custom")},
    default_limit=500,
    tiebreak=(("name", "text"),),
)


@listed(ROLE_LISTING)
async def _list_roles(request: web.Request, conn: Conn) -> Any:
    asked = ROLE_LISTING.parse(request.query)
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
    if asked.filters["builtin"] is not None:
        items = [r for r in items if r["builtin"] == asked.filters["builtin"]]
    return page_rows(items, asked)


TOKEN_LISTING = Listing(
    keys={"created_at": "timestamptz", "name": "text", "expires_at": "timestamptz"},
    default_sort="-created_at",
    filters={
        "user_id": Filter(description="another user's (user.read)"),
        "all": Filter("bool", description="everyone's (user.read)"),
        "include_revoked": Filter("bool", description="revoked tokens too"),
    },
)


@listed(TOKEN_LISTING)
async def _list_tokens(request: web.Request, conn: Conn) -> Any:
    asked = TOKEN_LISTING.parse(request.query)
    who = caller()
    if who is None:
        raise problems.unauthorized("credentials required")
    wanted = asked.filters["user_id"] or who.user_id
    everyone = bool(asked.filters["all"])
    if (everyone or wanted != who.user_id) and not who.allows(USER_READ):
        raise problems.forbidden(USER_READ)
    where: list[str] = [] if everyone else ["t.user_id = %s"]
    params: list[Any] = [] if everyone else [wanted]
    if not asked.filters["include_revoked"]:
        where.append("t.revoked_at IS NULL")
    table = "(SELECT t.*, u.username FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id"
    table += (" WHERE " + " AND ".join(where) if where else "") + ") AS tokens"
    return await queries.listing_page(conn, table, asked, params=params)


JOIN_TOKEN_STATES = ("active", "used", "revoked", "expired")
JOIN_TOKEN_LISTING = Listing(
    keys={"created_at": "timestamptz", "expires_at": "timestamptz", "label": "text"},
    default_sort="-created_at",
    filters={
        "state": Filter(
            "enum",
            JOIN_TOKEN_STATES,
            sql="state = ANY(%s)",
            description="comma-separated; default all",
        ),
    },
)
_JOIN_TOKEN_STATE = (
    "CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN used_at IS NOT NULL THEN 'used'"
    " WHEN expires_at <= now() THEN 'expired' ELSE 'active' END"
)


@listed(JOIN_TOKEN_LISTING)
async def _list_join_tokens(request: web.Request, conn: Conn) -> Any:
    """Join tokens with their state; never a secret (none is in the read model)."""
    asked = JOIN_TOKEN_LISTING.parse(request.query)
    table = f"(SELECT j.*, {_JOIN_TOKEN_STATE} AS state FROM join_tokens j) AS join_tokens"
    return await queries.listing_page(conn, table, asked)
