"""Wire encoding of events: the envelope, the tagged union of all events, codec singletons.

A message on ``lq.evt.<kind>.<id>`` is a JSON array of envelopes: the events of one
decision, landing atomically. Its ``Nats-Msg-Id`` is the first envelope's ``event_id``.
Encoders and decoders are built once here and reused everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from events.base import Event, Meta, event_type, new_id
from events.host import HOST_EVENTS
from events.task import TASK_EVENTS
from events.vm import VM_EVENTS

AnyEvent = VM_EVENTS | HOST_EVENTS | TASK_EVENTS


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One event with everything needed to audit it without replay."""

    event_id: str
    schema_version: int = 1
    aggregate_kind: str
    aggregate_id: str
    occurred_at: datetime
    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    event: AnyEvent

    @property
    def type(self) -> str:
        return event_type(self.event)


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An envelope read back from the stream with where it landed.

    ``seq`` is the stream sequence of the message holding it: the global order, and the
    aggregate's version once it is applied. ``index`` is its position in that message.
    """

    seq: int
    index: int
    envelope: Envelope


def wrap(kind: str, aggregate_id: str, events: Sequence[Event], meta: Meta) -> list[Envelope]:
    """Envelopes for the events of one decision, each with a fresh time-ordered id."""
    return [
        Envelope(
            event_id=new_id(),
            schema_version=type(e).SCHEMA_VERSION,
            aggregate_kind=kind,
            aggregate_id=aggregate_id,
            occurred_at=meta.occurred_at,
            actor=meta.actor,
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            traceparent=meta.traceparent,
            event=e,  # type: ignore[arg-type]
        )
        for e in events
    ]


_encoder = msgspec.json.Encoder()
_batch_decoder = msgspec.json.Decoder(list[Envelope])
_event_decoder = msgspec.json.Decoder(AnyEvent)


def encode(obj: Any) -> bytes:
    """JSON bytes of any contract object (envelopes, orders, reports)."""
    return _encoder.encode(obj)


def decode_batch(data: bytes) -> list[Envelope]:
    """The envelopes of one event-stream message."""
    return _batch_decoder.decode(data)


def decode_event(data: bytes) -> Event:
    return _event_decoder.decode(data)  # type: ignore[no-any-return]


def to_builtins(obj: Any) -> Any:
    """Plain JSON-ready Python objects (for JSONB columns and HTTP bodies)."""
    return msgspec.to_builtins(obj)


def event_schema() -> dict[str, Any]:
    """JSON Schema of the envelope and every event, for outside subscribers."""
    return msgspec.json.schema(list[Envelope])
