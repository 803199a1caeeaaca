"""Schema evolution of events: upcasters, and a placeholder for types this reader lacks.

An event type never changes meaning. When its shape must change, its class gets a higher
``SCHEMA_VERSION`` and an upcaster registered here turns the stored form of the old
version into the new one (``data`` is the event's JSON object, ``type`` key included), so
an event written years ago still decodes into today's class. Envelopes record the version
they were written with; ``events.codec.decode_batch`` runs the upcasters before decoding.

A reader older than the writer meets types it does not know (or a known type in a shape it
cannot read). Such an event decodes to ``UnknownEvent`` carrying the original type and
data: folds (projections, aggregates, process managers) ignore it, the audit log keeps it
verbatim, and the projector and the controlplane's stream tail carry on instead of
stopping at it. ``UnknownEvent`` is a reader's placeholder; no writer ever emits it.

Golden files of every event type's encoded form (``tests/events/golden/``) prove that old
events keep decoding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.base import Event

UNKNOWN_TAG = "lq.unknown"


class UnknownEvent(Event, frozen=True, kw_only=True, tag=UNKNOWN_TAG):
    """An event this reader could not decode: its wire type, its data and why."""

    original_type: str
    data: dict[str, Any] = {}
    reason: str = ""


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""``(event type, stored version) -> function`` turning that version into the next one."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
        UPCASTERS[key] = fn
        return fn

    return register


def needs_upcast(event_type: str, version: int) -> bool:
    return (event_type, version) in UPCASTERS


def upcast(event_type: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Apply every registered step from ``version`` on; the new data and its version."""
    while (step := UPCASTERS.get((event_type, version))) is not None:
        data = step(dict(data))
        version += 1
    return data, version
