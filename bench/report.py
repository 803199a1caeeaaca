"""One entry point for the scale benchmarks: start a stack, run the scenarios, write the doc.

Starts a private stack in a temporary directory — nats-server and PostgreSQL from
``lq.embedded``, the controlplane and the projector as ``lq`` subprocesses (NATS
authorization off: the swarm shares connections between hosts, see ``bench/swarm.py``)
— then runs, at the chosen scale:

1. **baselines** measured in the same run: checked appends vs raw ``publish_async``
   (``bench/append.py``), and the projector vs a raw ``COPY`` upsert of the very rows it
   produced (``bench/project.py``'s workload, then the final rows copied into twin tables);
2. **fleet**: ``--hosts`` simulated hosts (``bench/swarm.py``, one subprocess per
   ``--hosts-per-process``) enrol and heartbeat; ``--vms`` VMs are created and started
   through the API (``bench/load.py``); hosts seen connected, creates/s, ``GET /vms``
   first page and filtered page p50/p95, controlplane RSS;
3. **mixed lifecycle load** for ``--duration`` seconds (``bench/load.py``): ops/s,
   request → ``succeeded`` p50/p95/p99, ``202`` → change-feed lag, and the CPU time the
   controlplane and the projector spent during it per lifecycle op completed (their
   ``/proc`` user + system time: robust to other work on the machine, unlike latency);
4. **cold start**: the controlplane restarted on the stream this run produced, time to
   ``/ready``.

Prints the figures and, with ``--write``, replaces the generated block of the scale
section of ``docs/benchmarks.md`` (between its markers) with them, the machine and the
command.

    nice -n 10 .venv/bin/python bench/report.py --hosts 200 --vms 2000 --duration 30 --write
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import append, load
from bench import project as proj
from controlplane.repository import Repository
from events.bus import Bus
from events.settings import Settings
from events.streaming import LONG_PULL
from lq.embedded import NatsServer, Postgres, free_port, start_nats, start_postgres
from projections import runner

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- scale-report:begin -->", "<!-- scale-report:end -->"


# ------------------------------------------------------------------------------ stack


@dataclass
class Stack:
    data: Path
    nats: NatsServer
    pg: Postgres
    url: str
    port: int
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.data / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lq.cli", *args, "--data-dir", str(self.data)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.procs[name] = proc
        return proc

    def start_controlplane(self) -> None:
        self.spawn("controlplane", "controlplane", "--port", str(self.port), "--bind", "127.0.0.1")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ``/ready`` answers 200."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited; see {self.data / (name + '.log')}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as res:
                    if res.status == 200:
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"the stack was not ready in {timeout:.0f} s (logs in {self.data})")

    def rss_mib(self, name: str) -> float:
        proc = self.procs[name]
        for row in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
        return float("nan")

    def cpu_s(self, name: str, system_only: bool = False) -> float:
        """CPU seconds (user + system, or system only) ``name`` has consumed so far."""
        fields = Path(f"/proc/{self.procs[name].pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[12]) + (0 if system_only else int(fields[11]))
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self.nats.stop()
        self.pg.stop()


def start_stack(data: Path) -> Stack:
    nats = start_nats(data / "nats")
    pg = start_postgres(data / "pg")
    port = free_port()
    env = {
        **os.environ,
        "LQ_NATS_URL": nats.url,
        "LQ_DATABASE_URL": pg.url,
        "LQ_DATA_DIR": str(data),
        "LQ_NATS_AUTH": "off",
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(data, nats, pg, f"http://127.0.0.1:{port}", port, env)
    stack.start_controlplane()
    stack.spawn("projector", "projector")
    stack.wait_ready()
    return stack


def start_swarm(
    stack: Stack,
    hosts: int,
    per_process: int,
    metrics_s: float,
    fetch_wait: float = LONG_PULL,
    *,
    extra: tuple[str, ...] = (),
) -> list[Any]:
    procs = []
    for i, first in enumerate(range(0, hosts, per_process)):
        n = min(per_process, hosts - first)
        log = open(stack.data / f"swarm-{i}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "swarm.py"),
                    "--nats",
                    stack.nats.url,
                    "--hosts",
                    str(n),
                    "--prefix",
                    f"swarm{i}",
                    "--metrics-s",
                    str(metrics_s),
                    "--fetch-wait",
                    str(fetch_wait),
                    *extra,
                ],
                cwd=ROOT,
                env=stack.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def stop_swarm(procs: list[Any]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def hosts_connected(stack: Stack, token: str) -> int:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.get(stack.url + "/api/v1/hosts?state=connected&limit=1") as r,
    ):
        return int((await r.json())["total"])


# ------------------------------------------------------------------------------ baselines


async def projector_vs_copy(events: int) -> dict[str, float]:
    """The projector on ``bench/project.py``'s workload, then the same final rows written
    by ``COPY`` into empty twin tables and upserted (``INSERT … ON CONFLICT DO UPDATE``);
    also the controlplane's aggregate cache replaying that stream (its cold start)."""
    with tempfile.TemporaryDirectory(prefix="lq-bench-copy-") as tmp:
        nats = start_nats(Path(tmp) / "nats")
        pg = start_postgres(Path(tmp) / "pg")
        try:
            settings = Settings(nats_url=nats.url, database_url=pg.url)
            bus = await Bus.connect(nats.url, name="bench-report")
            try:
                await bus.provision(settings)
                work = await proj.workload(bus.store, events, 50, 1000)
                cache = Repository(bus.store)
                t0 = time.perf_counter()
                await cache.start()  # what a starting controlplane waits for
                replay_s = time.perf_counter() - t0
                await cache.stop()
            finally:
                await bus.close()
            # the read model's tables are made before the clock starts, as the twin tables
            # of the raw side are (a projector makes them once, on its first start)
            t0 = time.perf_counter()
            await proj.create_read_model(settings)
            create_s = time.perf_counter() - t0
            stop = asyncio.Event()
            async with proj.Checkpoint(pg.url) as checkpoint:
                t0 = time.perf_counter()
                task = asyncio.create_task(runner.run(settings, stop))
                while await checkpoint.seq() < work.last:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.02)
                projector_s = time.perf_counter() - t0
            stop.set()
            await task
            rows, copy_s = await raw_copy(pg.url)
        finally:
            pg.stop()
            nats.stop()
    return {
        "events": work.events,
        "projector_s": projector_s,
        "projector_eps": work.events / projector_s,
        "rows": rows,
        "copy_s": copy_s,
        "ratio": copy_s / projector_s,
        "messages": work.last,
        "cache_replay_s": replay_s,
        "read_model_create_s": create_s,
    }


async def raw_copy(url: str) -> tuple[int, float]:
    """Copy every non-empty read-model table's rows into a twin and upsert them; the
    timed part is COPY into a staging table plus one upsert statement per table."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT c.relname, array_remove(array_agg(a.attname::text), NULL)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
            " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)"
            " WHERE n.nspname = 'lq' AND c.relkind IN ('r', 'p') GROUP BY c.relname"
        )
        tables = [(str(r[0]), list(r[1])) for r in await cur.fetchall()]
        await conn.execute("CREATE SCHEMA bench_raw")
        data: dict[str, tuple[list[str], list[bytes], int, list[str]]] = {}
        for name, pkey in tables:
            if name in ("meta", "checkpoint"):
                continue
            cur = await conn.execute(f"SELECT count(*) FROM lq.{name}")
            count = int((await cur.fetchone() or (0,))[0])
            if not count:
                continue
            cur = await conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lq'"
                " AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
                [name],
            )
            cols = [str(r[0]) for r in await cur.fetchall()]
            collist = ", ".join(f'"{c}"' for c in cols)
            chunks: list[bytes] = []
            async with conn.cursor().copy(f"COPY lq.{name} ({collist}) TO STDOUT") as out:
                async for chunk in out:
                    chunks.append(bytes(chunk))
            data[name] = (cols, chunks, count, pkey)
            await conn.execute(f"CREATE TABLE bench_raw.{name} (LIKE lq.{name} INCLUDING ALL)")
        total, t0 = 0, time.perf_counter()
        async with conn.transaction():
            for name, (cols, chunks, count, pkey) in data.items():
                collist = ", ".join(f'"{c}"' for c in cols)
                stage = f"CREATE TEMP TABLE stage_{name} (LIKE lq.{name}) ON COMMIT DROP"
                await conn.execute(stage)
                async with conn.cursor().copy(f"COPY stage_{name} ({collist}) FROM STDIN") as copy:
                    for chunk in chunks:
                        await copy.write(chunk)
                conflict = (
                    " ON CONFLICT ("
                    + ", ".join(f'"{c}"' for c in pkey)
                    + ") DO UPDATE SET "
                    + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in cols)
                    if pkey
                    else ""
                )
                await conn.execute(
                    f"INSERT INTO bench_raw.{name} ({collist})"
                    f" SELECT {collist} FROM stage_{name}{conflict}"
                )
                total += count
                print(f"  raw COPY {name}: {count} rows")
        return total, time.perf_counter() - t0


# ------------------------------------------------------------------------------ scenarios


async def list_latency(stack: Stack, token: str, requests: int) -> dict[str, dict[int, float]]:
    queries = {
        "first page (`/vms`)": "/api/v1/vms",
        "filtered (`state=running&limit=100`)": "/api/v1/vms?state=running&limit=100",
    }
    out: dict[str, dict[int, float]] = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for title, path in queries.items():
            times = []
            for i in range(requests + 5):
                t0 = time.perf_counter()
                async with http.get(stack.url + path) as r:
                    await r.read()
                    r.raise_for_status()
                if i >= 5:
                    times.append(time.perf_counter() - t0)
            out[title] = {p: round(load.pct(times, p) * 1000, 1) for p in (50, 95, 99)}
    return out


def machine() -> str:
    cpu = "unknown CPU"
    for row in Path("/proc/cpuinfo").read_text().splitlines():
        if row.startswith("model name"):
            cpu = row.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    load1 = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load average at the "
        f"end {load1:.1f}"
    )


async def baselines(args: argparse.Namespace) -> dict[str, Any]:
    """Only the projector baseline, ``--runs`` times (no stack, no append baseline)."""
    runs = []
    for i in range(args.runs):
        r = await projector_vs_copy(args.project_events)
        runs.append(r)
        print(
            f"projector vs COPY, run {i + 1}: {r['events']:,} events in {r['projector_s']:.2f} s"
            f" ({r['projector_eps']:,.0f}/s); {r['rows']:,} rows by COPY + upsert in"
            f" {r['copy_s']:.2f} s; ratio {r['ratio']:.2f} (load average"
            f" {os.getloadavg()[0]:.1f})"
        )
    return {"project_runs": runs}


async def scenarios(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.baselines_only:
        return await baselines(args)
    if not args.skip_baselines:
        checked, raw = await append.run(args.append_events, 5000, False)
        out["append"] = {"checked": checked, "raw": raw, "ratio": checked / raw}
        print(f"append: checked {checked:,.0f}/s raw {raw:,.0f}/s ratio {checked / raw:.2f}")
        out["project"] = await projector_vs_copy(args.project_events)
        print(f"projector vs COPY: {out['project']}")
    stack = start_stack(data)
    swarms: list[Any] = []
    try:
        token = await load.login(stack.url, data)
        t0 = time.perf_counter()
        swarms = start_swarm(
            stack, args.hosts, args.hosts_per_process, args.metrics_s, args.fetch_wait
        )
        deadline = time.monotonic() + 300
        while (up := await hosts_connected(stack, token)) < args.hosts:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        out["fleet"] = {"hosts_connected": up, "enrol_s": time.perf_counter() - t0}
        print(f"fleet: {up}/{args.hosts} hosts connected after {time.perf_counter() - t0:.1f}s")
        rss_before = stack.rss_mib("controlplane")
        async with load.Load(stack.url, token) as client:
            rate = await client.fill(args.vms, args.concurrency)
            fill = client.res
            out["fleet"].update(
                creates_per_s=rate,
                vms_running=len(client.running),
                fill=fill.summary(),
            )
            print(f"fleet: {args.vms} VMs created at {rate:.1f}/s, running {len(client.running)}")
            await asyncio.sleep(args.heartbeat_wait)
            out["fleet"]["hosts_connected_after"] = await hosts_connected(stack, token)
            out["lists"] = await list_latency(stack, token, args.requests)
            out["rss_mib"] = {n: stack.rss_mib(n) for n in ("controlplane", "projector")}
            out["rss_mib"]["controlplane_before_fill"] = rss_before
            print(f"lists: {out['lists']}  rss: {out['rss_mib']}")
            client.res = load.Result()
            idle0, t_idle = stack.cpu_s("controlplane"), time.perf_counter()
            await asyncio.sleep(5.0)  # the fleet alone: heartbeats, metrics, liveness checks
            idle = (stack.cpu_s("controlplane") - idle0) / (time.perf_counter() - t_idle)
            cpu0 = {n: stack.cpu_s(n) for n in ("controlplane", "projector")}
            sys0 = stack.cpu_s("controlplane", system_only=True)
            print(f"pids: {', '.join(f'{n} {p.pid}' for n, p in stack.procs.items())}")
            t_mixed = time.perf_counter()
            mixed = await client.run(args.duration, args.rate, args.concurrency)
            t_mixed = time.perf_counter() - t_mixed
            load.print_result("mixed lifecycle load", mixed)
            out["mixed"] = mixed.summary()
            ops = sum(mixed.succeeded.values())
            out["cpu_ms_per_op"] = {
                n: round((stack.cpu_s(n) - c) * 1000 / max(ops, 1), 2) for n, c in cpu0.items()
            }
            print(
                f"CPU per lifecycle op ({ops} ops): controlplane "
                f"{out['cpu_ms_per_op']['controlplane']} ms, projector "
                f"{out['cpu_ms_per_op']['projector']} ms (controlplane in the kernel: "
                f"{(stack.cpu_s('controlplane', system_only=True) - sys0) * 1000 / max(ops, 1):.2f}"
                " ms)"
            )
            net = out["cpu_ms_per_op"]["controlplane"] - idle * t_mixed * 1000 / max(ops, 1)
            out["cpu_ms_per_op"]["controlplane_net_of_idle"] = round(net, 2)
            print(
                f"controlplane CPU per lifecycle op net of the idle fleet's {idle * 1000:.0f} ms/s"
                f": {net:.2f} ms"
            )
            stages = await client.stages(50)
            out["stages_ms"] = {
                k: {p: round(load.pct(v, p) * 1000, 1) for p in (50, 95)} for k, v in stages.items()
            }
            print(f"stages: {out['stages_ms']}")
        stop_swarm(swarms)
        swarms = []
        bus = await Bus.connect(stack.nats.url, name="bench-report")
        try:
            out["stream_last_seq"] = await bus.store.last_seq()
        finally:
            await bus.close()
        stack.stop("controlplane")
        stack.start_controlplane()
        out["cold_start_s"] = stack.wait_ready(300)
        print(f"cold start on {out['stream_last_seq']} messages: {out['cold_start_s']:.1f}s")
    finally:
        stop_swarm(swarms)
        stack.close()
    out["machine"] = machine()
    return out


# ------------------------------------------------------------------------------ the doc


def _ms(d: dict[Any, float]) -> str:
    return " / ".join(f"{d[k]:,.1f}" for k in sorted(d, key=int))


def render(r: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    mixed, fleet, lists, rss = r["mixed"], r["fleet"], r["lists"], r["rss_mib"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = [
        "| scenario | target | measured (this run) |",
        "|---|---|---|",
        "| sustained mixed lifecycle ops | ≥ 300 ops/s, p99 request→succeeded < 1 s | "
        f"{mixed['lifecycle_ops_per_s']:,.1f} ops/s, request→succeeded p50/p95/p99 "
        f"{_ms(mixed['succeeded_ms'])} ms |",
        f"| fleet | 10,000 hosts heartbeating, 100,000 VMs | {fleet['hosts_connected_after']:,} "
        f"of {args.hosts:,} hosts connected, {args.vms:,} VMs created "
        f"({fleet['creates_per_s']:,.1f} creates/s) |",
    ]
    for title, d in lists.items():
        rows.append(f"| `GET` {title}, p50/p95/p99 | p95 < 100 ms (at 100,000 VMs) | {_ms(d)} ms |")
    rows.append(
        f"| controlplane RSS | < 1.5 GiB at 100,000 VMs | {rss['controlplane']:,.0f} MiB"
        f" ({rss['controlplane_before_fill']:,.0f} MiB before the VMs; projector "
        f"{rss['projector']:,.0f} MiB) |"
    )
    cold = f"{r['cold_start_s']:.1f} s on {r['stream_last_seq']:,} messages"
    if "project" in r:
        p = r["project"]
        rate = p["events"] / p["cache_replay_s"]
        cold += (
            f"; aggregate cache replay alone: {p['events']:,} events ({p['messages']:,} "
            f"messages) in {p['cache_replay_s']:.1f} s = {rate:,.0f} events/s, "
            f"{1_000_000 / rate:,.0f} s per 1,000,000 events"
        )
    rows.append(f"| cold start of the controlplane | < 60 s on 1,000,000 events | {cold} |")
    if "append" in r:
        a, p = r["append"], r["project"]
        rows.append(
            f"| append path vs raw `publish_async` | ≥ 0.7 | **{a['ratio']:.2f}** "
            f"({a['checked']:,.0f} vs {a['raw']:,.0f} events/s) |"
        )
        rows.append(
            f"| projector vs raw COPY upsert of the same rows | ≥ 0.5 | **{p['ratio']:.2f}** "
            f"({p['events']:,} events in {p['projector_s']:.1f} s; their {p['rows']:,} final "
            f"rows by COPY + upsert in {p['copy_s']:.2f} s) |"
        )
    return "\n".join(
        [
            BEGIN,
            f"Run {stamp}: {r['machine']}.",
            "",
            "```",
            command,
            "```",
            "",
            *rows,
            "",
            f"Mixed load: {mixed['duration_s']} s, issued {mixed['issued']}, failed "
            f"{mixed['failed']}, rejected {mixed['rejected']}, unfinished {mixed['unfinished']}; "
            f"`202` p50/p95/p99 {_ms(mixed['accepted_ms'])} ms; reads "
            f"{mixed['reads_per_s']}/s at p50/p95/p99 {_ms(mixed['read_ms'])} ms; "
            f"`202` → change feed p50/p95/p99 {_ms(mixed['visibility_ms'])} ms. Where the "
            "time went (50 sampled tasks, events' `occurred_at`, p50/p95): "
            + "; ".join(f"{k} {_ms(v)} ms" for k, v in r["stages_ms"].items())
            + ".",
            END,
        ]
    )


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Scale run (`bench/report.py`)\n\n" + section + "\n"
    DOC.write_text(text)


def invocation() -> str:
    """This run's command as printed in the report: the ``LQ_*`` settings it was given,
    its niceness and its arguments, so the report can be run again as it was."""
    env = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith("LQ_")
    )
    nice = os.nice(0)
    parts = [env, f"nice -n {nice}" if nice else "", ".venv/bin/python bench/report.py"]
    return " ".join(x for x in parts if x) + " " + shlex.join(sys.argv[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--vms", type=int, default=1000)
    p.add_argument("--duration", type=float, default=30.0, help="mixed load seconds")
    p.add_argument("--rate", type=float, default=0.0, help="mixed ops/s (0: closed loop)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--hosts-per-process", type=int, default=2500)
    p.add_argument("--metrics-s", type=float, default=10.0)
    p.add_argument(
        "--fetch-wait", type=float, default=LONG_PULL, help="hosts' order pull linger (s)"
    )
    p.add_argument("--requests", type=int, default=200, help="GET /vms samples per query")
    p.add_argument("--heartbeat-wait", type=float, default=3.0)
    p.add_argument("--append-events", type=int, default=20_000)
    p.add_argument("--project-events", type=int, default=50_000)
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument(
        "--baselines-only",
        action="store_true",
        help="only the projector vs raw COPY baseline, --runs times; no stack, no doc",
    )
    p.add_argument("--runs", type=int, default=1, help="runs of --baselines-only")
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    command = invocation()
    data = Path(tempfile.mkdtemp(prefix="lq-scale-"))
    # a SIGTERM (``timeout``) unwinds like Ctrl-C, so the servers and swarms are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        result = asyncio.run(scenarios(args, data))
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(result, indent=1, default=str))
    if args.baselines_only:
        return
    section = render(result, args, command)
    print(section)
    if args.write:
        write_doc(section)
    if args.keep:
        print(f"data kept in {data}")


if __name__ == "__main__":
    main()
