"""Benchmark: a big inventory — 100,000 VMs in the read model, a cold start on 1,000,000 events.

Starts a private stack as ``bench/report.py`` does (nats-server and PostgreSQL from
``lq.embedded``, the controlplane and the projector as ``lq`` subprocesses on a free port),
then:

1. appends ``--vms`` VMs on ``--fleet-hosts`` hosts straight to the event stream
   (``bench/inventory_fleet.py``), plus whole stop/start operations of running VMs until
   the stream holds ``--min-events`` events;
2. waits until the projector's checkpoint and the controlplane's aggregate cache reach
   the last appended sequence, printing how long each took and the controlplane's CPU
   seconds meanwhile;
3. once the process managers' durable consumers have caught up too (the steady state of
   a big inventory; at most ``--managers-timeout`` seconds), measures the listing queries
   straight on the read model (``projections.queries.list_vms``), then ``GET /api/v1/vms``
   (first page, ``state=running&limit=100``, ``host_id=<a fleet host>&limit=100``):
   p50/p95/p99 over ``--requests`` sequential calls on one keep-alive connection, after a
   warm-up;
4. reads the controlplane's (and the projector's) RSS;
5. kills the controlplane (SIGKILL), starts it again and times start → ``/ready`` 200 and
   start → its cache at the stream's last sequence, with its CPU seconds.

``--cache-only`` starts nats-server alone, appends the same fleet and times the aggregate
cache's replay of it (what a controlplane's start waits for) in a child process, for this
source tree and every ``--tree`` (an older checkout), back to back.

``--py-spy FILE`` records the controlplane with py-spy (collapsed stacks, ``FILE``
for the catch-up, ``FILE`` with ``.restart`` before its suffix for the cold start).

    .venv/bin/python bench/bigfleet.py --vms 100000 --min-events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import nats
import psycopg

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.inventory_fleet import EVENTS_PER_OP, Loader, events_per_vm, load_fleet
from bench.report import Stack, start_stack
from events.bus import Bus
from events.settings import Settings
from events.subjects import EVENTS_STREAM
from lq.embedded import start_nats


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def ready_checks(stack: Stack) -> tuple[int, dict[str, Any]]:
    """``/ready``'s status and checks (any status; ``(0, {})`` while it does not answer)."""
    try:
        with urllib.request.urlopen(stack.url + "/ready", timeout=2) as res:
            return res.status, json.loads(res.read()).get("checks", {})
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()).get("checks", {})
    except (OSError, ValueError):
        return 0, {}


def spy(stack: Stack, out: str | None, suffix: str = "") -> subprocess.Popen[bytes] | None:
    if not out:
        return None
    path = Path(out)
    target = path.with_name(path.stem + suffix + path.suffix)
    pid = stack.procs["controlplane"].pid
    return subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)),
            *("--format", "raw", "--rate", "50", "--output", str(target), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def unspy(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(2)  # SIGINT: py-spy writes its profile and exits
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


async def catch_up(stack: Stack, seq: int, timeout: float) -> tuple[float, float]:
    """Seconds until the controlplane's cache and the projector's checkpoint reach ``seq``."""
    t0 = time.perf_counter()
    cache = model = 0.0
    next_note = 10.0
    while time.perf_counter() - t0 < timeout:
        _, checks = await asyncio.to_thread(ready_checks, stack)
        now = time.perf_counter() - t0
        if not cache and int(checks.get("stream_seq", 0)) >= seq:
            cache = now
        if not model and int(checks.get("checkpoint", 0)) >= seq:
            model = now
        if cache and model:
            return cache, model
        if now >= next_note:
            print(
                f"  … {now:.0f} s: cache at {checks.get('stream_seq')},"
                f" read model at {checks.get('checkpoint')} of {seq}",
                flush=True,
            )
            next_note += 30.0
        await asyncio.sleep(0.2)
    raise SystemExit(f"not caught up with seq {seq} after {timeout:.0f} s")


async def consumers_caught_up(url: str, timeout: float) -> tuple[float, int]:
    """Seconds until every durable consumer of the event stream (the process managers')
    has nothing pending and nothing unacknowledged, or ``timeout``; and the messages they
    still had to handle then (summed over the consumers)."""
    nc = await nats.connect(url, name="bench-bigfleet-consumers")
    try:
        js = nc.jetstream()
        t0 = time.perf_counter()
        while True:
            infos = await js.consumers_info(EVENTS_STREAM)
            left = sum(
                (c.num_pending or 0) + (c.num_ack_pending or 0)
                for c in infos
                if c.config.durable_name
            )
            if not left or time.perf_counter() - t0 >= timeout:
                return time.perf_counter() - t0, left
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def sql_latency(pg_url: str, requests: int, host_id: str) -> None:
    """The same pages straight from the read model (``projections.queries.list_vms`` on one
    connection, as the API's handler runs it): the query side without the HTTP server."""
    from multidict import MultiDict

    from events.settings import Settings as Conf
    from projections import queries, schema

    conn = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    try:
        await schema.use_schema(conn, Conf().db_schema)
        asks = {
            "first page": {},
            "state=running&limit=100": {"state": "running", "limit": "100"},
            "host_id=<host>&limit=100": {"host_id": host_id, "limit": "100"},
        }
        for label, query in asks.items():
            asked = queries.VM_LISTING.parse(MultiDict(query))

            async def once(asked: Any = asked) -> Any:
                return await queries.list_vms(
                    conn, states=asked.filters["state"] or [], host_id=asked.filters["host_id"],
                    q=None, sort=asked.sort, limit=asked.limit, cursor=None,
                )  # fmt: skip

            for _ in range(10):
                await once()
            times: list[float] = []
            for _ in range(requests):
                t0 = time.perf_counter()
                await once()
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"  SQL {label:28s} p50 {pct(times, 50):6.1f}  p95 {pct(times, 95):6.1f}"
                f"  p99 {pct(times, 99):6.1f} ms"
            )
    finally:
        await conn.close()


async def latency(stack: Stack, token: str, requests: int, host_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    queries = {
        "first page (/api/v1/vms)": "/api/v1/vms",
        "state=running&limit=100": "/api/v1/vms?state=running&limit=100",
        "host_id=<host>&limit=100": f"/api/v1/vms?host_id={host_id}&limit=100",
    }
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        for label, path in queries.items():
            rows = 0
            for _ in range(10):  # warm-up: connection, plans, caches
                async with http.get(stack.url + path) as res:
                    res.raise_for_status()
                    rows = len((await res.json())["items"])
            times: list[float] = []
            for _ in range(requests):
                t0 = time.perf_counter()
                async with http.get(stack.url + path) as res:
                    res.raise_for_status()
                    await res.read()
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"  GET {label:28s} p50 {pct(times, 50):6.1f}  p95 {pct(times, 95):6.1f}"
                f"  p99 {pct(times, 99):6.1f} ms  ({rows} rows; target p95 < 100 ms)"
            )


async def fill(stack: Stack, args: argparse.Namespace) -> tuple[Loader, str]:
    bus = await Bus.connect(stack.nats.url, name="bench-bigfleet")
    try:
        base = await bus.store.last_seq()
        extra = max(0, args.min_events - round(args.vms * events_per_vm()) - 2 * args.fleet_hosts)
        extra_ops = -(-extra // EVENTS_PER_OP)
        print(f"appending {args.vms:,} VMs on {args.fleet_hosts} hosts, {extra_ops:,} extra ops")
        t0 = time.perf_counter()
        last_note = [t0]

        def progress(loader: Loader) -> None:
            if time.perf_counter() - last_note[0] >= 15:
                last_note[0] = time.perf_counter()
                print(f"  … {loader.events:,} events appended", flush=True)

        loader = await load_fleet(
            bus.store, args.vms, args.fleet_hosts, args.chunk, extra_ops=extra_ops,
            progress=progress,
        )  # fmt: skip
        dt = time.perf_counter() - t0
        print(
            f"appended {loader.events:,} events in {loader.messages:,} messages in {dt:.1f} s"
            f" ({loader.events / dt:,.0f} events/s); stream had {base}, last seq {loader.last}"
        )
        host_id = next(h for (kind, h) in loader.versions if kind == "host")
        return loader, host_id
    finally:
        await bus.close()


async def bench(args: argparse.Namespace, data: Path) -> None:
    stack = start_stack(data)
    profiler = None
    try:
        token = await load.login(stack.url, data)
        print(f"stack ready at {stack.url}; {uptime()}")
        cpu0 = stack.cpu_s("controlplane")
        profiler = spy(stack, args.py_spy)
        loader, host_id = await fill(stack, args)
        cache, model = await catch_up(stack, loader.last, args.catch_up_timeout)
        unspy(profiler)
        cpu = stack.cpu_s("controlplane") - cpu0
        print(
            f"after the last append: controlplane cache caught up after {cache:.1f} s,"
            f" read model after {model:.1f} s; controlplane CPU {cpu:.1f} s since the first"
            f" append ({loader.events / cpu:,.0f} events per CPU-second); {uptime()}"
        )
        waited, left = await consumers_caught_up(stack.nats.url, args.managers_timeout)
        print(
            f"process managers' consumers: {left:,} messages still to handle after {waited:.0f}"
            f" s more (0: caught up); {uptime()}"
        )
        print(f"read model alone, {args.requests} sequential queries each:")
        await sql_latency(stack.pg.url, args.requests, host_id)
        print(f"GET latency, {args.requests} sequential requests each, client-side wall time:")
        await latency(stack, token, args.requests, host_id)
        rss = {n: stack.rss_mib(n) for n in ("controlplane", "projector")}
        print(
            f"RSS: controlplane {rss['controlplane']:,.0f} MiB (target < 1,536 MiB),"
            f" projector {rss['projector']:,.0f} MiB; {uptime()}"
        )
        bus = await Bus.connect(stack.nats.url, name="bench-bigfleet")
        try:
            last = await bus.store.last_seq()
        finally:
            await bus.close()
        stack.procs["controlplane"].kill()
        stack.procs["controlplane"].wait()
        stack.procs.pop("controlplane")
        t0 = time.monotonic()
        stack.start_controlplane()
        profiler = spy(stack, args.py_spy, ".restart")
        ready_s = caught_s = 0.0
        while time.monotonic() - t0 < args.catch_up_timeout:
            status, checks = await asyncio.to_thread(ready_checks, stack)
            now = time.monotonic() - t0
            if not caught_s and int(checks.get("stream_seq", 0)) >= last:
                caught_s = now
            if not ready_s and status == 200:
                ready_s = now
            if ready_s and caught_s:
                break
            await asyncio.sleep(0.05)
        unspy(profiler)
        profiler = None
        print(
            f"cold start on {loader.events + 0:,}+ events ({last:,} messages): /ready 200 after"
            f" {ready_s:.1f} s (target < 60 s), cache at seq {last} after {caught_s:.1f} s;"
            f" controlplane CPU {stack.cpu_s('controlplane'):.1f} s,"
            f" RSS {stack.rss_mib('controlplane'):,.0f} MiB; {uptime()}"
        )
    finally:
        unspy(profiler)
        stack.close()


# ---------------------------------------------------------------------------- cache only


def replay_probe(url: str, live: bool = False) -> None:
    """Replay the whole stream into a fresh aggregate cache in this process and print the
    wall and CPU seconds, the part of them spent in garbage collection and the peak RSS.
    ``live``: through the cache's live tail alone (as a running controlplane catches up),
    not its start (which replays with the garbage collector off)."""
    import gc
    import resource

    from controlplane.repository import Repository

    in_gc = [0.0, 0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            in_gc[1] = time.process_time()
        else:
            in_gc[0] += time.process_time() - in_gc[1]

    gc.callbacks.append(timer)

    async def run() -> None:
        bus = await Bus.connect(url, name="bench-bigfleet-replay")
        repo = Repository(bus.store)
        c0, t0 = time.process_time(), time.perf_counter()
        if live:
            last = await bus.store.last_seq()
            repo._task = asyncio.create_task(repo._follow())  # the tail alone
            await repo.wait_seq(last)
        else:
            await repo.start()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        await repo.stop()
        await bus.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  cache replay to seq {repo.seq:,}: {wall:.1f} s wall, {cpu:.1f} s CPU"
            f" ({in_gc[0]:.1f} s of it in gc), peak RSS {rss:,.0f} MiB; {uptime()}",
            flush=True,
        )

    asyncio.run(run())


async def cache_only(args: argparse.Namespace, data: Path) -> None:
    """NATS alone: append the fleet, then replay it into a cache in a child process per
    source tree (``--tree``, each as ``PYTHONPATH``; this tree last), back to back."""
    server = start_nats(data / "nats")
    try:
        bus = await Bus.connect(server.url, name="bench-bigfleet")
        try:
            await bus.provision(Settings())
        finally:
            await bus.close()
        stack = Stack(data, server, None, "", 0, {})  # type: ignore[arg-type]
        await fill(stack, args)
        root = str(Path(__file__).resolve().parents[1])
        for tree in [*args.tree, root] * args.rounds:
            print(f"replay with the code of {tree}:", flush=True)
            code = f"import bench.bigfleet as b; b.replay_probe({server.url!r}, {args.live})"
            env = {**os.environ, "PYTHONPATH": f"{tree}:{root}"}
            await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", code], env=env, cwd=tree, check=True
            )
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--vms", type=int, default=100_000, help="VMs in the fleet")
    p.add_argument("--fleet-hosts", type=int, default=0, help="fleet hosts (default VMs/250)")
    p.add_argument("--min-events", type=int, default=1_000_000, help="events in the stream")
    p.add_argument("--chunk", type=int, default=2000, help="VMs per append round")
    p.add_argument("--requests", type=int, default=200, help="GETs per measured query")
    p.add_argument("--catch-up-timeout", type=float, default=1200.0)
    p.add_argument(
        "--managers-timeout",
        type=float,
        default=300.0,
        help="longest wait for the process managers' consumers before the GETs",
    )
    p.add_argument("--py-spy", help="record the controlplane with py-spy into this file")
    p.add_argument(
        "--cache-only",
        action="store_true",
        help="NATS only: append the fleet, then time the aggregate cache's replay of it",
    )
    p.add_argument("--tree", action="append", default=[], help="--cache-only: also this tree")
    p.add_argument("--live", action="store_true", help="--cache-only: through the live tail")
    p.add_argument("--rounds", type=int, default=1, help="--cache-only: replays per tree")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = p.parse_args()
    args.fleet_hosts = args.fleet_hosts or max(1, args.vms // 250)
    data = Path(tempfile.mkdtemp(prefix="lq-bench-bigfleet-"))
    print(f"data directory {data}; {uptime()}")
    try:
        asyncio.run(cache_only(args, data) if args.cache_only else bench(args, data))
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
