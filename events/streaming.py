"""Reading the event stream in order: replay, live tail and durable consumption.

The consumer-based half of the event store, split from ``events.store`` to keep both
readable; only the store calls it and no nats type leaves it. Replay and follow use
ordered consumers (ephemeral, in-memory, leader-coherent, recreated by nats-py on gaps);
``consume`` uses a durable pull consumer with ack-all, which is what a projector needs to
resume exactly after its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext

from events.codec import StoredEvent, decode_batch
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)

B = TypeVar("B")
BatchFactory = Callable[[list[StoredEvent], int, Callable[[], Awaitable[None]]], B]

_IDLE = 0.5  # seconds without a message before a replay checks whether it is done


def _stream_seq(msg: Msg) -> tuple[int, int]:
    """Stream sequence and pending count from a JetStream delivery's reply subject."""
    md = msg.metadata
    return md.sequence.stream, md.num_pending


def _events(seq: int, data: bytes) -> list[StoredEvent]:
    return [StoredEvent(seq=seq, index=i, envelope=e) for i, e in enumerate(decode_batch(data))]


async def _ordered(
    js: JetStreamContext, stream: str, subject: str, from_seq: int
) -> JetStreamContext.PushSubscription:
    try:
        return await js.subscribe(
            subject,
            stream=stream,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            config=api.ConsumerConfig(opt_start_seq=max(from_seq, 1)),
        )
    except nats.errors.Error as exc:
        raise StoreUnavailable(f"ordered consumer on {stream}: {exc!r}") from exc


async def replay(
    js: JetStreamContext,
    stream: str,
    last_seq: Callable[[], Awaitable[int]],
    *,
    from_seq: int,
    until_seq: int | None,
    subject: str,
) -> AsyncIterator[StoredEvent]:
    until = await last_seq() if until_seq is None else until_seq
    if until < max(from_seq, 1):
        return
    sub = await _ordered(js, stream, subject, from_seq)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=_IDLE)
            except TimeoutError:  # nats-py raises both its own and asyncio.TimeoutError
                # A filtered replay may have nothing (more) to deliver at all.
                info = await sub.consumer_info()
                if info.num_pending == 0 and sub.pending_msgs == 0:
                    return
                continue
            seq, pending = _stream_seq(msg)
            if seq > until:
                return
            for ev in _events(seq, msg.data):
                yield ev
            if seq >= until or pending == 0:
                return
    finally:
        await _unsubscribe(sub)


async def follow(
    js: JetStreamContext,
    stream: str,
    *,
    from_seq: int,
    subject: str,
    max_batch: int,
    linger: float,
) -> AsyncIterator[list[StoredEvent]]:
    sub = await _ordered(js, stream, subject, from_seq)
    try:
        while True:
            try:
                first = await sub.next_msg(timeout=1.0)
            except TimeoutError:  # nats-py raises both its own and asyncio.TimeoutError
                continue
            seq, _ = _stream_seq(first)
            batch = _events(seq, first.data)
            count = 1
            deadline = time.monotonic() + linger
            while count < max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and sub.pending_msgs == 0:
                    break
                try:
                    msg = await sub.next_msg(timeout=max(remaining, 0.0005))
                except TimeoutError:  # nats-py raises both its own and asyncio.TimeoutError
                    break
                seq, _ = _stream_seq(msg)
                batch.extend(_events(seq, msg.data))
                count += 1
            yield batch
    finally:
        await _unsubscribe(sub)


async def _unsubscribe(sub: JetStreamContext.PushSubscription) -> None:
    try:
        await sub.unsubscribe()
    except nats.errors.Error as exc:  # connection already closed: nothing left to free
        log.debug("unsubscribe: %r", exc)


async def fetch(psub: JetStreamContext.PullSubscription, batch: int, wait: float) -> list[Msg]:
    """One fetch of a pull consumer; nothing on timeout or a transient server status
    (e.g. 503 while the consumer's leader moves), ``StoreUnavailable`` once closed."""
    try:
        return await psub.fetch(batch=batch, timeout=wait)
    except TimeoutError:  # nats-py raises both its own and asyncio.TimeoutError
        return []
    except nats.errors.ConnectionClosedError as exc:
        raise StoreUnavailable(f"fetch: connection closed ({exc!r})") from exc
    except nats.errors.Error as exc:
        log.warning("fetch failed, retrying: %r", exc)
        await asyncio.sleep(0.2)
        return []


async def _durable(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    from_seq: int | None,
    subject: str,
    ack_wait: float,
) -> None:
    """Create the durable consumer, or keep the existing one (``from_seq is None``)."""
    if from_seq is None:
        try:
            await js.consumer_info(stream, durable)
            return
        except nats.js.errors.NotFoundError:
            pass
    else:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(stream, durable)
    config = api.ConsumerConfig(
        durable_name=durable,
        ack_policy=api.AckPolicy.ALL,
        ack_wait=ack_wait,
        filter_subject=subject,
        max_ack_pending=-1,
        deliver_policy=api.DeliverPolicy.ALL,
    )
    if from_seq is not None:
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = max(from_seq, 1)
    await js.add_consumer(stream, config=config)


async def consume(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    from_seq: int | None,
    subject: str,
    max_batch: int,
    ack_wait: float,
    fetch_timeout: float,
    make_batch: BatchFactory[B],
) -> AsyncIterator[B]:
    try:
        await _durable(js, stream, durable, from_seq=from_seq, subject=subject, ack_wait=ack_wait)
        psub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    except nats.errors.Error as exc:
        raise StoreUnavailable(f"durable consumer {durable} on {stream}: {exc!r}") from exc
    try:
        while True:
            msgs = await fetch(psub, max_batch, fetch_timeout)
            if not msgs:
                continue
            events: list[StoredEvent] = []
            last = 0
            for msg in msgs:
                last, _ = _stream_seq(msg)
                events.extend(_events(last, msg.data))
            yield make_batch(events, last, msgs[-1].ack)
    finally:
        try:
            await psub.unsubscribe()
        except nats.errors.Error as exc:
            log.debug("unsubscribe %s: %r", durable, exc)
