"""Wire encoding of events: the envelope, the tagged union of all events, codec singletons.

A message on ``lq.evt.<kind>.<id>`` is a JSON array of envelopes: the events of one
decision, landing atomically. Its ``Nats-Msg-Id`` is the first envelope's ``event_id``.
Encoders and decoders are built once here and reused everywhere.

Decoding never fails on an event this reader does not know: a message that the typed fast
path rejects is decoded envelope by envelope, old versions go through their upcasters and
anything still unreadable becomes ``events.evolution.UnknownEvent`` (see that module).
The envelope's last fields (``changes``, ``prev_hash``, ``hash``) are the audit additions
of docs/history.md; ``hash`` must stay the last field (``events.chain`` relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from events import evolution
from events.affinity import AFFINITY_EVENTS
from events.alert import ALERT_EVENTS
from events.auth import SECURITY_EVENTS
from events.base import Event, Meta, event_type, new_id
from events.cluster import CLUSTER_EVENTS
from events.drs import DRS_EVENTS
from events.evolution import UnknownEvent
from events.fleet_settings import SETTINGS_EVENTS
from events.ha import HA_EVENTS
from events.host import HOST_EVENTS
from events.name_claim import NAME_CLAIM_EVENTS
from events.network import NETWORK_EVENTS
from events.security_group import SECURITY_GROUP_EVENTS
from events.storage import STORAGE_EVENTS
from events.task import TASK_EVENTS
from events.vm import VM_EVENTS
from events.vm_name import VM_NAME_EVENTS
from events.webhook import WEBHOOK_EVENTS

AnyEvent = (
    VM_EVENTS
    | HOST_EVENTS
    | TASK_EVENTS
    | SECURITY_EVENTS
    | ALERT_EVENTS
    | WEBHOOK_EVENTS
    | STORAGE_EVENTS
    | NETWORK_EVENTS
    | SECURITY_GROUP_EVENTS
    | HA_EVENTS
    | DRS_EVENTS
    | CLUSTER_EVENTS
    | AFFINITY_EVENTS
    | SETTINGS_EVENTS
    | VM_NAME_EVENTS
    | NAME_CLAIM_EVENTS
    | UnknownEvent
)


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
    changes: dict[str, Any] | None = None
    """Aggregate-state fields this event changed: ``{field: [old, new]}`` (docs/history.md)."""
    prev_hash: str | None = None
    hash: str | None = None
    """sha256 chaining this event to the aggregate's previous one (``events.chain``)."""

    @property
    def type(self) -> str:
        if isinstance(self.event, UnknownEvent):
            return self.event.original_type
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


_raw_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_dict_decoder = msgspec.json.Decoder(dict[str, Any])


def decode_batch(data: bytes) -> list[Envelope]:
    """The envelopes of one event-stream message; unknown types become ``UnknownEvent``."""
    try:
        envelopes = _batch_decoder.decode(data)
    except msgspec.ValidationError:
        return [_decode_loose(raw) for raw in _raw_batch_decoder.decode(data)]
    if evolution.UPCASTERS and any(
        evolution.needs_upcast(e.type, e.schema_version) for e in envelopes
    ):
        return [_decode_loose(raw) for raw in _raw_batch_decoder.decode(data)]
    return envelopes


def _decode_loose(raw: msgspec.Raw) -> Envelope:
    """One envelope the slow way: upcast its event, or keep it as ``UnknownEvent``."""
    env = _dict_decoder.decode(raw)
    data = env.get("event")
    if not isinstance(data, dict):
        data = {"type": "", "value": data}
    original = str(data.get("type", ""))
    version = env.get("schema_version", 1)
    upcasted, version = evolution.upcast(original, version if isinstance(version, int) else 1, data)
    try:
        return msgspec.convert({**env, "event": upcasted, "schema_version": version}, Envelope)
    except msgspec.ValidationError as exc:
        unknown = {"type": evolution.UNKNOWN_TAG, "original_type": original, "data": data}
        unknown["reason"] = str(exc)
        return msgspec.convert({**env, "event": unknown}, Envelope)


def event_data(env: Envelope) -> Any:
    """The event as stored (an unknown one verbatim), as JSON-ready builtins."""
    if isinstance(env.event, UnknownEvent):
        return env.event.data
    return msgspec.to_builtins(env.event)


def decode_event_data(data: bytes | str, schema_version: int = 1) -> Event:
    """An event from its stored JSON object (e.g. the audit log's ``data``), never failing:
    upcast when registered, ``UnknownEvent`` when unreadable."""
    try:
        event: Event = _event_decoder.decode(data)
    except msgspec.ValidationError:
        pass
    else:
        if not evolution.needs_upcast(event_type(event), schema_version):
            return event
    obj = _dict_decoder.decode(data)
    original = str(obj.get("type", ""))
    upcasted, _ = evolution.upcast(original, schema_version, obj)
    try:
        converted: Event = msgspec.convert(upcasted, AnyEvent)
    except msgspec.ValidationError as exc:
        return UnknownEvent(original_type=original, data=obj, reason=str(exc))
    return converted


def decode_event(data: bytes) -> Event:
    return _event_decoder.decode(data)  # type: ignore[no-any-return]


def to_builtins(obj: Any) -> Any:
    """Plain JSON-ready Python objects (for JSONB columns and HTTP bodies)."""
    return msgspec.to_builtins(obj)


def event_schema() -> dict[str, Any]:
    """JSON Schema of the envelope and every event, for outside subscribers."""
    return msgspec.json.schema(list[Envelope])
