"""Command routes for users, role bindings, custom roles and API tokens.

Each change is a decision on its aggregate (``controlplane.domain.user|role|token``) and
answers ``201``/``202`` with the stream sequence (``seq``) for ``?min_seq=`` reads of
``/api/v1/users|roles|tokens``. An API token's secret is in the answer of its creation and
nowhere else, ever: only its digest is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane.api.auth import principal
from controlplane.api.common import COMMANDS, decode_body
from controlplane.auth import credentials
from controlplane.auth.middleware import AUTH
from controlplane.auth.service import check_password_rules, system_meta
from controlplane.domain import role as role_domain
from controlplane.domain import token as token_domain
from controlplane.domain import user as user_domain
from controlplane.domain.errors import AlreadyExists, DomainError, UnknownAggregate
from controlplane.handlers import TooMuchContention
from events import problems
from events.base import new_id, utcnow
from events.permissions import (
    AUTHENTICATED,
    BUILTIN_ROLES,
    ROLE_MANAGE,
    USER_MANAGE,
    Binding,
    requires,
    valid_scope,
)

routes = web.RouteTableDef()

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class BindingBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Name
    scope: str = "global"


class CreateUserBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Name
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    display_name: Annotated[str, msgspec.Meta(max_length=128)] = ""
    roles: list[BindingBody] = []


class SetPasswordBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class RoleBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: Annotated[str, msgspec.Meta(max_length=512)] = ""
    permissions: list[str]


class UpdateRoleBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    description: Annotated[str, msgspec.Meta(max_length=512)] = ""
    permissions: list[str]


class TokenBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Label
    scopes: Annotated[list[str], msgspec.Meta(min_length=1)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30


def _problem(exc: Exception, kind: str, ident: str) -> problems.Problem:
    if isinstance(exc, UnknownAggregate):
        return problems.not_found(kind, ident)
    if isinstance(exc, AlreadyExists):
        return problems.conflict(str(exc), slug="already-exists")
    if isinstance(exc, DomainError):
        return problems.conflict(str(exc))
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


async def _execute(request: web.Request, kind: str, ident: str, decide: Any) -> int:
    cmds = request.app[COMMANDS]
    try:
        out = await cmds.handler.execute(kind, ident, decide, system_meta(principal(request).actor))
    except (DomainError, TooMuchContention) as exc:
        raise _problem(exc, kind, ident) from exc
    return out.seq


def _binding(body: BindingBody) -> Binding:
    if not valid_scope(body.scope):
        raise problems.invalid_body(f"scope must be 'global' or 'cluster:<id>', not {body.scope!r}")
    return Binding(role=body.role, scope=body.scope)


def _check_role(request: web.Request, role: str) -> None:
    if role in BUILTIN_ROLES:
        return
    state: role_domain.Role | None = request.app[COMMANDS].repo.get("role", role)[0]
    if state is None or state.deleted:
        raise problems.invalid_body(f"no role named {role!r}")


def _user(request: web.Request) -> user_domain.User:
    ident = request.match_info["user_id"]
    user: user_domain.User | None = request.app[COMMANDS].repo.get("user", ident)[0]
    if user is None or user.deleted:
        raise problems.not_found("user", ident)
    return user


# -- users ----------------------------------------------------------------------------


@routes.post("/api/v1/users")
@requires(USER_MANAGE)
async def create_user(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateUserBody)
    check_password_rules(body.password)
    bindings = tuple(_binding(b) for b in body.roles)
    for b in bindings:
        _check_role(request, b.role)
    uid = user_domain.user_id_for(body.username)
    command = user_domain.Create(
        username=body.username, display_name=body.display_name, bindings=bindings
    )
    await _execute(request, "user", uid, user_domain.decider(command))
    user = request.app[COMMANDS].repo.get("user", uid)[0]
    seq = await request.app[AUTH].set_password(
        user, body.password, principal(request).actor, by_admin=True
    )
    return web.json_response({"user_id": uid, "seq": seq}, status=201)


@routes.delete("/api/v1/users/{user_id}")
@requires(USER_MANAGE)
async def delete_user(request: web.Request) -> web.Response:
    user = _user(request)
    if user.user_id == principal(request).user_id:
        raise problems.conflict("you cannot delete yourself")
    seq = await _execute(request, "user", user.user_id, user_domain.decider(user_domain.Delete()))
    await request.app[AUTH].creds.forget_password(user.user_id)
    return web.json_response({"user_id": user.user_id, "seq": seq}, status=202)


@routes.post("/api/v1/users/{user_id}/actions/{verb}")
@requires(USER_MANAGE)
async def user_action(request: web.Request) -> web.Response:
    user = _user(request)
    verb = request.match_info["verb"]
    if verb == "set-password":
        body = await decode_body(request, SetPasswordBody)
        seq = await request.app[AUTH].set_password(
            user, body.password, principal(request).actor, by_admin=True
        )
    elif verb in ("disable", "enable"):
        if verb == "disable" and user.user_id == principal(request).user_id:
            raise problems.conflict("you cannot disable yourself")
        command = user_domain.Disable() if verb == "disable" else user_domain.Enable()
        seq = await _execute(request, "user", user.user_id, user_domain.decider(command))
    else:
        raise problems.Problem(
            404,
            "unknown-action",
            "No such action",
            f"users have no action {verb!r}; known: set-password, disable, enable",
        )
    return web.json_response({"user_id": user.user_id, "seq": seq}, status=202)


@routes.post("/api/v1/users/{user_id}/role-bindings")
@requires(ROLE_MANAGE)
async def bind_role(request: web.Request) -> web.Response:
    user = _user(request)
    binding = _binding(await decode_body(request, BindingBody))
    _check_role(request, binding.role)
    seq = await _execute(
        request, "user", user.user_id, user_domain.decider(user_domain.Bind(binding=binding))
    )
    return web.json_response({"user_id": user.user_id, "seq": seq}, status=202)


@routes.post("/api/v1/users/{user_id}/role-bindings/actions/remove")
@requires(ROLE_MANAGE)
async def unbind_role(request: web.Request) -> web.Response:
    user = _user(request)
    binding = _binding(await decode_body(request, BindingBody))
    seq = await _execute(
        request, "user", user.user_id, user_domain.decider(user_domain.Unbind(binding=binding))
    )
    return web.json_response({"user_id": user.user_id, "seq": seq}, status=202)


# -- roles ----------------------------------------------------------------------------


@routes.post("/api/v1/roles")
@requires(ROLE_MANAGE)
async def create_role(request: web.Request) -> web.Response:
    body = await decode_body(request, RoleBody)
    command = role_domain.Define(
        role=body.name, description=body.description, permissions=tuple(body.permissions)
    )
    seq = await _execute(request, "role", body.name, role_domain.decider(command))
    return web.json_response({"role": body.name, "seq": seq}, status=201)


@routes.put("/api/v1/roles/{role}")
@requires(ROLE_MANAGE)
async def update_role(request: web.Request) -> web.Response:
    name = request.match_info["role"]
    body = await decode_body(request, UpdateRoleBody)
    command = role_domain.Define(
        role=name, description=body.description, permissions=tuple(body.permissions), update=True
    )
    seq = await _execute(request, "role", name, role_domain.decider(command))
    return web.json_response({"role": name, "seq": seq}, status=202)


@routes.delete("/api/v1/roles/{role}")
@requires(ROLE_MANAGE)
async def delete_role(request: web.Request) -> web.Response:
    name = request.match_info["role"]
    if name in BUILTIN_ROLES:
        raise problems.conflict(f"{name} is a built-in role and cannot be deleted")
    seq = await _execute(request, "role", name, role_domain.decider(role_domain.Delete()))
    return web.json_response({"role": name, "seq": seq}, status=202)


# -- API tokens -----------------------------------------------------------------------


@routes.post("/api/v1/tokens")
@requires(AUTHENTICATED)
async def create_token(request: web.Request) -> web.Response:
    """A token for the caller, scoped to a subset of the caller's own permissions."""
    body = await decode_body(request, TokenBody)
    who = principal(request)
    if who.via != "session":
        raise problems.Problem(
            403, "session-required", "Sign in with a password", "API tokens cannot create tokens"
        )
    beyond = sorted(set(body.scopes) - who.permissions)
    if beyond:
        raise problems.Problem(
            403,
            "forbidden",
            "Permission denied",
            f"a token cannot hold permissions you lack: {', '.join(beyond)}",
        )
    token_id = new_id()
    now = utcnow()
    expires_at = now + timedelta(days=body.expires_in_days)
    secret = credentials.new_token(token_id)
    await request.app[AUTH].creds.set_token(token_id, secret)
    command = token_domain.Issue(
        token_id=token_id,
        user_id=who.user_id,
        name=body.name,
        scopes=tuple(body.scopes),
        expires_at=expires_at,
        now=now,
    )
    seq = await _execute(request, "token", token_id, token_domain.decider(command))
    return web.json_response(
        {
            "token_id": token_id,
            "token": secret,
            "name": body.name,
            "scopes": sorted(set(body.scopes)),
            "expires_at": expires_at.isoformat(),
            "seq": seq,
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.delete("/api/v1/tokens/{token_id}")
@requires(AUTHENTICATED)
async def revoke_token(request: web.Request) -> web.Response:
    """Owners revoke their own tokens; ``user.manage`` revokes anyone's."""
    ident = request.match_info["token_id"]
    who = principal(request)
    state: token_domain.Token | None = request.app[COMMANDS].repo.get("token", ident)[0]
    if state is None or (state.user_id != who.user_id and not who.allows(USER_MANAGE)):
        raise problems.not_found("token", ident)
    seq = await _execute(request, "token", ident, token_domain.decider(token_domain.Revoke()))
    return web.json_response({"token_id": ident, "seq": seq}, status=202)
