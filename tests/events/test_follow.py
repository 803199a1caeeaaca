"""``EventStore.follow``: reader-paced, loss-proof, prompt, and clean to stop.

The read model's promise is that it converges to exactly the replay of the event log, so
the live tail must never drop or reorder a message, however slow its reader is, and must
never step over a hole it cannot explain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from events import _wire as wire
from events.base import new_id
from events.bus import Bus
from events.codec import StoredEvent, wrap
from events.errors import StoreUnavailable
from events.settings import Settings
from events.store import AppendRequest, AppendResult, EventStore
from events.subjects import kind_subjects
from events.vm import VmCreated
from tests.events.conftest import META, aclose, created, vm_id

pytestmark = pytest.mark.filterwarnings("error")


def _kilobyte_request(ident: str) -> AppendRequest:
    """A new VM whose message is about 1 KB."""
    event = VmCreated(vm_id=ident, name="web", vcpus=2, memory_mib=2048, description="d" * 640)
    return AppendRequest("vm", ident, wrap("vm", ident, [event], META), 0)


async def _append_kilobyte_vms(store: EventStore, n: int) -> list[int]:
    results = await store.append_many([_kilobyte_request(new_id()) for _ in range(n)])
    assert all(isinstance(r, AppendResult) for r in results)
    return [r.seq for r in results if isinstance(r, AppendResult)]


def _small_client_buffers(monkeypatch: pytest.MonkeyPatch, max_bytes: int, max_msgs: int) -> None:
    """Every nats-py subscription made from now on buffers at most this much."""
    original = NATS.subscribe

    async def subscribe(self: NATS, subject: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["pending_bytes_limit"] = min(kwargs.get("pending_bytes_limit", max_bytes), max_bytes)
        kwargs["pending_msgs_limit"] = min(kwargs.get("pending_msgs_limit", max_msgs), max_msgs)
        return await original(self, subject, *args, **kwargs)

    monkeypatch.setattr(NATS, "subscribe", subscribe)


async def test_slow_reader_with_small_client_buffers_loses_nothing(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 messages of ~1 KB (~20 MB) through 1 MiB client buffers to a reader that
    sleeps on every batch, half of them appended while it reads: every message arrives,
    once, in stream order. (An ordered push consumer loses messages here.)"""
    _small_client_buffers(monkeypatch, max_bytes=1 << 20, max_msgs=2000)
    bus = await Bus.connect(nats_url, name="lq-test-slow")
    try:
        await bus.provision(Settings())
        store = bus.store
        store.read_max_bytes = 256 << 10  # each reply well inside the client buffer
        seqs = await _append_kilobyte_vms(store, 10_000)
        late: list[int] = []

        async def append_more() -> None:
            for _ in range(10):
                late.extend(await _append_kilobyte_vms(store, 1000))

        writer = asyncio.create_task(append_more())
        got: list[StoredEvent] = []
        batches = 0
        it = store.follow(from_seq=1, max_batch=500)
        try:
            async with asyncio.timeout(90):
                while len(got) < 20_000:
                    batch = await anext(it)
                    assert 1 <= len({e.seq for e in batch}) <= 500
                    got += batch
                    batches += 1
                    await asyncio.sleep(0.01)  # the reader is the slow side
        finally:
            await aclose(it)
            await writer
        assert [e.seq for e in got] == list(range(1, 20_001))
        assert sorted(seqs + late) == list(range(1, 20_001))
        assert len({e.envelope.event_id for e in got}) == 20_000
        assert batches >= 40
    finally:
        await bus.close()


def _dropping_replies(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, edit: Callable[[list[Msg]], None]
) -> list[int]:
    """Let ``edit`` tamper with every batched direct-get reply the store receives, as a
    lossy client buffer would; returns a list that counts the replies seen."""
    replies: Any = store._replies
    original = replies.collect
    seen: list[int] = []

    async def collect(subject: str, payload: bytes, wait: float) -> list[Msg] | None:
        msgs: list[Msg] | None = await original(subject, payload, wait)
        if msgs is not None and subject.startswith("$JS.API.DIRECT.GET."):
            seen.append(len(msgs))
            edit(msgs)
        return msgs

    monkeypatch.setattr(replies, "collect", collect)
    return seen


async def _tail(it: AsyncIterator[list[StoredEvent]], n: int) -> list[StoredEvent]:
    got: list[StoredEvent] = []
    try:
        async with asyncio.timeout(20):
            while len(got) < n:
                got += await anext(it)
    finally:
        await aclose(it)
    return got


@pytest.mark.parametrize("subject", ["lq.evt.>", "lq.evt.vm.*"])
async def test_a_reply_message_lost_on_the_way_in_is_read_again(
    bus: Bus, monkeypatch: pytest.MonkeyPatch, subject: str
) -> None:
    store = bus.store
    vms = [vm_id() for _ in range(60)]
    await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms])
    tampered = {"n": 0}

    def drop(msgs: list[Msg]) -> None:
        # the first two replies lose a message: one in the middle, then the first one
        if tampered["n"] < 2 and len(msgs) > 3:
            del msgs[2 if tampered["n"] == 0 else 0]
            tampered["n"] += 1

    seen = _dropping_replies(store, monkeypatch, drop)
    got = await _tail(store.follow(from_seq=1, subject=subject, max_batch=25), 60)
    assert tampered["n"] == 2
    assert len(seen) >= 5  # the two damaged batches were asked again
    assert [e.seq for e in got] == list(range(1, 61))
    assert [e.envelope.aggregate_id for e in got] == vms


async def test_a_hole_in_the_stream_is_never_skipped(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LQ_EVENTS sequences are contiguous; a batch that jumps one (here, faked with a
    consistent chain, as if the server had lost it) stops the tail before the hole and
    raises instead of stepping over it."""
    store = bus.store
    store.retries = 2
    vms = [vm_id() for _ in range(30)]
    await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms])

    def hole_at_10(msgs: list[Msg]) -> None:
        for i, m in enumerate(msgs):
            if m.headers and m.headers.get(wire.HDR_SEQUENCE) == "10":
                del msgs[i]
                if i < len(msgs) and msgs[i].headers is not None:
                    nxt = msgs[i].headers
                    assert nxt is not None
                    nxt[wire.HDR_LAST_SEQUENCE] = "9" if i > 0 else "0"
                return

    _dropping_replies(store, monkeypatch, hole_at_10)
    it = store.follow(from_seq=1, max_batch=100)
    got: list[StoredEvent] = []
    try:
        async with asyncio.timeout(20):
            with pytest.raises(StoreUnavailable, match="sequence gap: expected 10, got 11"):
                while True:
                    got += await anext(it)
    finally:
        await aclose(it)
    assert [e.seq for e in got] == list(range(1, 10))


async def test_follow_wakes_up_promptly_after_idling(store_bus: Bus) -> None:
    store = store_bus.store
    start = await store.last_seq() + 1
    it = store.follow(from_seq=start, linger=0.0)
    try:
        for _ in range(3):
            nxt = asyncio.ensure_future(anext(it))
            await asyncio.sleep(1.5)  # long enough for the polls to back off to idle
            assert not nxt.done()
            v = vm_id()
            res = await store.append("vm", v, created(v), 0)
            appended = time.monotonic()
            batch = await asyncio.wait_for(nxt, 5)
            delay = time.monotonic() - appended
            assert [e.seq for e in batch] == [res.seq]
            assert delay < 0.1, f"woke up after {delay * 1000:.0f} ms"
    finally:
        await aclose(it)


async def test_follow_filtered_sees_only_its_subjects(bus: Bus) -> None:
    store = bus.store
    v, h = vm_id(), vm_id()
    it = store.follow(subject=kind_subjects("host"), linger=0.0)
    try:
        nxt = asyncio.ensure_future(anext(it))
        await store.append("vm", v, created(v), 0)
        await asyncio.sleep(0.2)
        assert not nxt.done()  # woken by nothing it follows... or polled: still nothing
        host_env = wrap("host", h, [VmCreated(vm_id=h, name="x", vcpus=1, memory_mib=1)], META)
        res = await store.append("host", h, host_env, 0)
        batch = await asyncio.wait_for(nxt, 5)
        assert [(e.seq, e.envelope.aggregate_id) for e in batch] == [(res.seq, h)]
    finally:
        await aclose(it)


def _subscriptions(bus: Bus) -> int:
    nc: Any = bus._nc
    return len(nc._subs)


async def test_cancelling_a_follow_cleans_up(bus: Bus) -> None:
    """Cancelled while idle at the end, while catching up with a read in flight, or
    closed between batches: no task, subscription or warning is left behind."""
    store = bus.store
    await store.last_version("vm", vm_id())  # the store's own reply inbox now exists
    baseline_subs = _subscriptions(bus)
    baseline_tasks = asyncio.all_tasks()
    await _append_kilobyte_vms(store, 3000)

    async def reader(slow: float) -> None:
        async for _ in store.follow(from_seq=1, max_batch=100):
            await asyncio.sleep(slow)

    for slow in (0.0, 0.05):  # idle at the end / busy with a batch, the next one in flight
        task = asyncio.create_task(reader(slow))
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    it = store.follow(from_seq=1, max_batch=100)
    assert len(await anext(it)) == 100
    await aclose(it)

    await asyncio.sleep(0.05)
    assert _subscriptions(bus) == baseline_subs
    assert asyncio.all_tasks() - baseline_tasks == set()
