"""The events the aggregate cache has applied, handed on to other readers in the process.

The aggregate cache (``controlplane.repository``) already follows the whole event stream.
A reader in the same process that needs every event in stream order and keeps no position
on the server (the alert engine) reads it from here instead of a second follow of its own:
no second wake-up subscription carrying every message, no second round of direct gets.

The cache keeps its last ``KEEP`` events (``Applied.add`` after each applied batch).
``Applied.follow`` yields every event from a sequence on, in stream order, once the cache
has applied it; a reader that falls further behind than what is kept (it was busy, or
starts from an older sequence) reads the gap from the stream itself (``EventStore.replay``),
then continues from what is kept. So a slow reader never holds the cache back and never
misses an event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from functools import partial

from events.codec import StoredEvent
from events.store import EventStore, message_batches

KEEP = 4096
"""Applied events kept for readers that are a little behind."""

_CHUNK = 512  # events per batch handed over while catching up from the stream


class Applied:
    """The cache's recent batches, and a condition notified after each one."""

    def __init__(self, store: EventStore, keep: int = KEEP) -> None:
        self._store = store
        self._keep = max(1, keep)
        self._batches: deque[list[StoredEvent]] = deque()
        self._count = 0
        self._last = 0  # the highest sequence added
        self._changed = asyncio.Condition()

    async def add(self, batch: list[StoredEvent]) -> None:
        """Events the cache has just applied (after everything added before)."""
        if not batch:
            return
        self._batches.append(batch)
        self._count += len(batch)
        self._last = batch[-1].seq
        while self._count - len(self._batches[0]) >= self._keep:
            self._count -= len(self._batches.popleft())
        async with self._changed:
            self._changed.notify_all()

    def _reached(self, seq: int) -> bool:
        return self._last >= seq

    def _since(self, seq: int) -> list[StoredEvent] | None:
        """The kept events from ``seq`` on, or ``None`` when some before them are no longer
        kept (or were never added: this reader is ahead of the first kept batch)."""
        out: list[list[StoredEvent]] = []
        for b in reversed(self._batches):
            if b[-1].seq < seq:
                break
            out.append(b)
            if b[0].seq <= seq:
                break
        else:  # every kept batch starts after seq
            return None
        return [se for b in reversed(out) for se in b if se.seq >= seq]

    async def follow(self, from_seq: int) -> AsyncIterator[list[StoredEvent]]:
        """Every event from ``from_seq`` on, in stream order, in batches, once the cache has
        applied it; ``StoreUnavailable`` if a gap read from the stream fails."""
        seq = max(from_seq, 1)
        while True:
            if self._last < seq:
                async with self._changed:
                    await self._changed.wait_for(partial(self._reached, seq))
            events = self._since(seq)
            if events is None:  # behind what is kept: read the gap from the stream
                first_kept = self._batches[0][0].seq if self._batches else self._last + 1
                gap = self._store.replay(from_seq=seq, until_seq=first_kept - 1)
                async for chunk in message_batches(gap, _CHUNK):
                    yield chunk
                seq = first_kept
                continue
            if events:
                yield events
                seq = events[-1].seq + 1
