"""In-process readers of the aggregate cache's live tail (``controlplane.applied``): every
event once, in stream order, whether the reader starts behind what the cache keeps, keeps
up, or falls behind while busy (the gap is read from the real stream)."""

from __future__ import annotations

import asyncio

from controlplane.applied import Applied
from controlplane.repository import Repository
from events import vm as ve
from events.base import Meta, utcnow
from events.bus import Bus
from events.codec import StoredEvent, wrap
from events.settings import Settings

META = Meta(actor="test", occurred_at=utcnow())


async def test_a_reader_gets_every_applied_event_once_in_order_even_when_behind(
    nats_url: str,
) -> None:
    bus = await Bus.connect(nats_url, name="lq-test")
    await bus.provision(Settings())
    versions: dict[str, int] = {}

    async def append(n: int) -> None:
        for i in range(n):
            vm = f"vm{i % 3}"
            events = [ve.VmStartRequested(vm_id=vm), ve.VmStopRequested(vm_id=vm)][: 1 + i % 2]
            out = await bus.store.append(
                "vm", vm, wrap("vm", vm, events, META), versions.get(vm, 0)
            )
            versions[vm] = out.seq

    await append(10)  # before the cache starts: the reader reads them from the stream
    repo = Repository(bus.store)
    repo.applied = Applied(bus.store, keep=3)
    await repo.start()
    got: list[StoredEvent] = []
    busy = asyncio.Event()
    busy.set()
    progress = asyncio.Condition()

    async def read() -> None:
        async for batch in repo.applied.follow(1):
            await busy.wait()
            got.extend(batch)
            async with progress:
                progress.notify_all()

    async def reached(seq: int) -> None:
        async with asyncio.timeout(10), progress:
            await progress.wait_for(lambda: bool(got) and got[-1].seq >= seq)

    reader = asyncio.create_task(read())
    try:
        await append(5)  # live
        await reached(repo.seq)
        busy.clear()  # the reader stalls while 12 more messages are applied (keep: 3)
        await append(12)
        await repo.wait_seq(27, timeout=10)
        busy.set()
        await reached(27)
        expected = [(se.seq, se.index) async for se in bus.store.replay()]
        assert [(se.seq, se.index) for se in got] == expected
        assert len(expected) > 27  # messages of two events were among them
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await repo.stop()
        await bus.close()
