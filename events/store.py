"""The event store on JetStream: append with optimistic concurrency, read, replay, follow.

This module and ``events.bus`` are the only ones that import nats-py; no nats type leaves
them. One message on ``lq.evt.<kind>.<id>`` holds the envelopes of one decision, so a
decision lands atomically.

INTERFACE (stable; implementation in progress):
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from events.codec import Envelope, StoredEvent
from events.errors import ConcurrencyError
from events.subjects import EVENTS_ALL


class AppendResult(msgspec.Struct, frozen=True):
    """Where an append landed. ``duplicate`` is true when this exact message (same
    ``Nats-Msg-Id``) was already stored, in which case ``seq`` is where it was stored."""

    seq: int
    duplicate: bool = False


class AppendRequest(msgspec.Struct, frozen=True):
    kind: str
    aggregate_id: str
    envelopes: Sequence[Envelope]
    expected_version: int


class EventBatch:
    """Messages delivered by a durable consumer, acknowledged together after processing."""

    events: list[StoredEvent]
    last_seq: int

    async def ack(self) -> None:
        raise NotImplementedError


class EventStore:
    """Created by ``events.bus.Bus``; use ``bus.store``."""

    def __init__(self, js: Any, nc: Any, stream: str) -> None:
        raise NotImplementedError

    async def append(
        self,
        kind: str,
        aggregate_id: str,
        envelopes: Sequence[Envelope],
        expected_version: int,
    ) -> AppendResult:
        """Publish one decision with ``Nats-Expected-Last-Subject-Sequence: expected_version``
        (0 = the aggregate must not exist) and ``Nats-Msg-Id`` = first event id.
        Raises ``ConcurrencyError`` when the aggregate moved on; ``StoreUnavailable`` when
        NATS stays unavailable after bounded retries."""
        raise NotImplementedError

    async def append_many(
        self, requests: Sequence[AppendRequest]
    ) -> list[AppendResult | ConcurrencyError]:
        """Pipelined appends (concurrent, never ``publish_async`` futures); results in order."""
        raise NotImplementedError

    async def load(self, kind: str, aggregate_id: str, after_seq: int = 0) -> list[StoredEvent]:
        """One aggregate's history after ``after_seq`` (batched direct get)."""
        raise NotImplementedError

    async def last_version(self, kind: str, aggregate_id: str) -> int:
        """Stream sequence of the aggregate's last message, 0 if it has none."""
        raise NotImplementedError

    async def last_seq(self) -> int:
        """The stream's last sequence (0 when empty)."""
        raise NotImplementedError

    def replay(
        self, from_seq: int = 1, until_seq: int | None = None, subject: str = EVENTS_ALL
    ) -> AsyncIterator[StoredEvent]:
        """Every event from ``from_seq`` up to ``until_seq`` (default: the stream's last
        sequence when called), in stream order, then stops."""
        raise NotImplementedError

    def follow(
        self,
        from_seq: int = 1,
        subject: str = EVENTS_ALL,
        max_batch: int = 1000,
        linger: float = 0.005,
    ) -> AsyncIterator[list[StoredEvent]]:
        """Live tail (ordered consumer): batches of whole messages' events, forever."""
        raise NotImplementedError

    def consume(
        self,
        durable: str,
        from_seq: int | None = None,
        subject: str = EVENTS_ALL,
        max_batch: int = 1000,
    ) -> AsyncIterator[EventBatch]:
        """Durable consumer with ack-all: resumes where it left off, or when ``from_seq`` is
        given, is recreated to start there. Unacked batches are redelivered."""
        raise NotImplementedError
