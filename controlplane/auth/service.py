"""Who is calling and what they may do: login, refresh, logout, passwords, the first admin.

Everything the decision needs is event-sourced and already in the controlplane's memory
(``Repository``): users and their role bindings, custom roles, API tokens, sessions. So a
request is authorized without a database round trip, identically on every replica, and an
unknown session or token is fetched from the stream once (a login on another replica may
not have reached this one's tail yet). Verifiers of secrets come from ``credentials``.

Audit: successful logins are session starts; failed logins, lockouts and permission
denials are appended under ``lq.evt.auth.<user id | anonymous>`` — never with the secret
that was tried. Denials are recorded at most once a minute per user and permission, so a
dashboard polling what it may not read cannot flood the log.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from controlplane.auth import credentials, jwts
from controlplane.auth.credentials import Credentials
from controlplane.auth.keys import write_secret_file
from controlplane.auth.limiter import Limiter
from controlplane.domain import role as role_domain
from controlplane.domain import session as session_domain
from controlplane.domain import token as token_domain
from controlplane.domain import user as user_domain
from controlplane.domain.errors import AlreadyExists
from controlplane.fleet import Fleet
from controlplane.handlers import Handler, TooMuchContention
from controlplane.repository import Repository
from events import auth as ae
from events import problems
from events.base import Event, Meta, new_id, utcnow
from events.errors import LqError
from events.permissions import BUILTIN_ROLES, GLOBAL, Binding, Principal
from events.settings import Settings

log = logging.getLogger(__name__)

ADMIN = "admin"
MIN_PASSWORD = 8
DENIAL_EVERY_S = 60.0


def system_meta(actor: str) -> Meta:
    return Meta(actor=actor, occurred_at=utcnow(), correlation_id=new_id())


def session_body(
    access: str, refresh: str, expires_in: float, user: user_domain.User
) -> dict[str, Any]:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": int(expires_in),
        "token_type": "Bearer",
        "user": {"id": user.user_id, "username": user.username},
    }


class Auth:
    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        handler: Handler,
        creds: Credentials,
        key: bytes,
    ) -> None:
        self.static = settings
        self.repo = repo
        self.handler = handler
        self.creds = creds
        self._key = key
        self._fleet = Fleet(repo, settings)
        self._limiter = Limiter(self._fleet.effective, creds.bus, key)
        self._denials: dict[tuple[str, str], float] = {}
        self._token_digests: dict[str, str] = {}

    @property
    def settings(self) -> Settings:
        """The process settings with the fleet's lifetimes and lockout thresholds in effect
        (changed at runtime through ``PATCH /api/v1/settings``)."""
        return self._fleet.effective()

    # -- state ----------------------------------------------------------------------------

    async def _get(self, kind: str, ident: str) -> Any:
        state = self.repo.get(kind, ident)[0]
        if state is None:
            await self.repo.reload(kind, ident)
            state = self.repo.get(kind, ident)[0]
        return state

    def role_permissions(self, role: str) -> frozenset[str]:
        if role in BUILTIN_ROLES:
            return BUILTIN_ROLES[role]
        custom: role_domain.Role | None = self.repo.get("role", role)[0]
        return frozenset() if custom is None or custom.deleted else custom.permissions

    def permissions_of(
        self, user: user_domain.User
    ) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        """Global permissions, and per cluster what cluster-scoped bindings add."""
        glob: set[str] = set()
        scoped: dict[str, set[str]] = {}
        for b in user.bindings:
            perms = self.role_permissions(b.role)
            if b.scope == GLOBAL:
                glob |= perms
            else:
                scoped.setdefault(b.scope.removeprefix("cluster:"), set()).update(perms)
        return frozenset(glob), {k: frozenset(v) for k, v in scoped.items()}

    # -- authenticating a request ---------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer credential (JWT or API token); 401 otherwise."""
        now = utcnow()
        token_id = credentials.token_id_of(token)
        if token_id is not None:
            return await self._api_token(token_id, token, now)
        try:
            claims = jwts.verify(self._key, token, "access")
        except jwts.BadToken as exc:
            raise problems.unauthorized(str(exc)) from None
        user, session = await self._session_user(claims, now)
        perms, scoped = self.permissions_of(user)
        return Principal(
            user_id=user.user_id,
            username=user.username,
            via="session",
            session_id=session.session_id,
            permissions=perms,
            scoped=scoped,
        )

    async def _session_user(
        self, claims: dict[str, Any], now: datetime
    ) -> tuple[user_domain.User, session_domain.Session]:
        session: session_domain.Session | None = await self._get("session", claims["sid"])
        if session is None or session.user_id != claims["sub"] or not session.valid_at(now):
            raise problems.unauthorized("the session has ended; sign in again")
        user: user_domain.User | None = await self._get("user", claims["sub"])
        if user is None or not user.active:
            raise problems.unauthorized("the account is disabled or deleted")
        if user.password_changed_at and session.started_at < user.password_changed_at:
            raise problems.unauthorized("the password was changed; sign in again")
        return user, session

    async def _api_token(self, token_id: str, token: str, now: datetime) -> Principal:
        state: token_domain.Token | None = await self._get("token", token_id)
        if state is None or not state.valid_at(now):
            raise problems.unauthorized("the API token is unknown, expired or revoked")
        known = self._token_digests.get(token_id)
        if known is not None:
            ok = secrets.compare_digest(known, credentials.digest(token))
        else:
            ok = await self.creds.check_token(token_id, token)
            if ok:
                self._token_digests[token_id] = credentials.digest(token)
        if not ok:
            raise problems.unauthorized("the API token is unknown, expired or revoked")
        user: user_domain.User | None = await self._get("user", state.user_id)
        if user is None or not user.active:
            raise problems.unauthorized("the token's account is disabled or deleted")
        perms, scoped = self.permissions_of(user)
        return Principal(
            user_id=user.user_id,
            username=user.username,
            via="token",
            token_id=token_id,
            permissions=perms & state.scopes,
            scoped={k: v & state.scopes for k, v in scoped.items()},
        )

    # -- sessions -------------------------------------------------------------------------

    async def login(self, username: str, password: str, address: str) -> dict[str, Any]:
        wait = await self._limiter.retry_after(username, address)
        if wait > 0:
            raise problems.too_many_attempts(
                "too many failed sign-ins for this user or address; try again later", wait
            )
        user: user_domain.User | None = await self._get("user", user_domain.user_id_for(username))
        exists = user is not None and not user.deleted
        ok = await self.creds.check_password(user.user_id if exists and user else None, password)
        if not ok or user is None or not user.active:
            name = user.username if exists and user else ""
            reason = "disabled" if ok and user is not None else "bad-credentials"
            locked = await self._limiter.failed(username, address)
            subject = user.user_id if exists and user else "anonymous"
            await self.record(
                subject, ae.LoginFailed(username=name, address=address, reason=reason), "anonymous"
            )
            if locked:
                until = utcnow() + timedelta(seconds=self.settings.auth_lockout_s)
                lock = ae.LockedOut(
                    username=name if "user" in locked else "",
                    address=address if "address" in locked else "",
                    until=until,
                )
                await self.record(subject, lock, "anonymous")
            if ok and user is not None and not user.active:
                raise problems.unauthorized("this account is disabled")
            raise problems.unauthorized("wrong user name or password")
        await self._limiter.succeeded(username)
        return await self.start_session(user, address)

    async def start_session(self, user: user_domain.User, address: str) -> dict[str, Any]:
        sid = new_id()
        now = utcnow()
        refresh_ttl = timedelta(seconds=self.settings.auth_refresh_ttl_s)
        command = session_domain.Start(
            session_id=sid,
            user_id=user.user_id,
            username=user.username,
            address=address,
            expires_at=now + refresh_ttl,
        )
        await self.handler.execute(
            "session", sid, session_domain.decider(command), system_meta(f"user:{user.username}")
        )
        return self._pair(user, sid, now, 0)

    def _pair(
        self, user: user_domain.User, sid: str, now: datetime, generation: int
    ) -> dict[str, Any]:
        ttl = timedelta(seconds=self.settings.auth_access_ttl_s)
        refresh_ttl = timedelta(seconds=self.settings.auth_refresh_ttl_s)
        access = jwts.issue(
            self._key, "access", user_id=user.user_id, session_id=sid, now=now, ttl=ttl
        )
        refresh = jwts.issue(
            self._key,
            "refresh",
            user_id=user.user_id,
            session_id=sid,
            now=now,
            ttl=refresh_ttl,
            generation=generation,
        )
        return session_body(access, refresh, ttl.total_seconds(), user)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        try:
            claims = jwts.verify(self._key, refresh_token, "refresh")
        except jwts.BadToken as exc:
            raise problems.unauthorized(str(exc)) from None
        now = utcnow()
        user, session = await self._session_user(claims, now)
        command = session_domain.Refresh(
            generation=int(claims["gen"]),
            expires_at=now + timedelta(seconds=self.settings.auth_refresh_ttl_s),
            now=now,
        )
        out = await self.handler.execute(
            "session",
            session.session_id,
            session_domain.decider(command),
            system_meta(f"user:{user.username}"),
        )
        if any(isinstance(env.event, ae.SessionEnded) for env in out.envelopes):
            log.warning("refresh token of session %s used twice: session ended", session.session_id)
            raise problems.unauthorized("this refresh token was already used; sign in again")
        return self._pair(user, session.session_id, now, int(claims["gen"]) + 1)

    async def logout(self, principal: Principal) -> None:
        if not principal.session_id:
            return
        await self.handler.execute(
            "session",
            principal.session_id,
            session_domain.decider(session_domain.End(reason="logout")),
            system_meta(principal.actor),
        )

    # -- passwords ------------------------------------------------------------------------

    async def set_password(
        self, user: user_domain.User, password: str, actor: str, *, by_admin: bool
    ) -> int:
        check_password_rules(password)
        await self.creds.set_password(user.user_id, password)
        out = await self.handler.execute(
            "user",
            user.user_id,
            user_domain.decider(user_domain.PasswordChanged(by_admin=by_admin)),
            system_meta(actor),
        )
        return out.seq

    async def change_own_password(
        self, principal: Principal, current: str, new: str, address: str
    ) -> dict[str, Any]:
        user: user_domain.User | None = await self._get("user", principal.user_id)
        if user is None or not await self.creds.check_password(user.user_id, current):
            raise problems.Problem(
                403, "wrong-password", "The current password is not right", "nothing changed"
            )
        await self.set_password(user, new, principal.actor, by_admin=False)
        return await self.start_session(user, address)

    # -- audit ----------------------------------------------------------------------------

    async def record(self, subject: str, event: Event, actor: str) -> None:
        """Append an audit fact; a failure to record is logged, never shown to the caller."""
        try:
            await self.handler.execute("auth", subject, lambda _state: [event], system_meta(actor))
        except (LqError, TooMuchContention) as exc:
            log.warning("could not record %s: %s", type(event).__name__, exc)

    async def denied(self, principal: Principal, permission: str, method: str, path: str) -> None:
        now = time.monotonic()
        key = (principal.user_id, permission)
        if now - self._denials.get(key, -DENIAL_EVERY_S) < DENIAL_EVERY_S:
            return
        self._denials[key] = now
        if len(self._denials) > 10_000:
            self._denials.clear()
        event = ae.AccessDenied(
            user_id=principal.user_id,
            username=principal.username,
            permission=permission,
            method=method,
            path=path,
        )
        await self.record(principal.user_id, event, principal.actor)

    # -- the first admin ------------------------------------------------------------------

    async def bootstrap(self) -> None:
        """Create ``admin`` when there are no users, and give it a password if it has none.

        The password is ``admin_password`` (``LQ_ADMIN_PASSWORD``) or a generated one,
        printed once and written to ``<data dir>/admin-password`` (mode 0600). Replicas
        racing here agree: the user id is derived from the name and the password is
        stored only if none exists.
        """
        admin_id = user_domain.user_id_for(ADMIN)
        if not any(not u.deleted for u in self.repo.all("user")):
            create = user_domain.Create(username=ADMIN, bindings=(Binding(role="admin"),))
            with contextlib.suppress(AlreadyExists):
                await self.handler.execute(
                    "user", admin_id, user_domain.decider(create), system_meta("system:bootstrap")
                )
        admin: user_domain.User | None = self.repo.get("user", admin_id)[0]
        if admin is None or admin.deleted or await self.creds.has_password(admin_id):
            return
        password = self.settings.admin_password or secrets.token_urlsafe(15)
        if not await self.creds.set_password(admin_id, password, only_new=True):
            return
        if self.settings.admin_password:
            log.info("user admin has the password from admin_password")
            return
        path = self.settings.data_path / "admin-password"
        path.unlink(missing_ok=True)
        write_secret_file(path, password + "\n")
        print(
            f"LimiQuantix created the user admin with the password {password}\n"
            f"(shown only now; also in {path}, readable only by you - change it after"
            " signing in)",
            flush=True,
        )
        log.warning("created the user admin; its generated password is in %s", path)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise problems.invalid_body(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise problems.invalid_body("a password may have at most 1024 characters")
