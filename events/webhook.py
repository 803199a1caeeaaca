"""Webhook subscriptions (subject ``lq.evt.webhook.<id>``) and the delivery contract.

A webhook subscription lets a consumer without a NATS client receive events over HTTPS:
each event that passes its filters is POSTed to its URL as the envelope's JSON. The
subscription itself is event-sourced like everything else (who created it, who changed its
URL or filters, when it was disabled), so its whole history is auditable.

Its **signing secret is never in an event**: the controlplane generates it, shows it once
in the answer of the creation and keeps it in the ``lq_credentials`` KV bucket under
``webhook.<id>`` (docs/security.md says why secrets stay out of the immutable log).

The pure helpers at the end are the contract receivers rely on: which events a
subscription matches (``matches``), the stable delivery id receivers deduplicate on
(``delivery_id``) and the signature they check (``sign``/``verify``, docs/webhooks.md).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence

from events.base import Event

KIND = "webhook"
PING = "webhook.pinged"
"""The test delivery's event type: sent to its own subscription only, whatever the filters."""
_NAMESPACE = uuid.UUID("6d1f3b52-2a47-4c8e-9a0b-5e7c1d2f4a90")


class WebhookCreated(Event, frozen=True, kw_only=True, tag="webhook.created"):
    """A subscription: events whose kind and type pass the filters go to ``url``.

    ``kinds`` and ``types`` are glob patterns (``vm``, ``vm.*``, ``task.failed``); an empty
    list matches everything. An event must pass both lists."""

    webhook_id: str
    name: str
    url: str
    kinds: list[str] = []
    types: list[str] = []
    enabled: bool = True


class WebhookUpdated(Event, frozen=True, kw_only=True, tag="webhook.updated"):
    """The subscription's whole configuration after the change (the envelope's ``changes``
    holds what changed, old and new)."""

    webhook_id: str
    name: str
    url: str
    kinds: list[str] = []
    types: list[str] = []
    enabled: bool = True


class WebhookDeleted(Event, frozen=True, kw_only=True, tag="webhook.deleted"):
    """Nothing is delivered to the subscription after this event; its secret is forgotten."""

    webhook_id: str


class WebhookSecretRotated(Event, frozen=True, kw_only=True, tag="webhook.secret_rotated"):
    """A new signing secret replaced the old one (shown once to whoever rotated it; the
    secret itself is in the credentials bucket, never here)."""

    webhook_id: str


class WebhookPinged(Event, frozen=True, kw_only=True, tag="webhook.pinged"):
    """Someone asked for a test delivery: this event goes to this subscription only."""

    webhook_id: str


WEBHOOK_EVENTS = (
    WebhookCreated | WebhookUpdated | WebhookDeleted | WebhookPinged | WebhookSecretRotated
)


# -- the delivery contract (pure) --------------------------------------------------------


def matches(kinds: Sequence[str], types: Sequence[str], kind: str, event_type: str) -> bool:
    """Whether an event of ``kind``/``event_type`` passes the filters (empty = any)."""
    if kinds and not any(fnmatch.fnmatchcase(kind, k) for k in kinds):
        return False
    return not types or any(fnmatch.fnmatchcase(event_type, t) for t in types)


def delivery_id(webhook_id: str, event_id: str) -> str:
    """The stable id of one event's delivery to one subscription (a UUID derived from both):
    retries and redeliveries carry the same id, so a receiver can deduplicate on it."""
    return str(uuid.uuid5(_NAMESPACE, f"{webhook_id}:{event_id}"))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)
