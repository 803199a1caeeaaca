"""Benchmark: how many events per second the projector folds into PostgreSQL.

Starts a private nats-server and a private PostgreSQL in a temporary directory, appends a
realistic LimiQuantix workload (hosts enrolling, VMs created, placed with capacity
reservations, defined, started, stopped, deleted; task events in the same messages;
multi-event messages), then runs the real projector (``projections.runner.run``) from an
empty read model and reports events/s until its checkpoint reaches the stream's end.
Target: at least 10,000 events/s.

    .venv/bin/python bench/project.py --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.inventory_fleet import Loader
from events import host, task, vm
from events.base import Event, Meta, new_id, utcnow
from events.bus import Bus
from events.codec import wrap
from events.settings import Settings
from events.store import AppendRequest, EventStore
from lq.embedded import start_nats, start_postgres
from projections import runner, schema

log = logging.getLogger("bench.project")


class Load(Loader):
    """Appends decisions in pipelined rounds (one message per subject per round)."""

    def request(
        self, kind: str, ident: str, events: Sequence[Event], task_id: str | None, actor: str
    ) -> AppendRequest:
        meta = Meta(actor=actor, occurred_at=utcnow(), correlation_id=task_id)
        return self.message(kind, ident, wrap(kind, ident, events, meta))

    async def round(self, requests: list[AppendRequest]) -> None:
        await self.append(requests, window=500)


async def workload(store: EventStore, target: int, hosts: int, chunk: int) -> Load:
    load = Load(store)
    host_ids = [f"host-{i:03d}" for i in range(hosts)]
    await load.round(
        [
            load.request(
                "host",
                h,
                [
                    host.HostEnrolled(
                        host_id=h,
                        name=h,
                        uri=f"qemu+tls://{h}/system",
                        cpus=128,
                        memory_mib=1 << 20,
                        labels={"rack": str(i % 8)},
                    )
                ],
                None,
                f"agent:{h}",
            )
            for i, h in enumerate(host_ids)
        ]
    )
    n = 0
    while load.events < target:
        vms = [(new_id(), new_id(), host_ids[(n + i) % hosts], n + i) for i in range(chunk)]
        n += chunk
        user = "user:bench"
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [
                        vm.VmCreated(vm_id=v, name=f"vm-{i:06d}", vcpus=1 + i % 8, memory_mib=1024),
                        task.TaskQueued(
                            task_id=t, operation="vm.create", target_kind="vm", target_id=v
                        ),
                    ],
                    t,
                    user,
                )
                for v, t, _, i in vms
            ]
        )
        per_host: dict[str, list[Event]] = {}
        for v, _, h, i in vms:
            per_host.setdefault(h, []).append(
                host.HostCapacityReserved(host_id=h, vm_id=v, vcpus=1 + i % 8, memory_mib=1024)
            )
        await load.round(
            [load.request("host", h, evs, None, "system:placement") for h, evs in per_host.items()]
        )
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [vm.VmPlaced(vm_id=v, host_id=h), task.TaskRunning(task_id=t, host_id=h)],
                    t,
                    "system:placement",
                )
                for v, t, h, _ in vms
            ]
        )
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [
                        vm.VmDefined(vm_id=v, host_id=h),
                        vm.VmStarted(vm_id=v, host_id=h),
                        task.TaskProgressed(task_id=t, percent=90),
                        task.TaskSucceeded(task_id=t),
                    ],
                    t,
                    f"agent:{h}",
                )
                for v, t, h, _ in vms
            ]
        )
        stopping = [(v, new_id(), h, i) for v, _, h, i in vms if i % 2 == 0]
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [
                        vm.VmStopRequested(vm_id=v),
                        task.TaskQueued(
                            task_id=t, operation="vm.stop", target_kind="vm", target_id=v
                        ),
                    ],
                    t,
                    user,
                )
                for v, t, _, _ in stopping
            ]
        )
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [vm.VmStopped(vm_id=v, host_id=h), task.TaskSucceeded(task_id=t)],
                    t,
                    f"agent:{h}",
                )
                for v, t, h, _ in stopping
            ]
        )
        deleting = [(v, new_id(), h, i) for v, _, h, i in stopping if i % 10 == 0]
        await load.round(
            [
                load.request(
                    "vm",
                    v,
                    [
                        vm.VmDeleteRequested(vm_id=v),
                        vm.VmDeleted(vm_id=v, host_id=h),
                        task.TaskQueued(
                            task_id=t, operation="vm.delete", target_kind="vm", target_id=v
                        ),
                        task.TaskSucceeded(task_id=t),
                    ],
                    t,
                    user,
                )
                for v, t, h, _ in deleting
            ]
        )
        releases: dict[str, list[Event]] = {}
        for v, _, h, _ in deleting:
            releases.setdefault(h, []).append(host.HostCapacityReleased(host_id=h, vm_id=v))
        await load.round(
            [load.request("host", h, evs, None, "system:placement") for h, evs in releases.items()]
        )
    return load


async def checkpoint(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        if await schema.version(conn, "lq") is None:
            return 0
        await schema.use_schema(conn, "lq")
        return await schema.checkpoint(conn)


async def create_read_model(settings: Settings) -> None:
    """The read model's (empty) tables, as a projector makes them on its first start."""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await schema.ensure(conn, settings.db_schema)


class Checkpoint:
    """The projector's checkpoint, asked on one open connection (a connection per poll
    would cost PostgreSQL a new backend every 20 ms, beside the projector it times)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> Checkpoint:
        self.conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def seq(self) -> int:
        assert self.conn is not None
        try:
            cur = await self.conn.execute(
                "SELECT seq FROM lq.checkpoint WHERE name = %s", [schema.CHECKPOINT]
            )
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            return 0  # no read model yet
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def read_rate(settings: Settings, last: int, batch: int) -> None:
    """The event store's own follow rate, for comparison (no PostgreSQL)."""
    bus = await Bus.connect(settings.nats_url, name="bench-reader")
    try:
        t0, n = time.perf_counter(), 0
        batches = bus.store.follow(from_seq=1, max_batch=batch, linger=0.01)
        async for got in batches:
            n += len(got)
            if got[-1].seq >= last:
                break
        dt = time.perf_counter() - t0
        print(f"store.follow alone: {n} events in {dt:.2f}s, {n / dt:,.0f} events/s")
    finally:
        await bus.close()


async def bench(args: argparse.Namespace, workdir: Path) -> float:
    nats = start_nats(workdir / "nats")
    pg = start_postgres(workdir / "pg")
    try:
        settings = Settings(
            nats_url=nats.url,
            database_url=pg.url,
            projector_batch=args.batch,
            projector_linger_ms=args.linger_ms,
        )
        bus = await Bus.connect(settings.nats_url, name="bench-writer")
        try:
            await bus.provision(settings)
            t0 = time.perf_counter()
            load = await workload(bus.store, args.events, args.hosts, args.chunk)
            dt = time.perf_counter() - t0
        finally:
            await bus.close()
        print(
            f"appended {load.events} events in {len(load.versions)} subjects, "
            f"last seq {load.last}, {load.events / dt:,.0f} events/s"
        )
        if args.read_only:
            await read_rate(settings, load.last, args.batch)
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task_ = asyncio.create_task(runner.run(settings, stop))
        first: tuple[float, int] | None = None
        try:
            async with Checkpoint(pg.url) as checkpoint:
                while (done := await checkpoint.seq()) < load.last:
                    if task_.done():
                        task_.result()
                    if first is None and done > 0:
                        first = (time.perf_counter(), done)
                    await asyncio.sleep(0.02)
            end = time.perf_counter()
            dt = end - t0
        finally:
            stop.set()
            await task_
        rate = load.events / dt
        print(
            f"projected {load.events} events in {dt:.2f}s: {rate:,.0f} events/s "
            f"(batch {args.batch} messages, checkpoint per batch, including start-up)"
        )
        if first is not None and end > first[0]:
            steady = load.events * (1 - first[1] / load.last) / (end - first[0])
            print(f"steady state (after the first commit): ~{steady:,.0f} events/s")
        return rate
    finally:
        pg.stop()
        nats.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=100_000, help="events to append (default 100k)")
    p.add_argument("--hosts", type=int, default=50, help="hosts in the workload")
    p.add_argument("--chunk", type=int, default=1000, help="VMs per pipelined round")
    p.add_argument("--batch", type=int, default=2000, help="projector batch (messages)")
    p.add_argument("--linger-ms", type=int, default=10, help="projector linger")
    p.add_argument("--read-only", action="store_true", help="also time store.follow alone")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="lq-bench-") as tmp:
        rate = asyncio.run(bench(args, Path(tmp)))
    print("OK" if rate >= 10_000 else "BELOW TARGET (10,000 events/s)")


if __name__ == "__main__":
    main()
