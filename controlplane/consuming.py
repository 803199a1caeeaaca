"""The one way a controlplane process manager reads the event stream.

Each process manager (VMs, migrations, networks, storage) follows the stream through its
own durable consumer and acknowledges a batch only after every event in it was handled:
abandoning a batch after a transient failure (NATS restarting) and acknowledging a later
one would lose the abandoned events' reactions (an order, a placement). So a batch is
retried in place until it is handled; an event whose handler fails for a non-transient
reason is logged and skipped, since retrying it would block everything behind it.
Reactions are idempotent, so a retried event is harmless.

``consume_by_key`` does the same without handling one event at a time: the process
manager names the keys each event's reaction reads or changes (``Keys``: its VM, say,
and the hosts' reservations; ``None`` for an event it has no reaction to, which then
costs nothing more), and ``Lanes`` runs events concurrently across keys and in
stream order within a key, across batches too, so a slow reaction holds back only what
shares a key with it. Each event is retried in place; a batch is acknowledged once all of
its events were handled. ``Lanes`` also serves work queues (the hosts' reports).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from functools import partial
from typing import Protocol

from controlplane.handlers import TooMuchContention
from events.codec import StoredEvent
from events.errors import StoreUnavailable
from events.store import EventStore

log = logging.getLogger(__name__)

TRANSIENT = (StoreUnavailable, TimeoutError, TooMuchContention)
"""Failures worth retrying the batch for; anything else skips the one event."""

Keys = Callable[[StoredEvent], Iterable[Hashable] | None]
"""What an event's reaction reads or writes: events sharing a key are handled in order.
``None``: the process manager has no reaction to the event (it is not handed over)."""

LIMIT = 32
"""Work items of ``Lanes`` unfinished at one time (each mostly waits on NATS round trips)."""

PENDING = 1000
"""Events received by ``consume_by_key`` and not yet handled (most wait on a key)."""


class Cache(Protocol):
    """What handling needs of the aggregate cache (``controlplane.repository``)."""

    async def wait_seq(self, seq: int, timeout: float | None = None) -> None: ...


class Lanes:
    """Work handed over one item at a time (deliveries of a work queue), run concurrently
    across keys and in submission order within a key (an item waits for the previous item
    of each of its keys), at most ``limit`` items submitted and not yet finished."""

    def __init__(self, name: str, limit: int = LIMIT) -> None:
        self._name = name
        self._slots = asyncio.Semaphore(max(1, limit))
        self._tails: dict[Hashable, asyncio.Future[None]] = {}
        self._running: set[asyncio.Future[None]] = set()

    async def submit(self, keys: Iterable[Hashable], work: Callable[[], Awaitable[None]]) -> None:
        """Start ``work`` after the earlier items of ``keys``; waits while ``limit`` items
        are unfinished."""
        await self._slots.acquire()
        ks = list(keys)
        before = {t for k in ks if (t := self._tails.get(k)) is not None}
        task = asyncio.ensure_future(self._run(before, work))
        self._running.add(task)
        for k in ks:
            self._tails[k] = task

        def finished(t: asyncio.Future[None]) -> None:
            self._slots.release()
            self._running.discard(t)
            for k in ks:
                if self._tails.get(k) is t:
                    del self._tails[k]

        task.add_done_callback(finished)

    async def _run(
        self, before: set[asyncio.Future[None]], work: Callable[[], Awaitable[None]]
    ) -> None:
        if before:
            await asyncio.wait(before)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: work item failed", self._name)

    async def close(self, *, cancel: bool) -> None:
        """Wait for what is still running, or cancel it (its deliveries are not acked, so
        they are delivered again)."""
        running = list(self._running)
        if cancel:
            for t in running:
                t.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def consume_forever(
    store: EventStore,
    durable: str,
    subject: str,
    handle_batch: Callable[[list[StoredEvent], int], Awaitable[None]],
    name: str,
) -> None:
    """Feed every batch of ``durable`` to ``handle_batch``, acknowledging it afterwards;
    the consumer is reopened a second after any failure."""
    while True:
        try:
            async for batch in store.consume(durable, subject=subject):
                await handle_batch(batch.events, batch.last_seq)
                await batch.ack()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; restarting in 1 s", name)
            await asyncio.sleep(1.0)


async def consume_by_key(
    store: EventStore,
    repo: Cache,
    durable: str,
    subject: str,
    *,
    handle: Callable[[StoredEvent], Awaitable[None]],
    name: str,
    keys: Keys,
    limit: int = PENDING,
) -> None:
    """Like ``consume_forever`` with ``handle_in_place``, without a barrier between
    batches: every event goes to ``Lanes`` under its ``keys`` as soon as the aggregate
    cache has seen its batch, so one slow reaction (a placement waiting for a busy host)
    holds back only the events that share a key with it, in this batch or a later one.
    Each event is retried in place on transient failures; a batch is acknowledged once all
    its events were handled (an event whose ``keys`` are ``None`` counts as handled at
    once). ``limit`` bounds the events received and not yet handled."""
    while True:
        lanes = Lanes(name, limit)
        cancelled = False
        try:
            async for batch in store.consume(durable, subject=subject):
                await _seen(repo, batch.last_seq, name)
                if not batch.events:
                    await batch.ack()
                    continue
                unhandled = _Unhandled(len(batch.events), batch.ack)
                for se in batch.events:
                    ks = keys(se)
                    if ks is None:
                        await unhandled.done()
                    else:
                        await lanes.submit(ks, partial(unhandled.handle, se, handle, name))
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception:
            log.exception("%s failed; restarting in 1 s", name)
            await asyncio.sleep(1.0)
        finally:
            await lanes.close(cancel=cancelled)


class _Unhandled:
    """A batch's events not handled yet; the batch is acknowledged after the last one."""

    def __init__(self, count: int, ack: Callable[[], Awaitable[None]]) -> None:
        self._count = count
        self._ack = ack

    async def handle(
        self, se: StoredEvent, handle: Callable[[StoredEvent], Awaitable[None]], name: str
    ) -> None:
        await _handle_until_done(se, handle, name)
        await self.done()

    async def done(self) -> None:
        """One more event handled (or needing no reaction)."""
        self._count -= 1
        if not self._count:
            await self._ack()


async def _seen(repo: Cache, seq: int, name: str) -> None:
    """Wait until the aggregate cache has applied ``seq``, however long that takes."""
    delay = 0.2
    while True:
        try:
            await repo.wait_seq(seq, timeout=30)
            return
        except TRANSIENT as exc:
            log.warning("%s waits for the aggregate cache (seq %d): %r", name, seq, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _handle_until_done(
    se: StoredEvent, handle: Callable[[StoredEvent], Awaitable[None]], name: str
) -> None:
    """Handle one event, again after each transient failure; other failures skip it."""
    delay = 0.2
    while True:
        try:
            await handle(se)
            return
        except TRANSIENT as exc:
            log.warning(
                "%s retries event %s at %d in %.1f s: %r",
                name,
                se.envelope.type,
                se.seq,
                delay,
                exc,
            )
        except Exception:
            log.exception("%s: event %s at %d not handled", name, se.envelope.type, se.seq)
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def handle_in_place(
    repo: Cache,
    events: list[StoredEvent],
    last_seq: int,
    handle: Callable[[StoredEvent], Awaitable[None]],
    name: str,
) -> None:
    """Handle every event of a batch in order once the aggregate cache has seen
    ``last_seq``, retrying from the first unhandled event on transient failures."""
    delay = 0.2
    done = 0
    while True:
        try:
            await repo.wait_seq(last_seq, timeout=30)
            for se in events[done:]:
                try:
                    await handle(se)
                except TRANSIENT:
                    raise
                except Exception:
                    log.exception("%s: event %s at %d not handled", name, se.envelope.type, se.seq)
                done += 1
            return
        except asyncio.CancelledError:
            raise
        except TRANSIENT as exc:
            log.warning("%s retries in %.1f s: %r", name, delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
