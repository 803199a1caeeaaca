"""Reading the event stream in order: batched direct gets (replay, live tail) and durable
consumption.

The reading half of the event store, split from ``events.store`` to keep both readable;
only the store calls it and no nats type leaves it.

Replay and ``follow`` read with batched direct gets (``$JS.API.DIRECT.GET.<stream>`` with
``seq``, ``batch``, ``max_bytes`` and ``next_by_subj``), one request at a time with the
next one in flight while the caller works: the reader sets the pace and at most one
bounded reply is buffered, so a slow reader (a projector busy in PostgreSQL, a
controlplane replaying a long stream) can never overflow a client buffer. An ordered push
consumer cannot promise that: past its pending limit nats-py drops deliveries *after* its
own gap check, so they are lost silently.

Every batch is verified before it is used, so a gap is never skipped silently:

- each reply carries ``Nats-Last-Sequence`` (the previous message of the same batch) and
  the closing ``204`` status the batch's last sequence; a reply message lost on the way
  in breaks that chain, and the batch is asked again (smaller) — never passed on;
- reading all of ``LQ_EVENTS`` (``contiguous``), sequences must follow each other
  exactly (the stream denies delete and purge), and a hole is re-read, then reported
  as ``StoreUnavailable``; filtered reads rely on the server's ``next_by_subj``.

``follow`` waits for new messages with a core subscription on the followed subjects used
only as a wake-up signal (its messages are dropped unread; a lost one costs nothing),
plus polls that back off from a few milliseconds after activity to one second when
idle: a message stored just after its wake-up, or by a replica that lags, is still read.

``consume`` uses a durable pull consumer with explicit acks, for readers that keep
their position on the server; ``fetch`` (also the work queues' pull, ``events.bus``)
holds one long pull request while idle and hands over each message as it arrives.

A message's events are decoded once per process (``_events``), however many of these
readers (a controlplane has several) read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext

from events import _wire as wire
from events import evolution
from events._replies import Replies, status_of
from events.codec import StoredEvent, decode_batch
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)

B = TypeVar("B")
BatchFactory = Callable[[list[StoredEvent], int, Callable[[], Awaitable[None]]], B]

_POLL_MIN = 0.002  # first poll after activity (a message stored just after its wake-up)
_POLL_MAX = 1.0  # polls back off to this when idle (missed wake-ups, lagging replicas)
_WAKE_MSGS = 10_000  # bounded buffer of the wake-up subscription (its messages are
_WAKE_BYTES = 16 << 20  # dropped unread, so it only fills while the event loop is stuck)

Raw = tuple[int, str, bytes]  # stream sequence, subject, payload


class Chunk(NamedTuple):
    """One verified batch: messages in stream order, and whether the server holds more
    matching messages after the last one (when the batch was asked)."""

    msgs: list[Raw]
    more: bool


_DECODED = 4096  # messages whose decoded events are kept for the process's other readers
_decoded: dict[tuple[int, int, bytes], list[StoredEvent]] = {}


def _events(seq: int, data: bytes) -> list[StoredEvent]:
    """The events of one message, decoded once per process: a controlplane reads each
    message several times (its aggregate cache, its process managers), mostly within
    moments. Keyed by the message's bytes too (one process may read several streams);
    the events are frozen, and callers copy the list."""
    key = (seq, len(evolution.UPCASTERS), data)
    events = _decoded.get(key)
    if events is None:
        events = [
            StoredEvent(seq=seq, index=i, envelope=e) for i, e in enumerate(decode_batch(data))
        ]
        if len(_decoded) >= _DECODED:
            del _decoded[next(iter(_decoded))]  # the oldest decoded
        _decoded[key] = events
    return events


def _header(msg: Msg, name: str) -> int | None:
    value = msg.headers.get(name) if msg.headers else None
    return int(value) if value is not None else None


def _verified(msgs: list[Msg], seq: int, batch: int) -> Chunk | None:
    """The messages of one batched direct get from ``seq``, or ``None`` when the reply is
    not a complete batch (a transport status, or a message lost on the way in)."""
    end = msgs[-1]
    status = status_of(end)
    if status == wire.STATUS_NOT_FOUND and len(msgs) == 1:
        return Chunk([], False)
    if status != wire.STATUS_END_OF_BATCH or len(msgs) - 1 > batch:
        return None
    out: list[Raw] = []
    prev = 0
    for m in msgs[:-1]:
        got = _header(m, wire.HDR_SEQUENCE)
        before = _header(m, wire.HDR_LAST_SEQUENCE)
        if got is None or got < seq or got <= prev:
            return None
        if before is not None and (before != prev if prev else before >= seq):
            return None  # the message(s) before this one in the batch never arrived
        out.append((got, m.headers.get(wire.HDR_SUBJECT, "") if m.headers else "", m.data))
        prev = got
    last = _header(end, wire.HDR_LAST_SEQUENCE)
    if last is not None and last != prev:
        return None  # the batch's tail never arrived
    return Chunk(out, (_header(end, wire.HDR_NUM_PENDING) or 0) > 0)


def _run_from(msgs: list[Raw], start: int) -> int:
    """How many of ``msgs`` carry exactly ``start``, ``start + 1``, ..."""
    n = 0
    while n < len(msgs) and msgs[n][0] == start + n:
        n += 1
    return n


class Reader:
    """Verified batched direct gets on one stream (``Chunk``), retried a bounded number
    of times; the settings are read on every call (the store's own attributes)."""

    def __init__(
        self,
        replies: Replies,
        stream: str,
        settings: Callable[[], tuple[float, int, int]],
        first_seq: Callable[[], Awaitable[int]],
    ) -> None:
        self._replies = replies
        self._direct = f"$JS.API.DIRECT.GET.{stream}"
        self._settings = settings  # → (timeout per request, retries, max bytes per batch)
        self._first_seq = first_seq

    async def read(
        self, subject: str, seq: int, batch: int, *, contiguous: bool, up_to: int | None = None
    ) -> Chunk:
        """Up to ``batch`` messages on ``subject`` from ``seq`` (at most ``up_to``).

        ``contiguous``: ``subject`` is the whole stream, whose sequences have no holes; a
        batch that skips one is cut before it, and a hole right at ``seq`` is read again,
        then raises ``StoreUnavailable`` (unless it lies before the stream's first
        sequence: those messages are gone, nothing can read them)."""
        timeout, retries, max_bytes = self._settings()
        size = max(1, batch)
        problem = "no answer"
        for attempt in range(retries + 1):
            req: dict[str, object] = {
                "seq": seq,
                "batch": size,
                "max_bytes": max_bytes,
                "next_by_subj": subject,
            }
            if up_to is not None:
                req["up_to_seq"] = up_to
            msgs = await self._replies.collect(self._direct, wire.encode_request(req), timeout)
            chunk = _verified(msgs, seq, size) if msgs else None
            if chunk is None:
                # no answer, a transport status, or a reply lost on the way in (e.g. a
                # client buffer that overflowed): never pass it on; ask again, for less
                problem = "incomplete batch"
                size = max(1, size // 2)
            elif not contiguous or not chunk.msgs:
                return chunk
            else:
                n = _run_from(chunk.msgs, seq)
                if n == len(chunk.msgs):
                    return chunk
                if n > 0:  # deliver up to the hole; the next read starts at it
                    return Chunk(chunk.msgs[:n], True)
                first = chunk.msgs[0][0]
                if first <= await self._first_seq():
                    log.warning("%s: sequences %d..%d precede the stream", subject, seq, first - 1)
                    return Chunk(chunk.msgs[: _run_from(chunk.msgs, first)], True)
                problem = f"sequence gap: expected {seq}, got {first}"
            log.debug("direct get of %s from %d: %s (attempt %d)", subject, seq, problem, attempt)
            await asyncio.sleep(wire.backoff(attempt))
        raise StoreUnavailable(f"reading {subject} from {seq}: {problem}")


async def _woken(wake: asyncio.Event, within: float) -> bool:
    """Wait at most ``within`` seconds for ``wake``; whether it was set."""
    if not wake.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), within)
    return wake.is_set()


async def follow(
    reader: Reader,
    nc: NATS,
    *,
    from_seq: int,
    subject: str,
    contiguous: bool,
    max_batch: int,
    linger: float,
) -> AsyncIterator[list[StoredEvent]]:
    seq = max(from_seq, 1)
    max_batch = max(1, max_batch)
    wake = asyncio.Event()

    async def on_msg(_: Msg) -> None:
        wake.set()

    try:
        # subscribed before the first read: anything stored after that read wakes us
        sub = await nc.subscribe(
            subject, cb=on_msg, pending_msgs_limit=_WAKE_MSGS, pending_bytes_limit=_WAKE_BYTES
        )
    except nats.errors.Error as exc:
        raise StoreUnavailable(f"wake-up subscription on {subject}: {exc!r}") from exc

    def fetch(n: int) -> asyncio.Future[Chunk]:
        wake.clear()  # a wake-up from now on may be about a message this read misses
        return asyncio.ensure_future(reader.read(subject, seq, n, contiguous=contiguous))

    ahead: asyncio.Future[Chunk] | None = None
    poll = _POLL_MIN
    try:
        while True:
            chunk = await (ahead or fetch(max_batch))
            ahead = None
            if not chunk.msgs:  # at the end: wait for a wake-up or the next poll
                poll = _POLL_MIN if await _woken(wake, poll) else min(poll * 2, _POLL_MAX)
                continue
            msgs, more = chunk.msgs, chunk.more
            seq = msgs[-1][0] + 1
            deadline = time.monotonic() + linger
            while not more and len(msgs) < max_batch:  # linger for more
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not await _woken(wake, remaining):
                    break
                extra = await fetch(max_batch - len(msgs))
                if extra.msgs:
                    msgs = msgs + extra.msgs
                    seq = msgs[-1][0] + 1
                more = extra.more
            if more:  # catching up: the next batch is read while the caller works
                ahead = fetch(max_batch)
            poll = _POLL_MIN
            batch: list[StoredEvent] = []
            for s, _, data in msgs:
                batch.extend(_events(s, data))
            yield batch
    finally:
        if ahead is not None:  # the read ahead is no longer wanted
            ahead.cancel()
            await asyncio.wait({ahead})
            if not ahead.cancelled():
                ahead.exception()  # mark it retrieved: it does not matter any more
        try:
            await sub.unsubscribe()
        except nats.errors.Error as exc:  # connection already closed: nothing left to free
            log.debug("unsubscribe: %r", exc)


LONG_PULL = 30.0
"""How long an idle consumer's one pull request lingers on the server (seconds)."""
_REST = 1.0  # bound on taking what is already pending after the first message
_WATCH = 2.0  # how often a lingering pull checks whether its connection was re-established


async def _first(
    psub: JetStreamContext.PullSubscription, wait: float, reconnects: Callable[[], int] | None
) -> list[Msg]:
    """The next message alone; nothing after ``wait``, or as soon as the connection was
    re-established (a pull request does not survive a server restart: it is renewed)."""
    if reconnects is None or wait <= _WATCH:
        return await psub.fetch(1, timeout=wait)
    seen = reconnects()
    pull = asyncio.ensure_future(psub.fetch(1, timeout=wait))
    try:
        while not (await asyncio.wait({pull}, timeout=_WATCH))[0]:
            if reconnects() != seen:
                log.debug("connection re-established: pull request renewed")
                return []
        return pull.result()
    finally:
        if not pull.done():  # a message arriving later stays queued for the next fetch
            pull.cancel()
            await asyncio.wait({pull})


async def fetch(
    psub: JetStreamContext.PullSubscription,
    batch: int,
    wait: float,
    reconnects: Callable[[], int] | None = None,
) -> list[Msg]:
    """Up to ``batch`` messages of a pull consumer, waiting at most ``wait`` seconds for
    the first; nothing on timeout or a transient server status (e.g. 503 while the
    consumer's leader moves), ``StoreUnavailable`` once closed.

    The first message is pulled alone, so it is handed over the moment it arrives: with a
    larger pull request nats-py may keep a delivered message until the request expires
    (it waits for the rest of the batch). Then what the server still holds for the
    consumer (the message's ``num_pending``) is taken at once, up to ``batch``. An idle
    consumer so holds one pull request for ``wait`` seconds (``LONG_PULL``) and still gets
    a new message at once. ``reconnects`` (the connection's reconnect count) lets a long
    wait renew its request after a reconnect instead of waiting out a lost one."""
    try:
        msgs = await _first(psub, wait, reconnects)
        more = min(batch - 1, msgs[-1].metadata.num_pending or 0) if msgs else 0
        if more > 0:
            with contextlib.suppress(TimeoutError):  # another reader took them meanwhile
                msgs += await psub.fetch(more, timeout=min(wait, _REST))
        return msgs
    except TimeoutError:  # nats-py raises both its own and asyncio.TimeoutError
        return []
    except nats.errors.ConnectionClosedError as exc:
        raise StoreUnavailable(f"fetch: connection closed ({exc!r})") from exc
    except nats.errors.Error as exc:
        log.warning("fetch failed, retrying: %r", exc)
        await asyncio.sleep(0.2)
        return []


def reconnects_of(nc: NATS) -> Callable[[], int]:
    """How many times ``nc`` re-established its connection (for ``fetch``)."""
    return lambda: int(nc.stats["reconnects"])


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
            info = await js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            pass
        else:
            if info.config.ack_policy == api.AckPolicy.EXPLICIT:
                return
            # An older ack-all consumer: recreate it just past what it acknowledged.
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            return await _durable(
                js, stream, durable, from_seq=(floor or 0) + 1, subject=subject, ack_wait=ack_wait
            )
    else:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(stream, durable)
    config = api.ConsumerConfig(
        durable_name=durable,
        # Explicit, per message: with ack-all, acknowledging a new message would also
        # acknowledge an older one still waiting for redelivery after a crash.
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        filter_subject=subject,
        max_ack_pending=-1,
        deliver_policy=api.DeliverPolicy.ALL,
    )
    if from_seq is not None:
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = max(from_seq, 1)
    await js.add_consumer(stream, config=config)


async def _ack_each(msgs: list[Msg]) -> None:
    for msg in msgs:
        await msg.ack()


async def consume(
    js: JetStreamContext,
    nc: NATS,
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
            msgs = await fetch(psub, max_batch, fetch_timeout, reconnects_of(nc))
            if not msgs:
                continue
            events: list[StoredEvent] = []
            last = 0
            for msg in msgs:
                last = msg.metadata.sequence.stream
                events.extend(_events(last, msg.data))
            yield make_batch(events, last, functools.partial(_ack_each, msgs))
    finally:
        try:
            await psub.unsubscribe()
        except nats.errors.Error as exc:
            log.debug("unsubscribe %s: %r", durable, exc)
