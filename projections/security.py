"""Read models of users, custom roles, API tokens and host join tokens (Settings → Security).

Folded like every other read model, in the batch transaction with the checkpoint, but row
by row in SQL: these events are rare (people, not machines, cause them), so the working-set
machinery of ``tables.Batch`` would buy nothing. No secret reaches these tables because
none is in the events (``events.auth``). ``last_login_at`` comes from session starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from events import auth as ae
from events.codec import StoredEvent
from projections.schema import Conn
from projections.tables import Change

Fold = Callable[[Conn, StoredEvent, Any], Awaitable[tuple[str, str] | None]]


async def _user_created(conn: Conn, se: StoredEvent, e: ae.UserCreated) -> tuple[str, str]:
    at = se.envelope.occurred_at
    await conn.execute(
        "INSERT INTO users (id, username, display_name, state, bindings, created_at,"
        " updated_at, seq) VALUES (%s, %s, %s, 'active', '[]', %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username,"
        " display_name = EXCLUDED.display_name, state = 'active', bindings = '[]',"
        " password_changed_at = NULL, created_at = EXCLUDED.created_at,"
        " updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq",
        [e.user_id, e.username, e.display_name, at, at, se.seq],
    )
    return "user", e.user_id


async def _user_update(
    conn: Conn, se: StoredEvent, user_id: str, sets: str, args: list[Any]
) -> None:
    await conn.execute(
        f"UPDATE users SET {sets}, updated_at = %s, seq = %s WHERE id = %s",
        [*args, se.envelope.occurred_at, se.seq, user_id],
    )


async def _user_event(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str]:
    at = se.envelope.occurred_at
    match e:
        case ae.UserPasswordChanged():
            await _user_update(conn, se, e.user_id, "password_changed_at = %s", [at])
        case ae.UserRoleBound():
            await _user_update(
                conn,
                se,
                e.user_id,
                "bindings = (SELECT COALESCE(jsonb_agg(DISTINCT b), '[]') FROM"
                " jsonb_array_elements(bindings || jsonb_build_array(%s::jsonb)) AS b)",
                [Jsonb(msgspec.to_builtins(e.binding))],
            )
        case ae.UserRoleUnbound():
            await _user_update(
                conn,
                se,
                e.user_id,
                "bindings = (SELECT COALESCE(jsonb_agg(b), '[]') FROM"
                " jsonb_array_elements(bindings) AS b WHERE b <> %s::jsonb)",
                [Jsonb(msgspec.to_builtins(e.binding))],
            )
        case ae.UserDisabled():
            await _user_update(conn, se, e.user_id, "state = 'disabled'", [])
        case ae.UserEnabled():
            await _user_update(conn, se, e.user_id, "state = 'active'", [])
        case ae.UserDeleted():
            await _user_update(conn, se, e.user_id, "state = 'deleted', bindings = '[]'", [])
    return "user", e.user_id


async def _login(conn: Conn, se: StoredEvent, e: ae.LoginSucceeded) -> tuple[str, str]:
    await conn.execute(
        "UPDATE users SET last_login_at = %s WHERE id = %s", [se.envelope.occurred_at, e.user_id]
    )
    return "user", e.user_id


async def _role(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str]:
    at = se.envelope.occurred_at
    if isinstance(e, ae.RoleDeleted):
        await conn.execute(
            "UPDATE roles SET deleted = true, updated_at = %s, seq = %s WHERE name = %s",
            [at, se.seq, e.role],
        )
        return "role", e.role
    created = isinstance(e, ae.RoleCreated)
    await conn.execute(
        "INSERT INTO roles (name, description, permissions, deleted, created_at, updated_at, seq)"
        " VALUES (%s, %s, %s, false, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
        " description = EXCLUDED.description, permissions = EXCLUDED.permissions,"
        " deleted = false, updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq"
        + (", created_at = EXCLUDED.created_at" if created else ""),
        [e.role, e.description, Jsonb(list(e.permissions)), at, at, se.seq],
    )
    return "role", e.role


async def _token(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str]:
    at = se.envelope.occurred_at
    if isinstance(e, ae.TokenRevoked):
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = %s, updated_at = %s, seq = %s WHERE id = %s",
            [at, at, se.seq, e.token_id],
        )
        return "token", e.token_id
    assert isinstance(e, ae.TokenCreated)
    await conn.execute(
        "INSERT INTO api_tokens (id, user_id, name, scopes, expires_at, created_at, updated_at,"
        " seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        [e.token_id, e.user_id, e.name, Jsonb(list(e.scopes)), e.expires_at, at, at, se.seq],
    )
    return "token", e.token_id


async def _join_token(conn: Conn, se: StoredEvent, e: Any) -> tuple[str, str]:
    at = se.envelope.occurred_at
    if isinstance(e, ae.JoinTokenCreated):
        await conn.execute(
            "INSERT INTO join_tokens (id, label, labels, cluster_id, expires_at, created_by,"
            " created_at, updated_at, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            [
                e.token_id,
                e.label,
                Jsonb(dict(e.labels)),
                e.cluster_id,
                e.expires_at,
                se.envelope.actor,
                at,
                at,
                se.seq,
            ],
        )
    elif isinstance(e, ae.JoinTokenUsed):
        await conn.execute(
            "UPDATE join_tokens SET used_by = %s, used_by_name = %s, used_at = %s,"
            " updated_at = %s, seq = %s WHERE id = %s",
            [e.host_id, e.host_name, at, at, se.seq, e.token_id],
        )
    else:
        await conn.execute(
            "UPDATE join_tokens SET revoked_at = %s, updated_at = %s, seq = %s WHERE id = %s",
            [at, at, se.seq, e.token_id],
        )
    return "join_token", e.token_id


FOLDS: dict[type, Fold] = {
    ae.UserCreated: _user_created,
    **dict.fromkeys(
        (
            ae.UserPasswordChanged,
            ae.UserRoleBound,
            ae.UserRoleUnbound,
            ae.UserDisabled,
            ae.UserEnabled,
            ae.UserDeleted,
        ),
        _user_event,
    ),
    ae.LoginSucceeded: _login,
    **dict.fromkeys((ae.RoleCreated, ae.RoleUpdated, ae.RoleDeleted), _role),
    **dict.fromkeys((ae.TokenCreated, ae.TokenRevoked), _token),
    **dict.fromkeys((ae.JoinTokenCreated, ae.JoinTokenUsed, ae.JoinTokenRevoked), _join_token),
}


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> list[Change]:
    """Fold the security events of a batch (others are skipped); the rows changed."""
    changed: dict[tuple[str, str], int] = {}
    for se in events:
        fold = FOLDS.get(type(se.envelope.event))
        if fold is None:
            continue
        key = await fold(conn, se, se.envelope.event)
        if key is not None:
            changed[key] = se.seq
    return [Change(kind, ident, seq) for (kind, ident), seq in changed.items()]
