"""The one-time host join token (subject ``lq.evt.join_token.<id>``): issue, spend, revoke.

A new host enrols by presenting a join token (docs/security.md, *Enrolment*). The secret
never reaches the domain: the route generates it, shows it once and stores only its
digest (in the credentials bucket). What the domain keeps decides whether a presented
token still admits a host: not revoked, not expired, not used. Spending is a decision on
this aggregate like any other, so two hosts racing with one token cannot both win: the
second append fails its expected-version check and finds the token used.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import auth as ae
from events.base import Event
from events.codec import Envelope

KIND = "join_token"


class JoinToken(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    label: str
    labels: dict[str, str]
    cluster_id: str | None
    expires_at: datetime
    created_at: datetime
    used_by: str | None = None  # the host id that enrolled with it
    used_at: datetime | None = None
    revoked: bool = False

    def refusal(self, now: datetime) -> str | None:
        """Why the token admits no host at ``now``, or None when it does."""
        if self.revoked:
            return "the join token was revoked"
        if self.used_by is not None:
            return "the join token was already used (each token admits one host)"
        if now >= self.expires_at:
            return "the join token has expired"
        return None


class Issue(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    label: str
    labels: dict[str, str]
    cluster_id: str | None
    expires_at: datetime
    now: datetime


class Use(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    host_name: str
    now: datetime


class Revoke(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Issue | Use | Revoke


def decide(token: JoinToken | None, command: Command) -> list[Event]:
    if isinstance(command, Issue):
        if token is not None:
            raise AlreadyExists(f"join token {command.token_id} already exists")
        if command.expires_at <= command.now:
            raise InvalidState("a join token must expire in the future")
        return [
            ae.JoinTokenCreated(
                token_id=command.token_id,
                label=command.label,
                labels=dict(command.labels),
                cluster_id=command.cluster_id,
                expires_at=command.expires_at,
            )
        ]
    if token is None:
        raise UnknownAggregate(KIND, "")
    if isinstance(command, Use):
        refused = token.refusal(command.now)
        if refused is not None:
            raise InvalidState(refused)
        return [
            ae.JoinTokenUsed(
                token_id=token.token_id, host_id=command.host_id, host_name=command.host_name
            )
        ]
    if token.revoked or token.used_by is not None:
        return []  # revoking a spent or revoked token changes nothing
    return [ae.JoinTokenRevoked(token_id=token.token_id)]


def evolve(token: JoinToken | None, env: Envelope) -> JoinToken | None:
    e = env.event
    if isinstance(e, ae.JoinTokenCreated):
        return JoinToken(
            token_id=e.token_id,
            label=e.label,
            labels=dict(e.labels),
            cluster_id=e.cluster_id,
            expires_at=e.expires_at,
            created_at=env.occurred_at,
        )
    if token is None:
        return None
    if isinstance(e, ae.JoinTokenUsed):
        return msgspec.structs.replace(token, used_by=e.host_id, used_at=env.occurred_at)
    if isinstance(e, ae.JoinTokenRevoked):
        return msgspec.structs.replace(token, revoked=True)
    return token


def decider(command: Command) -> Callable[[JoinToken | None], list[Event]]:
    return lambda token: decide(token, command)
