"""Events of alerts (subject ``lq.evt.alert.<id>``) and silences (``lq.evt.silence.<id>``).

An alert is one rule about one thing (a host, a VM, a task): its id is derived from both
(``alert_id(rule_id, scope_id)``), so every controlplane replica that sees the same breach
appends to the same subject and the expected-version check lets exactly one of them fire
it. The aggregate lives through episodes: firing → (acknowledged) → resolved, then firing
again as episode n+1. Notification attempts are events too (``alert.notified``), so the
delivery log is the alert's own history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from events.base import Event

Severity = Literal["info", "warning", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]
_NAMESPACE = uuid.UUID("1a3f6f0e-7d0b-4b4c-9d51-2c8e5a7b6c11")


def alert_id(rule_id: str, scope_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{rule_id}:{scope_id}"))


class AlertFired(Event, frozen=True, kw_only=True, tag="alert.fired"):
    alert_id: str
    episode: int
    rule_id: str
    rule_name: str
    severity: Severity
    scope_kind: str  # "host", "vm" or "task"
    scope_id: str
    message: str
    value: float | None = None
    threshold: float | None = None
    silenced: bool = False


class AlertAcknowledged(Event, frozen=True, kw_only=True, tag="alert.acknowledged"):
    alert_id: str
    episode: int
    by: str
    comment: str = ""


class AlertResolved(Event, frozen=True, kw_only=True, tag="alert.resolved"):
    alert_id: str
    episode: int
    by: str  # "system:alerting" when the condition cleared
    automatic: bool
    comment: str = ""


class AlertNotified(Event, frozen=True, kw_only=True, tag="alert.notified"):
    """One notification delivery (after its retries): the delivery log."""

    alert_id: str
    episode: int
    channel: str  # "webhook" or "email"
    target: str
    about: AlertStatus
    ok: bool
    attempts: int
    error: str = ""


class SilenceCreated(Event, frozen=True, kw_only=True, tag="silence.created"):
    """Notifications of matching alerts are held back until ``until``; ``None`` matches any."""

    silence_id: str
    rule_id: str | None = None
    scope_id: str | None = None
    until: datetime
    by: str
    comment: str = ""


class SilenceDeleted(Event, frozen=True, kw_only=True, tag="silence.deleted"):
    silence_id: str
    by: str


ALERT_EVENTS = (
    AlertFired | AlertAcknowledged | AlertResolved | AlertNotified | SilenceCreated | SilenceDeleted
)
