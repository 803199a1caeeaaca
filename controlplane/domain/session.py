"""The login-session aggregate (subject ``lq.evt.session.<id>``).

A password login starts a session; its access tokens (short-lived JWTs) and its refresh
token name it. Logging out ends it, and every token of an ended session is refused at
once, on every controlplane replica. Refresh tokens rotate: each exchange moves the
session to a new generation, and presenting an older generation again means the token
was copied, so the session is ended (refresh-token reuse detection).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import auth as ae
from events.base import Event
from events.codec import Envelope

KIND = "session"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    started_at: datetime
    expires_at: datetime
    generation: int = 0
    ended: bool = False

    def valid_at(self, now: datetime) -> bool:
        return not self.ended and now < self.expires_at


class Start(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    user_id: str
    username: str
    address: str
    expires_at: datetime


class Refresh(msgspec.Struct, frozen=True, kw_only=True):
    generation: int
    """The generation the presented refresh token carries."""
    expires_at: datetime
    now: datetime


class End(msgspec.Struct, frozen=True, kw_only=True):
    reason: str = "logout"


Command = Start | Refresh | End


def decide(session: Session | None, command: Command) -> list[Event]:
    if isinstance(command, Start):
        if session is not None:
            raise AlreadyExists(f"session {command.session_id} already exists")
        return [
            ae.LoginSucceeded(
                session_id=command.session_id,
                user_id=command.user_id,
                username=command.username,
                address=command.address,
                expires_at=command.expires_at,
            )
        ]
    if session is None:
        raise UnknownAggregate(KIND, "")
    match command:
        case End():
            if session.ended:
                return []
            return [ae.SessionEnded(session_id=session.session_id, reason=command.reason)]
        case Refresh():
            if not session.valid_at(command.now):
                raise InvalidState("the session has ended")
            if command.generation != session.generation:
                # decided, not raised: the end must be appended; the route then refuses
                return [ae.SessionEnded(session_id=session.session_id, reason="refresh-reused")]
            return [
                ae.SessionRefreshed(
                    session_id=session.session_id,
                    generation=session.generation + 1,
                    expires_at=command.expires_at,
                )
            ]
    raise InvalidState(f"unknown command {command!r}")


def evolve(session: Session | None, env: Envelope) -> Session | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ae.LoginSucceeded):
        return Session(
            session_id=e.session_id,
            user_id=e.user_id,
            started_at=env.occurred_at,
            expires_at=e.expires_at,
        )
    if session is None:
        return None
    match e:
        case ae.SessionRefreshed():
            return r(session, generation=e.generation, expires_at=e.expires_at)
        case ae.SessionEnded():
            return r(session, ended=True)
    return session


def decider(command: Command) -> Callable[[Session | None], list[Event]]:
    return lambda session: decide(session, command)
