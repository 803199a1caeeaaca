"""Events of alerts (subject ``lq.evt.alert.<id>``) and silences (``lq.evt.silence.<id>``).

An alert is one rule about one thing (a host, a VM, a task): its id is derived from both
(``alert_id(rule_id, scope_id)``), so every controlplane replica that sees the same breach
appends to the same subject and the expected-version check lets exactly one of them fire
it. The aggregate lives through episodes: firing → (acknowledged) → resolved, then firing
again as episode n+1. Notification attempts are events too (``alert.notified``), so the
delivery log is the alert's own history.

Notification channels (subject ``lq.evt.channel.<id>``) are where notices go: a signed
webhook or a list of e-mail recipients, each with a minimum severity. A webhook's signing
secret is never in an event: the controlplane keeps it in the ``lq_credentials`` KV bucket
under ``channel.<id>`` (the events record only whether one is set).

Alert rules an operator changes at runtime are the kind ``alert_rule`` (subject
``lq.evt.alert_rule.<rule_id>``): a custom rule's whole definition when it is added, then
each change as the fields it sets, a shipped rule's return to its starting form and a
custom rule's deletion — the audit trail of what was evaluated when.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from events.base import Event

Severity = Literal["info", "warning", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]
ChannelType = Literal["webhook", "email"]
RuleTarget = Literal["host", "vm", "task"]
RuleKind = Literal["metric", "event"]
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
    channel_id: str = ""  # the notification channel; "" for the fleet-setting channels


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


class ChannelCreated(Event, frozen=True, kw_only=True, tag="channel.created"):
    """A notification channel: notices of alerts at or above ``min_severity`` go to it —
    ``url`` for a webhook (``signed``: a secret is set), ``to`` for e-mail."""

    channel_id: str
    name: str
    channel_type: ChannelType
    url: str = ""
    to: list[str] = []
    min_severity: Severity = "info"
    enabled: bool = True
    signed: bool = False


class ChannelUpdated(Event, frozen=True, kw_only=True, tag="channel.updated"):
    """The channel's whole configuration after the change."""

    channel_id: str
    name: str
    channel_type: ChannelType
    url: str = ""
    to: list[str] = []
    min_severity: Severity = "info"
    enabled: bool = True
    signed: bool = False


class ChannelDeleted(Event, frozen=True, kw_only=True, tag="channel.deleted"):
    """Nothing goes to the channel after this event; its secret is forgotten."""

    channel_id: str


class ChannelTested(Event, frozen=True, kw_only=True, tag="channel.tested"):
    """The outcome of a test notification someone asked for."""

    channel_id: str
    target: str
    ok: bool
    attempts: int
    error: str = ""


class AlertRuleScope(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule evaluates: an empty list matches anything; every label must be on the host."""

    cluster_ids: list[str] = []
    host_ids: list[str] = []
    vm_ids: list[str] = []
    labels: dict[str, str] = {}


class AlertRuleCreated(Event, frozen=True, kw_only=True, tag="alert_rule.created"):
    """A custom rule an operator added: its whole definition."""

    rule_id: str
    name: str
    severity: Severity
    target: RuleTarget
    kind: RuleKind
    metric: str = ""
    threshold: float = 0.0
    for_s: float = 0.0
    clear_below: float | None = None
    clear_for_s: float = 60.0
    fire_on: list[str] = []
    resolve_on: list[str] = []
    enabled: bool = True
    scope: AlertRuleScope = msgspec.field(default_factory=AlertRuleScope)


class AlertRuleChanged(Event, frozen=True, kw_only=True, tag="alert_rule.changed"):
    """An operator changed a rule (shipped or custom): the fields set here take these
    values, the others keep theirs."""

    rule_id: str
    name: str | None = None
    enabled: bool | None = None
    severity: Severity | None = None
    threshold: float | None = None
    for_s: float | None = None
    clear_below: float | None = None
    clear_for_s: float | None = None
    scope: AlertRuleScope | None = None


class AlertRuleReset(Event, frozen=True, kw_only=True, tag="alert_rule.reset"):
    """A shipped rule is back in its starting form: the operator's changes are dropped."""

    rule_id: str


class AlertRuleDeleted(Event, frozen=True, kw_only=True, tag="alert_rule.deleted"):
    """A custom rule is gone; its open alerts are resolved by the engine."""

    rule_id: str


ALERT_EVENTS = (
    AlertFired
    | AlertAcknowledged
    | AlertResolved
    | AlertNotified
    | SilenceCreated
    | SilenceDeleted
    | ChannelCreated
    | ChannelUpdated
    | ChannelDeleted
    | ChannelTested
    | AlertRuleCreated
    | AlertRuleChanged
    | AlertRuleReset
    | AlertRuleDeleted
)
