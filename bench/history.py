"""Benchmark: how fast history answers — whole-inventory replay and one entity's ``as_of``.

Starts a private nats-server and PostgreSQL, appends the projector benchmark's realistic
workload (``bench/project.py``: hosts, VMs created, placed, started, stopped, deleted, with
task events in the same messages), then

1. replays it into a fresh read-model schema with ``projections.replay.replay_with`` (what
   ``lq replay --until <last> --into <schema>`` runs) and reports events/s and wall time;
2. times ``projections.history.as_of`` on one VM that has 10,000 of those events
   (start/stop cycles appended beside the workload), at random points of its history, on
   the replayed schema's audit log (p50/p95/max over ``--samples`` calls).

Targets: replay ≥ 20,000 events/s; as_of p95 < 100 ms.

    .venv/bin/python bench/history.py              # -n 1000000
    .venv/bin/python bench/history.py -n 100000 --entity-events 10000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.project import Load, workload
from events import task, vm
from events.base import new_id
from events.bus import Bus
from events.settings import Settings
from lq.embedded import start_nats, start_postgres
from projections import history, replay, schema


async def _one_vm(load: Load, events: int) -> str:
    """A VM with ``events`` events: created, then start/stop cycles of 2-event messages."""
    v, t = new_id(), new_id()
    await load.round(
        [
            load.request(
                "vm",
                v,
                [
                    vm.VmCreated(vm_id=v, name="busy-vm", vcpus=2, memory_mib=2048),
                    task.TaskQueued(
                        task_id=t, operation="vm.create", target_kind="vm", target_id=v
                    ),
                ],
                t,
                "user:bench",
            )
        ]
    )
    start = load.events
    i = 0
    while load.events - start < events - 2:
        evs = (
            [vm.VmStarted(vm_id=v, host_id="host-000"), vm.VmStartRequested(vm_id=v)]
            if i % 2 == 0
            else [vm.VmStopRequested(vm_id=v), vm.VmStopped(vm_id=v, host_id="host-000")]
        )
        # one aggregate: appends are sequential (each expects the previous version)
        await load.round([load.request("vm", v, evs, t, "user:bench")])
        i += 1
    return v


async def bench(args: argparse.Namespace, workdir: Path) -> None:
    nats = start_nats(workdir / "nats")
    pg = start_postgres(workdir / "pg")
    try:
        settings = Settings(nats_url=nats.url, database_url=pg.url, projector_batch=args.batch)
        bus = await Bus.connect(settings.nats_url, name="bench-history")
        try:
            await bus.provision(settings)
            t0 = time.perf_counter()
            load = await workload(bus.store, args.events, args.hosts, args.chunk)
            vm_id = await _one_vm(load, args.entity_events)
            print(
                f"appended {load.events:,} events (one VM has {args.entity_events:,})"
                f" in {time.perf_counter() - t0:.1f}s"
            )
            async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
                t0 = time.perf_counter()
                done = await replay.replay_with(bus.store, conn, "lq_replayed", None, args.batch)
                dt = time.perf_counter() - t0
            print(
                f"replay into a fresh schema: {done.events:,} events in {dt:.1f}s,"
                f" {done.events / dt:,.0f} events/s (checkpoint {done.last_seq})"
            )
            async with await psycopg.AsyncConnection.connect(
                settings.database_url, autocommit=True
            ) as conn:
                await schema.use_schema(conn, "lq_replayed")
                rows = await history.entity_events(conn, "vm", vm_id, None)
                seqs = [r["seq"] for r in rows]
                times = []
                for _ in range(args.samples):
                    at = history.Point(seq=random.choice(seqs))
                    t0 = time.perf_counter()
                    row = await history.as_of(conn, "vm", vm_id, at)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert row is not None
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"as_of on a VM with {len(rows):,} events: p50"
                    f" {statistics.median(times):.1f} ms, p95 {p95:.1f} ms,"
                    f" max {times[-1]:.1f} ms ({args.samples} samples)"
                )
        finally:
            await bus.close()
    finally:
        nats.stop()
        pg.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", "--events", type=int, default=1_000_000)
    p.add_argument("--entity-events", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--chunk", type=int, default=2000)
    p.add_argument("--batch", type=int, default=2000)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="lq-bench-history-") as d:
        asyncio.run(bench(args, Path(d)))


if __name__ == "__main__":
    main()
