"""Events of users, roles, API tokens, sessions and the authentication audit trail.

Who may do what is event-sourced like everything else, so its whole history is auditable
(``lq.evt.user.<id>``, ``lq.evt.role.<name>``, ``lq.evt.token.<id>``,
``lq.evt.session.<id>``, ``lq.evt.join_token.<id>``, ``lq.evt.auth.<user id |
"anonymous">``).

No event carries a secret or a verifier of one: not a password, not its argon2 hash, not
an API token, not its digest, not a JWT. Verifiers live in the NATS KV bucket
``lq_credentials`` (docs/security.md says why); events only say *that* a password changed
or a token was issued. A failed login records the user name only when it names an
existing user, because people type passwords into the user name field.
"""

from __future__ import annotations

from datetime import datetime

from events.base import Event
from events.permissions import Binding


class UserCreated(Event, frozen=True, kw_only=True, tag="user.created"):
    user_id: str
    username: str
    display_name: str = ""


class UserPasswordChanged(Event, frozen=True, kw_only=True, tag="user.password_changed"):
    """Sessions started before this event are no longer valid."""

    user_id: str
    by_admin: bool = False


class UserRoleBound(Event, frozen=True, kw_only=True, tag="user.role_bound"):
    user_id: str
    binding: Binding


class UserRoleUnbound(Event, frozen=True, kw_only=True, tag="user.role_unbound"):
    user_id: str
    binding: Binding


class UserDisabled(Event, frozen=True, kw_only=True, tag="user.disabled"):
    user_id: str


class UserEnabled(Event, frozen=True, kw_only=True, tag="user.enabled"):
    user_id: str


class UserDeleted(Event, frozen=True, kw_only=True, tag="user.deleted"):
    user_id: str


USER_EVENTS = (
    UserCreated
    | UserPasswordChanged
    | UserRoleBound
    | UserRoleUnbound
    | UserDisabled
    | UserEnabled
    | UserDeleted
)


class RoleCreated(Event, frozen=True, kw_only=True, tag="role.created"):
    role: str
    description: str = ""
    permissions: list[str] = []


class RoleUpdated(Event, frozen=True, kw_only=True, tag="role.updated"):
    role: str
    description: str = ""
    permissions: list[str] = []


class RoleDeleted(Event, frozen=True, kw_only=True, tag="role.deleted"):
    role: str


ROLE_EVENTS = RoleCreated | RoleUpdated | RoleDeleted


class TokenCreated(Event, frozen=True, kw_only=True, tag="token.created"):
    """An API token was issued; its secret was shown once and is stored only as a digest."""

    token_id: str
    user_id: str
    name: str
    scopes: list[str] = []
    expires_at: datetime


class TokenRevoked(Event, frozen=True, kw_only=True, tag="token.revoked"):
    token_id: str
    user_id: str


TOKEN_EVENTS = TokenCreated | TokenRevoked


class JoinTokenCreated(Event, frozen=True, kw_only=True, tag="join_token.created"):
    """A one-time host join token was issued (shown once; only its digest is stored).

    The host that enrols with it gets ``labels`` and joins ``cluster_id`` (if set)."""

    token_id: str
    label: str = ""
    labels: dict[str, str] = {}
    cluster_id: str | None = None
    expires_at: datetime


class JoinTokenUsed(Event, frozen=True, kw_only=True, tag="join_token.used"):
    """A new host enrolled with the token; it is spent."""

    token_id: str
    host_id: str
    host_name: str


class JoinTokenRevoked(Event, frozen=True, kw_only=True, tag="join_token.revoked"):
    token_id: str


JOIN_TOKEN_EVENTS = JoinTokenCreated | JoinTokenUsed | JoinTokenRevoked


class LoginSucceeded(Event, frozen=True, kw_only=True, tag="auth.login_succeeded"):
    """A password login: starts a session (subject ``lq.evt.session.<session_id>``)."""

    session_id: str
    user_id: str
    username: str
    address: str = ""
    expires_at: datetime


class SessionRefreshed(Event, frozen=True, kw_only=True, tag="auth.session_refreshed"):
    """The session's refresh token was exchanged; only generation ``generation`` is valid."""

    session_id: str
    generation: int
    expires_at: datetime


class SessionEnded(Event, frozen=True, kw_only=True, tag="auth.session_ended"):
    """Logout, or a refresh token was used twice (``reason`` says which)."""

    session_id: str
    reason: str = "logout"


SESSION_EVENTS = LoginSucceeded | SessionRefreshed | SessionEnded


class LoginFailed(Event, frozen=True, kw_only=True, tag="auth.login_failed"):
    """``username`` is empty unless it names an existing user (never a typed password)."""

    username: str = ""
    address: str = ""
    reason: str  # "bad-credentials", "locked", "disabled"


class LockedOut(Event, frozen=True, kw_only=True, tag="auth.locked_out"):
    username: str = ""
    address: str = ""
    until: datetime


class AccessDenied(Event, frozen=True, kw_only=True, tag="auth.denied"):
    user_id: str
    username: str
    permission: str
    method: str
    path: str


AUTH_EVENTS = LoginFailed | LockedOut | AccessDenied

SECURITY_EVENTS = (
    USER_EVENTS | ROLE_EVENTS | TOKEN_EVENTS | JOIN_TOKEN_EVENTS | SESSION_EVENTS | AUTH_EVENTS
)
