"""The alert and silence aggregates: pure decide and evolve.

Firing is idempotent (an alert already firing or acknowledged does not fire again), an
acknowledgement needs a firing alert, and resolving needs an open one — by hand, or
automatically when the condition clears. Time comes in with the command, never read here.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from controlplane.domain.errors import InvalidState, UnknownAggregate
from events import alert as ae
from events.base import Event
from events.codec import Envelope


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: str
    rule_id: str
    scope_id: str
    status: ae.AlertStatus
    episode: int
    severity: ae.Severity
    fired_at: datetime
    resolved_at: datetime | None = None


class Silence(msgspec.Struct, frozen=True, kw_only=True):
    silence_id: str
    rule_id: str | None
    scope_id: str | None
    until: datetime
    deleted: bool = False

    def matches(self, rule_id: str, scope_id: str, now: datetime) -> bool:
        return (
            not self.deleted
            and now < self.until
            and self.rule_id in (None, rule_id)
            and self.scope_id in (None, scope_id)
        )


def fire(state: Alert | None, fired: ae.AlertFired) -> list[ae.AlertFired]:
    """``fired`` with the next episode number, or nothing while the alert is open."""
    if state is not None and state.status != "resolved":
        return []
    episode = 1 if state is None else state.episode + 1
    return [msgspec.structs.replace(fired, episode=episode)]


def acknowledge(state: Alert | None, alert_id: str, by: str, comment: str) -> list[Event]:
    if state is None:
        raise UnknownAggregate("alert", alert_id)
    if state.status == "acknowledged":
        return []
    if state.status != "firing":
        raise InvalidState(f"alert {alert_id} is {state.status}, not firing")
    return [ae.AlertAcknowledged(alert_id=alert_id, episode=state.episode, by=by, comment=comment)]


def resolve(
    state: Alert | None, alert_id: str, by: str, *, automatic: bool, comment: str = ""
) -> list[Event]:
    if state is None:
        raise UnknownAggregate("alert", alert_id)
    if state.status == "resolved":
        return []
    return [
        ae.AlertResolved(
            alert_id=alert_id, episode=state.episode, by=by, automatic=automatic, comment=comment
        )
    ]


def evolve(state: Alert | None, env: Envelope) -> Alert | None:
    e = env.event
    if isinstance(e, ae.AlertFired):
        return Alert(
            alert_id=e.alert_id,
            rule_id=e.rule_id,
            scope_id=e.scope_id,
            status="firing",
            episode=e.episode,
            severity=e.severity,
            fired_at=env.occurred_at,
        )
    if state is None:
        return None
    if isinstance(e, ae.AlertAcknowledged) and e.episode == state.episode:
        return msgspec.structs.replace(state, status="acknowledged")
    if isinstance(e, ae.AlertResolved) and e.episode == state.episode:
        return msgspec.structs.replace(state, status="resolved", resolved_at=env.occurred_at)
    return state


def evolve_silence(state: Silence | None, env: Envelope) -> Silence | None:
    e = env.event
    if isinstance(e, ae.SilenceCreated):
        return Silence(
            silence_id=e.silence_id, rule_id=e.rule_id, scope_id=e.scope_id, until=e.until
        )
    if isinstance(e, ae.SilenceDeleted) and state is not None:
        return msgspec.structs.replace(state, deleted=True)
    return state
