"""Ordered tails of the side streams (metrics): raw messages in batches, from a sequence.

The metrics projector keeps its position in PostgreSQL, in the transaction that writes
the samples (exactly as the read-model projector does with the event stream), so it needs
no durable consumer: an ephemeral pull consumer started at ``checkpoint + 1`` (no acks)
leaves no server-side position that could disagree with the database. It is pulled, not
pushed: an ordered push consumer drops deliveries past its client-side pending limit
under a slow reader, *after* its own gap check, so they would be lost silently. ``follow``
also checks the stream sequences itself: a hole is read again, and one that cannot be
(expired) is counted. Only ``events.bus`` calls this; no nats type leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext

from events.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


_REST = 0.2  # how long the rest of a batch may take once its first message came
_LINGER_PULL = 0.01  # after lingering, what has come is taken; nothing more is awaited
_IDLE_S = 60.0  # the server removes a consumer whose reader went away after this


async def _consumer(
    js: JetStreamContext, stream: str, subject: str, seq: int, pending_limit: int | None
) -> JetStreamContext.PullSubscription:
    """An ephemeral pull consumer from ``seq`` (no acks: the position is the caller's)."""
    limits = {} if pending_limit is None else {"pending_msgs_limit": pending_limit}
    config = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=seq,
        ack_policy=api.AckPolicy.NONE,
        inactive_threshold=_IDLE_S,
    )
    try:
        return await js.pull_subscribe(
            subject,
            durable=None,
            stream=stream,
            config=config,
            **limits,  # type: ignore[arg-type]
        )
    except nats.errors.Error as exc:
        raise StoreUnavailable(f"pull consumer on {stream}: {exc!r}") from exc


async def _pull(psub: JetStreamContext.PullSubscription, batch: int, wait: float) -> list[Msg]:
    """Up to ``batch`` messages, waiting at most ``wait`` for the first (pulled alone, so it
    is handed over the moment it arrives), then what the server still holds at once. A
    message that comes after its pull gave up waits in the subscription for the next one."""
    try:
        msgs = await psub.fetch(1, timeout=wait)
    except (TimeoutError, nats.errors.TimeoutError):
        return []
    except nats.errors.ConnectionClosedError as exc:
        raise StoreUnavailable(f"metrics feed: connection closed ({exc!r})") from exc
    more = min(batch - 1, msgs[-1].metadata.num_pending or 0)
    if more > 0:
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
            msgs += await psub.fetch(more, timeout=_REST)
    return msgs


async def _dropped(psub: JetStreamContext.PullSubscription, seq: int) -> bool:
    """Whether the server delivered ``seq`` or later although it never arrived (asked only
    when idle: a drop at the tail shows no later message to reveal it)."""
    try:
        info = await psub.consumer_info()
    except nats.errors.Error as exc:
        log.debug("consumer info: %r", exc)
        return False
    return info.delivered is not None and (info.delivered.stream_seq or 0) >= seq


async def follow(
    js: JetStreamContext,
    stream: str,
    subject: str,
    decoder: msgspec.json.Decoder[T],
    *,
    from_seq: int,
    max_batch: int,
    linger: float,
    on_lost: Callable[[int], None] | None = None,
    pending_limit: int | None = None,
) -> AsyncIterator[list[tuple[int, T | None]]]:
    """Batches of ``(stream sequence, decoded message)``; an undecodable message is logged
    and yields ``None``, so it still advances the position and cannot wedge the feed.

    Reader-paced: the feed pulls a batch only when the caller asks for the next one, so a
    slow reader makes the server wait instead of overflowing a client buffer. ``subject``
    must be the whole stream, whose sequences then follow each other without holes; a
    hole (a message lost on the way in, seen at the next message or, at the tail, when the
    consumer says it delivered more than arrived) is read again with a new consumer, and
    one that is still there (those messages expired from the stream before they were read)
    is passed over, logged and counted with ``on_lost(n)``. A batch lingers ``linger`` seconds for
    more messages when it is not full."""
    seq = max(from_seq, 1)  # the next sequence expected
    reread = 0  # the hole at ``reread`` was read again once already
    max_batch = max(1, max_batch)
    while True:
        psub = await _consumer(js, stream, subject, seq, pending_limit)
        try:
            hole = False
            while not hole:
                msgs = await _pull(psub, max_batch, 1.0)
                if not msgs:
                    if await _dropped(psub, seq):
                        log.info("%s: deliveries from %d dropped: reading again", stream, seq)
                        hole = True
                    continue
                if len(msgs) < max_batch and linger > 0:
                    await asyncio.sleep(linger)
                    msgs += await _pull(psub, max_batch - len(msgs), _LINGER_PULL)
                batch: list[tuple[int, T | None]] = []
                for msg in msgs:
                    got = msg.metadata.sequence.stream
                    if got < seq:
                        continue  # already passed on (a consumer that started again)
                    if got > seq and reread != seq:
                        log.info("%s: sequences %d..%d missing: reading again", stream, seq,
                                 got - 1)  # fmt: skip
                        reread, hole = seq, True
                        break
                    if got > seq:
                        log.warning("%s: %d message(s) from %d lost (no longer in the stream)",
                                    stream, got - seq, seq)  # fmt: skip
                        if on_lost is not None:
                            on_lost(got - seq)
                    seq = got + 1
                    try:
                        batch.append((got, decoder.decode(msg.data)))
                    except msgspec.DecodeError as exc:
                        log.warning("undecodable message %d on %s skipped: %s", got, stream, exc)
                        batch.append((got, None))
                if batch:
                    yield batch
        finally:
            try:
                await psub.unsubscribe()
            except nats.errors.Error as exc:
                log.debug("unsubscribe: %r", exc)
