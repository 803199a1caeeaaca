"""Event-store contract: reading back (load, replay, follow, consume) on R1 and R3."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from events.bus import Bus
from events.codec import StoredEvent
from events.store import AppendRequest, AppendResult, EventBatch, EventStore
from events.subjects import kind_subjects
from tests.events.conftest import aclose, created, started, take, vm_id


async def _history(store: EventStore, vm: str, messages: int) -> list[int]:
    """Append ``messages`` decisions (the first one event, the rest two) to one VM."""
    seqs: list[int] = []
    res = await store.append("vm", vm, created(vm), 0)
    seqs.append(res.seq)
    for _ in range(messages - 1):
        res = await store.append("vm", vm, started(vm), res.seq)
        seqs.append(res.seq)
    return seqs


async def test_load_returns_full_history_in_order(store_bus: Bus) -> None:
    store, vm, other = store_bus.store, vm_id(), vm_id()
    seqs = await _history(store, vm, 3)
    await store.append("vm", other, created(other), 0)
    history = await store.load("vm", vm, min_seq=seqs[-1])
    assert [(e.seq, e.index) for e in history] == [
        (seqs[0], 0), (seqs[1], 0), (seqs[1], 1), (seqs[2], 0), (seqs[2], 1),
    ]  # fmt: skip
    assert [e.envelope.type for e in history[:3]] == ["vm.created", "vm.start_requested",
                                                      "vm.started"]  # fmt: skip
    assert all(e.envelope.aggregate_id == vm for e in history)
    tail = await store.load("vm", vm, after_seq=seqs[1])
    assert [e.seq for e in tail] == [seqs[2], seqs[2]]
    assert await store.load("vm", vm_id()) == []


async def test_load_of_a_long_history_spans_several_batches(store_bus: Bus) -> None:
    store, vm = store_bus.store, vm_id()
    store.load_batch = 64
    seqs = await _history(store, vm, 300)
    history = await store.load("vm", vm, min_seq=seqs[-1])
    assert len(history) == 1 + 2 * 299
    assert sorted({e.seq for e in history}) == seqs
    assert [e.seq for e in history] == sorted(e.seq for e in history)


async def test_replay_is_ordered_and_stops(store_bus: Bus) -> None:
    store = store_bus.store
    start = await store.last_seq() + 1
    vms = [vm_id() for _ in range(20)]
    res = await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms])
    seqs = [r.seq for r in res if isinstance(r, AppendResult)]
    got = [e async for e in store.replay(from_seq=start)]
    assert [e.seq for e in got] == sorted(seqs)
    assert {e.envelope.aggregate_id for e in got} == set(vms)
    upto = [e async for e in store.replay(from_seq=start, until_seq=sorted(seqs)[4])]
    assert len(upto) == 5
    assert [e async for e in store.replay(from_seq=await store.last_seq() + 1)] == []
    hosts = [e async for e in store.replay(from_seq=start, subject=kind_subjects("host"))]
    assert hosts == []


async def test_replay_of_an_empty_stream(bus: Bus) -> None:
    assert [e async for e in bus.store.replay()] == []
    assert await bus.store.last_seq() == 0


async def test_follow_tails_live_appends(store_bus: Bus) -> None:
    store = store_bus.store
    start = await store.last_seq() + 1
    first = vm_id()
    await store.append("vm", first, started(first), 0)
    it = store.follow(from_seq=start, max_batch=10)
    try:
        batch = await anext(it)
        assert [(e.seq, e.index) for e in batch][:2] == [(start, 0), (start, 1)]
        later = [vm_id() for _ in range(25)]
        await store.append_many([AppendRequest("vm", v, created(v), 0) for v in later])
        seen: list[StoredEvent] = []
        while len(seen) < 25:
            batch = await anext(it)
            assert 1 <= len(batch) <= 10
            seen += batch
        assert [e.envelope.aggregate_id for e in seen] == later
    finally:
        await aclose(it)


async def test_consume_redelivers_unacked_and_resumes_after_ack(store_bus: Bus) -> None:
    store = store_bus.store
    start = await store.last_seq() + 1
    vms = [vm_id() for _ in range(6)]
    await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms[:3]])
    durable = "proj-" + vm_id()[-12:]
    # not acked: redelivered after ack_wait
    [batch] = await take(store.consume(durable, from_seq=start, max_batch=10, ack_wait=1.0), 1)
    assert [e.envelope.aggregate_id for e in batch.events] == vms[: len(batch.events)]
    redelivered = await _drain(store.consume(durable, max_batch=10, ack_wait=1.0), 3)
    # redeliveries may come after messages never delivered before: same set, each once
    assert sorted(e.envelope.aggregate_id for e in redelivered) == sorted(vms[:3])
    # acked: resumes after the checkpoint
    await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms[3:]])
    nxt = await _drain(store.consume(durable, max_batch=10), 3)
    assert [e.envelope.aggregate_id for e in nxt] == vms[3:]
    # from_seq recreates the consumer there
    rewound = await _drain(store.consume(durable, from_seq=start, max_batch=100), 6)
    assert [e.envelope.aggregate_id for e in rewound] == vms


async def _drain(it: AsyncIterator[EventBatch], n: int) -> list[StoredEvent]:
    """Events of batches (each acked) until ``n`` arrived; then close the consumer."""
    got: list[StoredEvent] = []
    try:
        async with asyncio.timeout(10):
            while len(got) < n:
                batch = await anext(it)
                assert batch.last_seq == batch.events[-1].seq
                got += batch.events
                await batch.ack()
    finally:
        await aclose(it)
    return got


async def test_acking_new_messages_never_acknowledges_an_older_unacked_one(
    store_bus: Bus,
) -> None:
    """A reader that crashed holding message 1 must see it again, even when the next
    reader acknowledges messages 2 and 3 first (no implicit ack-all)."""
    store = store_bus.store
    start = await store.last_seq() + 1
    vms = [vm_id() for _ in range(3)]
    await store.append_many([AppendRequest("vm", vms[0], created(vms[0]), 0)])
    durable = "pm-" + vm_id()[-12:]
    [held] = await take(store.consume(durable, from_seq=start, max_batch=10, ack_wait=1.0), 1)
    assert [e.envelope.aggregate_id for e in held.events] == vms[:1]  # never acked
    await store.append_many([AppendRequest("vm", v, created(v), 0) for v in vms[1:]])
    got = await _drain(store.consume(durable, max_batch=10, ack_wait=1.0), 3)
    assert sorted(e.envelope.aggregate_id for e in got) == sorted(vms)
