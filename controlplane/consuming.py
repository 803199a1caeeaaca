"""The one way a controlplane process manager reads the event stream.

Each process manager (VMs, migrations, networks, storage) follows the stream through its
own durable consumer and acknowledges a batch only after every event in it was handled:
abandoning a batch after a transient failure (NATS restarting) and acknowledging a later
one would lose the abandoned events' reactions (an order, a placement). So a batch is
retried in place until it is handled; an event whose handler fails for a non-transient
reason is logged and skipped, since retrying it would block everything behind it.
Reactions are idempotent, so a retried batch is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from controlplane.handlers import TooMuchContention
from controlplane.repository import Repository
from events.codec import StoredEvent
from events.errors import StoreUnavailable
from events.store import EventStore

log = logging.getLogger(__name__)

TRANSIENT = (StoreUnavailable, TimeoutError, TooMuchContention)
"""Failures worth retrying the batch for; anything else skips the one event."""


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


async def handle_in_place(
    repo: Repository,
    events: list[StoredEvent],
    last_seq: int,
    handle: Callable[[StoredEvent], Awaitable[None]],
    name: str,
) -> None:
    """Handle every event of a batch once the aggregate cache has seen ``last_seq``,
    retrying from the first unhandled event on transient failures."""
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
