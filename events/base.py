"""Base types shared by every event: the event base class and the envelope.

An event is a frozen msgspec Struct with an explicit, stable ``type`` tag
(``"vm.created"``); the tag is the wire name forever, never the class name. The envelope
carries what every event needs for audit and causality: a time-ordered id, the aggregate
it belongs to, when it happened, who did it, the task it serves (correlation) and what
caused it (causation). A message on the event stream holds the envelopes of one decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import uuid_utils


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every domain event. Subclasses set ``tag=`` explicitly."""

    SCHEMA_VERSION: ClassVar[int] = 1


_TAGS: dict[type, str] = {}


def event_type(event: Event) -> str:
    """The stable wire tag of an event instance (looked up once per class: every reader
    of the stream asks it of every event, several times)."""
    cls = type(event)
    tag = _TAGS.get(cls)
    if tag is None:
        found = cls.__struct_config__.tag
        assert isinstance(found, str), f"{cls.__name__} has no explicit tag"
        tag = _TAGS[cls] = found
    return tag


def new_id() -> str:
    """A new time-ordered UUID (version 7) as text (``uuid_utils``' own UUID type: its
    text is the same, and it is several times faster to make than a ``uuid.UUID``)."""
    return str(uuid_utils.uuid7())


def utcnow() -> datetime:
    """The current time in UTC (the only clock read helper; domain code gets time passed in)."""
    return datetime.now(UTC)


class Meta(msgspec.Struct, frozen=True, kw_only=True):
    """Who, when and why: the part of an envelope shared by all events of one decision."""

    actor: str
    occurred_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
