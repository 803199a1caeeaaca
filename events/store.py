"""The event store on JetStream: append with optimistic concurrency, read, replay, follow.

This module and ``events.bus`` are the only ones that import nats-py; no nats type leaves
them (their private helpers ``events._replies``, ``events.streaming`` and
``events.provision`` import it too, and are used only by them). One
message on ``lq.evt.<kind>.<id>`` holds the envelopes of one decision, so a decision lands
atomically.

Appends are raw requests on the store's own reply inbox with msgspec ack parsing: that is
the fastest path the Python client offers, every reply (including a rejection) resolves
its request, and every request has a deadline. nats-py's ``publish_async`` is never used
for appends: it never resolves the future of a rejected publish.

A conflict reply is not trusted blindly. A retried append whose first attempt was stored
gets ``wrong last sequence`` on a single server, so on every conflict the store asks the
stream leader for the first message on the subject after the expected version: that
message won the race, and if it carries our ``Nats-Msg-Id`` the append succeeded earlier.
The leader (``STREAM.MSG.GET``) is asked rather than direct get, because replicas serving
direct get may lag behind the write that just conflicted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from events import _wire as wire
from events import streaming
from events._replies import Replies, status_of
from events.codec import Envelope, StoredEvent, decode_batch, encode
from events.errors import ConcurrencyError, LqError, StoreUnavailable
from events.settings import Settings
from events.subjects import EVENTS_ALL, event_subject

log = logging.getLogger(__name__)

_API = "$JS.API"


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

    def __init__(
        self, events: list[StoredEvent], last_seq: int, ack: Callable[[], Awaitable[None]]
    ) -> None:
        self.events = events
        self.last_seq = last_seq
        self._ack = ack

    async def ack(self) -> None:
        """Acknowledge every message of the batch (each one explicitly)."""
        try:
            await self._ack()
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"ack of batch up to {self.last_seq} failed: {exc}") from exc


def _ack_of(msg: Msg | None) -> wire.PubAck | None:
    if msg is None or status_of(msg) is not None:
        return None  # timeout, no responders (503) or another transport status
    try:
        return wire.PUB_ACK_DECODER.decode(msg.data)
    except msgspec.DecodeError:
        log.warning("undecodable publish ack: %r", msg.data[:200])
        return None


def _stored_events(seq: int, data: bytes) -> list[StoredEvent]:
    return [StoredEvent(seq=seq, index=i, envelope=e) for i, e in enumerate(decode_batch(data))]


async def message_batches(
    events: AsyncIterator[StoredEvent], size: int
) -> AsyncIterator[list[StoredEvent]]:
    """Group a replay into batches of about ``size`` events, never splitting a message
    (a decision's events are applied together or not at all)."""
    batch: list[StoredEvent] = []
    async for se in events:
        if len(batch) >= size and se.seq != batch[-1].seq:
            yield batch
            batch = []
        batch.append(se)
    if batch:
        yield batch


class EventStore:
    """Created by ``events.bus.Bus``; use ``bus.store``."""

    def __init__(self, js: Any, nc: Any, stream: str) -> None:
        self._js: JetStreamContext = js
        self._nc: NATS = nc
        self._stream = stream
        self._replies = Replies(nc)
        self.timeout = 5.0  # per read request
        self.retries = 6  # bounded retries of a read
        # an append's budget: the wait for each try and the tries after the first of one
        # that NATS does not answer (``configure``: events_append_timeout_s/_retries)
        self.append_timeout = 5.0
        self.append_retries = 6
        self.window = 5000  # appends in flight per pipelined round
        self.load_batch = 256  # messages per batched direct get
        self.replay_batch = 1000  # messages per batched direct get of a replay
        # bytes per batched direct get of a replay or follow: bounds what one reply can
        # buffer in the client (far below nats-py's per-subscription limit)
        self.read_max_bytes = 4 << 20
        self._reader = streaming.Reader(
            self._replies,
            stream,
            lambda: (self.timeout, self.retries, self.read_max_bytes),
            self._first_seq,
        )

    def configure(self, settings: Settings) -> None:
        """Take the append budget from ``settings`` (docs/settings.md)."""
        self.append_timeout = settings.events_append_timeout_s
        self.append_retries = settings.events_append_retries

    async def close(self) -> None:
        await self._replies.close()

    # -- writes -----------------------------------------------------------------------

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
        subject, payload, headers = self._prepare(kind, aggregate_id, envelopes, expected_version)
        return await self._append(subject, payload, headers, expected_version, None, tried=False)

    async def append_many(
        self, requests: Sequence[AppendRequest]
    ) -> list[AppendResult | ConcurrencyError]:
        """Pipelined appends (concurrent, never ``publish_async`` futures); results in order.

        Each slot is its own optimistic append: a conflict is returned in its slot and
        does not stop the others. ``StoreUnavailable`` is raised for the whole call when a
        slot stays unanswered; the call may then be repeated as is (already stored slots
        come back as duplicates)."""
        results: list[AppendResult | ConcurrencyError | None] = [None] * len(requests)
        for start in range(0, len(requests), self.window):
            chunk = requests[start : start + self.window]
            prepared = [
                self._prepare(r.kind, r.aggregate_id, r.envelopes, r.expected_version)
                for r in chunk
            ]
            replies = await self._replies.send_all(prepared, self.append_timeout)
            followups: list[tuple[int, Awaitable[AppendResult]]] = []
            for i, reply in enumerate(replies):
                ack = _ack_of(reply)
                if ack is not None and ack.error is None:
                    results[start + i] = AppendResult(ack.seq, ack.duplicate)
                    continue
                subject, payload, headers = prepared[i]
                expected = chunk[i].expected_version
                followups.append(
                    (start + i, self._append(subject, payload, headers, expected, ack, tried=True))
                )
            if followups:
                done = await asyncio.gather(*(f for _, f in followups), return_exceptions=True)
                for (slot, _), res in zip(followups, done, strict=True):
                    if isinstance(res, AppendResult | ConcurrencyError):
                        results[slot] = res
                    else:
                        raise res
        return [r for r in results if r is not None]

    def _prepare(
        self, kind: str, aggregate_id: str, envelopes: Sequence[Envelope], expected: int
    ) -> tuple[str, bytes, dict[str, str]]:
        if not envelopes:
            raise ValueError("an append needs at least one envelope")
        headers = {
            wire.HDR_MSG_ID: envelopes[0].event_id,
            wire.HDR_EXPECTED_LAST_SUBJECT_SEQ: str(expected),
        }
        return event_subject(kind, aggregate_id), encode(list(envelopes)), headers

    async def _append(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str],
        expected: int,
        ack: wire.PubAck | None,
        *,
        tried: bool,
    ) -> AppendResult:
        """Send (unless ``tried``: then ``ack`` is the first attempt's reply) and settle."""
        msg_id = headers[wire.HDR_MSG_ID]
        unsure = False  # may an earlier attempt of ours still be in flight or stored?
        for attempt in range(self.append_retries + 1):
            if not tried or attempt > 0:
                reply = await self._replies.request(subject, payload, self.append_timeout, headers)
                ack = _ack_of(reply)
            outcome = wire.classify(ack)
            if outcome is wire.Outcome.STORED:
                assert ack is not None
                return AppendResult(ack.seq, ack.duplicate)
            if outcome is wire.Outcome.FAILED:
                assert ack is not None and ack.error is not None
                raise LqError(f"append to {subject} rejected: {ack.error.description}")
            if outcome is wire.Outcome.CONFLICT:
                assert ack is not None and ack.error is not None
                won = await self._winner(subject, expected)
                if won is not None and won[1] == msg_id:
                    return AppendResult(won[0], duplicate=True)
                if not (unsure and ack.error.err_code == wire.SUBJECT_IN_FLIGHT):
                    raise ConcurrencyError(subject, expected, ack.error.description)
            unsure = True
            log.debug("append to %s: retry %d (%s)", subject, attempt + 1, ack)
            await asyncio.sleep(wire.backoff(attempt))
        raise StoreUnavailable(
            f"append to {subject}: no answer after {self.append_retries + 1} tries"
        )

    async def _winner(self, subject: str, expected: int) -> tuple[int, str | None] | None:
        """Sequence and message id of the first message on ``subject`` after ``expected``
        (the one that satisfied that expected version), asked of the stream leader."""
        req = wire.encode_request({"seq": expected + 1, "next_by_subj": subject})
        for attempt in range(self.retries + 1):
            msg = await self._replies.request(
                f"{_API}.STREAM.MSG.GET.{self._stream}", req, self.timeout
            )
            if msg is not None and status_of(msg) is None:
                reply = wire.MSG_GET_DECODER.decode(msg.data)
                if reply.message is not None:
                    m = reply.message
                    return m.seq, wire.raw_header(m.hdrs, wire.HDR_MSG_ID)
                if reply.error is not None and reply.error.err_code == wire.NO_MESSAGE_FOUND:
                    return None
            await asyncio.sleep(wire.backoff(attempt))
        raise StoreUnavailable(f"cannot read the last message of {subject}")

    # -- point reads ------------------------------------------------------------------

    async def load(
        self, kind: str, aggregate_id: str, after_seq: int = 0, *, min_seq: int = 0
    ) -> list[StoredEvent]:
        """One aggregate's history after ``after_seq`` (batched direct get).

        ``min_seq``: a version known to exist (e.g. from our own ack). Direct get may be
        served by a replica that lags; the read is repeated briefly until it shows it."""
        subject = event_subject(kind, aggregate_id)
        for attempt in range(self.retries + 1):
            out = await self._load_once(subject, after_seq)
            if min_seq <= after_seq or (out and out[-1].seq >= min_seq):
                return out
            await asyncio.sleep(wire.backoff(attempt, base=0.01))
        raise StoreUnavailable(f"{subject} did not reach version {min_seq}")

    async def _load_once(self, subject: str, after_seq: int) -> list[StoredEvent]:
        events: list[StoredEvent] = []
        seq = after_seq + 1
        direct = f"{_API}.DIRECT.GET.{self._stream}"
        failures = 0
        while True:
            req = wire.encode_request(
                {"next_by_subj": subject, "seq": seq, "batch": self.load_batch}
            )
            msgs = await self._replies.collect(direct, req, self.timeout)
            status = status_of(msgs[-1]) if msgs else None
            if msgs is None or status not in (wire.STATUS_END_OF_BATCH, wire.STATUS_NOT_FOUND):
                failures += 1
                if failures > self.retries:
                    raise StoreUnavailable(f"direct get of {subject} failed ({status})")
                await asyncio.sleep(wire.backoff(failures))
                continue
            last = 0
            for m in msgs[:-1]:
                last = int(m.headers[wire.HDR_SEQUENCE]) if m.headers else 0
                events.extend(_stored_events(last, m.data))
            if status == wire.STATUS_NOT_FOUND or last == 0:
                return events
            pending = msgs[-1].headers.get(wire.HDR_NUM_PENDING) if msgs[-1].headers else None
            if not pending or int(pending) == 0:
                return events
            seq = last + 1

    async def last_version(self, kind: str, aggregate_id: str) -> int:
        """Stream sequence of the aggregate's last message, 0 if it has none."""
        subject = event_subject(kind, aggregate_id)
        for attempt in range(self.retries + 1):
            msg = await self._replies.request(
                f"{_API}.DIRECT.GET.{self._stream}.{subject}", b"", self.timeout
            )
            if msg is not None:
                status = status_of(msg)
                if status is None and msg.headers:
                    return int(msg.headers[wire.HDR_SEQUENCE])
                if status == wire.STATUS_NOT_FOUND:
                    return 0
            await asyncio.sleep(wire.backoff(attempt))
        raise StoreUnavailable(f"last version of {subject}: no answer")

    async def last_seq(self) -> int:
        """The stream's last sequence (0 when empty)."""
        try:
            info = await self._js.stream_info(self._stream)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"stream info of {self._stream}: {exc!r}") from exc
        return info.state.last_seq

    # -- streams of events (events.streaming) -------------------------------------------

    def replay(
        self, from_seq: int = 1, until_seq: int | None = None, subject: str = EVENTS_ALL
    ) -> AsyncIterator[StoredEvent]:
        """Every event from ``from_seq`` up to ``until_seq`` (default: the stream's last
        sequence when called), in stream order, then stops."""
        return self._replay(from_seq, until_seq, subject)

    async def _replay(
        self, from_seq: int, until_seq: int | None, subject: str
    ) -> AsyncIterator[StoredEvent]:
        async for seq, _, data in self.replay_raw(from_seq, until_seq, subject):
            for ev in _stored_events(seq, data):
                yield ev

    async def replay_raw(
        self, from_seq: int = 1, until_seq: int | None = None, subject: str = EVENTS_ALL
    ) -> AsyncIterator[tuple[int, str, bytes]]:
        """``(seq, subject, payload)`` of every message, undecoded, in stream order.

        Batched direct gets (``replay_batch`` messages per request, the next one in flight
        while the caller works on the current one): the reader sets the pace, so a slow
        consumer (a replay into PostgreSQL) can never overflow a push subscription — with
        an ordered push consumer, nats-py drops messages past its pending limit *after*
        its gap check, losing them silently (seen replaying 1M events)."""
        until = await self.last_seq() if until_seq is None else until_seq
        seq = max(from_seq, 1)
        if seq > until:
            return
        pending = asyncio.ensure_future(self._replay_batch(subject, seq, until))
        try:
            while True:
                batch = await pending
                if not batch:
                    return
                last = batch[-1][0]
                if last >= until:
                    for item in batch:
                        yield item
                    return
                pending = asyncio.ensure_future(self._replay_batch(subject, last + 1, until))
                for item in batch:
                    yield item
        finally:
            if not pending.done():
                pending.cancel()

    async def _replay_batch(
        self, subject: str, seq: int, until: int
    ) -> list[tuple[int, str, bytes]]:
        """Up to ``replay_batch`` messages on ``subject`` from ``seq`` (at most ``until``),
        verified by ``events.streaming.Reader``: a lost reply message is read again, and
        on the whole stream a sequence gap is never skipped."""
        for attempt in range(3):
            chunk = await self._reader.read(
                subject, seq, self.replay_batch, contiguous=subject == EVENTS_ALL, up_to=until
            )
            out = [m for m in chunk.msgs if m[0] <= until]
            if out or chunk.more or attempt >= 2:
                return out
            # nothing at or after a sequence known to exist: a replica behind the leader
            await asyncio.sleep(wire.backoff(attempt))
        return []

    async def _first_seq(self) -> int:
        try:
            info = await self._js.stream_info(self._stream)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"stream info of {self._stream}: {exc!r}") from exc
        return info.state.first_seq

    def follow(
        self,
        from_seq: int = 1,
        subject: str = EVENTS_ALL,
        max_batch: int = 1000,
        linger: float = 0.005,
    ) -> AsyncIterator[list[StoredEvent]]:
        """Every event from ``from_seq`` on, forever: batches of whole messages' events
        (up to ``max_batch`` messages, lingering ``linger`` seconds for more at the end of
        the stream), in stream order.

        Reader-paced and loss-proof (``events.streaming``): batched direct gets with the
        next one in flight while catching up, a wake-up subscription at the end; every
        batch is verified, and on the whole stream a sequence gap raises
        ``StoreUnavailable`` rather than being skipped. Closing the iterator (or
        cancelling its reader) frees everything."""
        return streaming.follow(
            self._reader,
            self._nc,
            from_seq=from_seq,
            subject=subject,
            contiguous=subject == EVENTS_ALL,
            max_batch=max_batch,
            linger=linger,
        )

    def consume(
        self,
        durable: str,
        from_seq: int | None = None,
        subject: str = EVENTS_ALL,
        max_batch: int = 1000,
        *,
        ack_wait: float = 30.0,
        fetch_timeout: float = streaming.LONG_PULL,
    ) -> AsyncIterator[EventBatch]:
        """Durable consumer with explicit acks: resumes where it left off, or when
        ``from_seq`` is given, is recreated to start there. Unacked batches are redelivered
        (after ``ack_wait`` seconds). While idle it holds one pull request for
        ``fetch_timeout`` seconds (``streaming.fetch``)."""
        return streaming.consume(
            self._js,
            self._nc,
            self._stream,
            durable,
            from_seq=from_seq,
            subject=subject,
            max_batch=max_batch,
            ack_wait=ack_wait,
            fetch_timeout=fetch_timeout,
            make_batch=EventBatch,
        )
