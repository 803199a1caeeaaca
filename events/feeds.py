"""Ordered tails of the side streams (metrics): raw messages in batches, from a sequence.

The metrics projector keeps its position in PostgreSQL, in the transaction that writes
the samples (exactly as the read-model projector does with the event stream), so it needs
no durable consumer: an ordered, ephemeral consumer started at ``checkpoint + 1`` is
faster and leaves no server-side position that could disagree with the database. Only
``events.bus`` calls this; no nats type leaves it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import msgspec
import nats.errors
from nats.js import api
from nats.js.client import JetStreamContext

from events.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


async def follow(
    js: JetStreamContext,
    stream: str,
    subject: str,
    decoder: msgspec.json.Decoder[T],
    *,
    from_seq: int,
    max_batch: int,
    linger: float,
) -> AsyncIterator[list[tuple[int, T | None]]]:
    """Batches of ``(stream sequence, decoded message)``; an undecodable message is logged
    and yields ``None``, so it still advances the position and cannot wedge the feed."""
    try:
        sub = await js.subscribe(
            subject,
            stream=stream,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            config=api.ConsumerConfig(opt_start_seq=max(from_seq, 1)),
        )
    except nats.errors.Error as exc:
        raise StoreUnavailable(f"ordered consumer on {stream}: {exc!r}") from exc
    try:
        while True:
            try:
                first = await sub.next_msg(timeout=1.0)
            except TimeoutError:
                continue
            msgs = [first]
            deadline = time.monotonic() + linger
            while len(msgs) < max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and sub.pending_msgs == 0:
                    break
                try:
                    msgs.append(await sub.next_msg(timeout=max(remaining, 0.0005)))
                except TimeoutError:
                    break
            batch: list[tuple[int, T | None]] = []
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                try:
                    batch.append((seq, decoder.decode(msg.data)))
                except msgspec.DecodeError as exc:
                    log.warning("undecodable message %d on %s skipped: %s", seq, stream, exc)
                    batch.append((seq, None))
            yield batch
    finally:
        try:
            await sub.unsubscribe()
        except nats.errors.Error as exc:
            log.debug("unsubscribe: %r", exc)
