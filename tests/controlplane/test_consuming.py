"""Concurrent handling (``controlplane.consuming``): the VM process manager's events run
side by side across VMs from a real durable consumer, in stream order per key, retried in
place when the failure is transient, acknowledged once handled; the VM process manager's
keys keep capacity decisions in order, the migration process manager's each VM's and
host's steps (and skip what is not its business); work-queue deliveries run in lanes, ordered per
key and bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import nats
import pytest

from controlplane.consuming import Lanes, consume_by_key
from controlplane.migration import migration_keys
from controlplane.processes import CAPACITY, reaction_keys
from controlplane.repository import Repository
from events import host as he
from events import vm as ve
from events.base import Event, Meta, utcnow
from events.bus import Bus
from events.codec import StoredEvent, wrap
from events.errors import StoreUnavailable
from events.settings import Settings
from events.subjects import EVENTS_STREAM

META = Meta(actor="test", occurred_at=utcnow())


async def test_vm_events_are_handled_side_by_side_in_order_and_retried_in_place(
    nats_url: str,
) -> None:
    bus = await Bus.connect(nats_url, name="lq-test")
    await bus.provision(Settings())
    repo = Repository(bus.store)
    versions: dict[str, int] = {}
    for vm, e in [
        ("a", ve.VmStartRequested(vm_id="a")),  # 1: waits until b's reaction ran
        ("a", ve.VmStopRequested(vm_id="a")),  # 2
        ("b", ve.VmStartRequested(vm_id="b")),  # 3
        ("c", ve.VmStartRequested(vm_id="c")),  # 4: a transient failure, once
        ("c", ve.VmStopRequested(vm_id="c")),  # 5
        ("d", ve.VmStartRequested(vm_id="d")),  # 6: a bug: skipped, never retried
        ("d", ve.VmStopRequested(vm_id="d")),  # 7
        ("e", ve.VmStartRequested(vm_id="e")),  # 8: no reaction (keys None): acked unhandled
    ]:
        out = await bus.store.append("vm", vm, wrap("vm", vm, [e], META), versions.get(vm, 0))
        versions[vm] = out.seq
    await repo.start()
    b_done = asyncio.Event()
    calls: list[int] = []
    all_done = asyncio.Event()

    async def handle(se: StoredEvent) -> None:
        calls.append(se.seq)
        if se.seq == 1:
            try:  # handled one by one, b's reaction never runs before this one ends
                await asyncio.wait_for(b_done.wait(), 2)
            except TimeoutError:
                pytest.fail("the events of VMs a and b were not handled side by side")
        if se.envelope.aggregate_id == "b":
            b_done.set()
        if se.seq == 4 and calls.count(4) == 1:
            raise StoreUnavailable("NATS restarting")
        if se.seq == 6:
            raise ValueError("not a transient failure")
        if sorted(set(calls)) == list(range(1, 8)):
            all_done.set()

    consumer = asyncio.create_task(
        consume_by_key(
            bus.store,
            repo,
            "test-pm",
            "lq.evt.vm.*",
            handle=handle,
            name="test",
            keys=lambda se: None if se.envelope.aggregate_id == "e" else [se.envelope.aggregate_id],
        )
    )
    try:
        await asyncio.wait_for(all_done.wait(), 10)
        assert sorted(calls) == [1, 2, 3, 4, 4, 5, 6, 7]  # only the failed event again
        for vm in "acd":  # each VM's events in stream order
            mine = [s for s in calls if s in {"a": (1, 2), "c": (4, 5), "d": (6, 7)}[vm]]
            assert mine == sorted(mine)
        assert calls.index(3) < calls.index(2)  # b ran while a's first event waited
        nc = await nats.connect(nats_url)  # every message acknowledged once handled
        try:
            for _ in range(100):
                info = await nc.jetstream().consumer_info(EVENTS_STREAM, "test-pm")
                if not info.num_ack_pending and not info.num_pending:
                    break
                await asyncio.sleep(0.05)
        finally:
            await nc.close()
        assert info.num_ack_pending == 0 and info.num_pending == 0
        assert 8 not in calls
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await repo.stop()
        await bus.close()


def _created(vm: str) -> ve.VmCreated:
    return ve.VmCreated(vm_id=vm, name=vm, vcpus=1, memory_mib=512)


@pytest.mark.parametrize(
    ("event", "capacity"),
    [
        (_created("a"), True),  # placement: ranks every host, reserves on one
        (ve.ResizeRequested(vm_id="a", vcpus=2, memory_mib=1024), True),
        (ve.VmDeleted(vm_id="a", host_id="h1"), True),  # releases its reservation
        (ve.VmDeleted(vm_id="a"), None),  # never reached a host: nothing to release
        (ve.VmStartRequested(vm_id="a"), False),  # an order to its host only
        (ve.VmStopRequested(vm_id="a"), False),
        (ve.VmStarted(vm_id="a", host_id="h1"), None),  # no reaction: not handed over
        (ve.VmMigrated(vm_id="a", from_host_id="h1", to_host_id="h2"), None),  # migrations'
    ],
)
def test_vm_process_manager_keys(event: Event, capacity: bool | None) -> None:
    se = StoredEvent(seq=1, index=0, envelope=wrap("vm", "a", [event], META)[0])
    keys = reaction_keys(se)
    if capacity is None:
        assert keys is None
        return
    assert keys is not None and ("vm", "a") in keys
    assert (CAPACITY in keys) == capacity


@pytest.mark.parametrize(
    ("kind", "aggregate", "event", "keys"),
    [
        ("vm", "a", ve.VmMigrationRequested(vm_id="a", from_host_id="h1"), ()),  # pumps only
        ("vm", "a", ve.VmMigrationStarted(vm_id="a", from_host_id="h1", to_host_id="h2"),
         {("vm", "a")}),
        ("vm", "a", ve.VmMigrationTargetReady(vm_id="a", to_host_id="h2"), {("vm", "a")}),
        ("vm", "a", ve.VmMigrated(vm_id="a", from_host_id="h1", to_host_id="h2"),
         {("vm", "a"), ("host", "h1"), ("host", "h2")}),
        ("vm", "a", ve.VmMigrationFailed(vm_id="a", from_host_id="h1", reason="x"),
         {("vm", "a"), ("host", "h1")}),
        ("host", "h1", he.HostMaintenanceEntered(host_id="h1", migrating=("a",)),
         {("host", "h1")}),
        ("vm", "a", ve.VmStartRequested(vm_id="a"), None),  # not the migrations' business
    ],
)  # fmt: skip
def test_migration_process_manager_keys(
    kind: str, aggregate: str, event: Event, keys: set[tuple[str, str]] | tuple[()] | None
) -> None:
    se = StoredEvent(seq=1, index=0, envelope=wrap(kind, aggregate, [event], META)[0])
    got = migration_keys(se)
    assert (set(got) if got else got) == keys


async def test_lanes_order_each_key_run_keys_side_by_side_and_bound_the_work() -> None:
    lanes = Lanes("test", limit=3)
    done: list[str] = []
    gate = asyncio.Event()

    def work(name: str, wait: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if wait:
                await asyncio.wait_for(gate.wait(), 5)
            await asyncio.sleep(0)
            done.append(name)

        return run

    await lanes.submit([("host", "a")], work("a1", wait=True))
    await lanes.submit([("host", "c")], work("c1"))
    await asyncio.sleep(0.01)
    assert done == ["c1"]  # beside a1, which waits
    await lanes.submit([("host", "a"), ("vm", "x")], work("a2"))  # after a1
    await lanes.submit([("host", "b"), ("vm", "x")], work("b1"))  # after a2: same VM
    submitting = asyncio.ensure_future(lanes.submit([("host", "d")], work("d1")))
    await asyncio.sleep(0.01)
    assert not submitting.done()  # three items unfinished: the fourth waits for room
    assert done == ["c1"]
    gate.set()
    await submitting
    await lanes.close(cancel=False)
    assert done.index("a1") < done.index("a2") < done.index("b1")
    assert sorted(done) == ["a1", "a2", "b1", "c1", "d1"]
