"""What an idle simulated fleet costs: pull requests per second and CPU of the stack.

Starts the stack of ``bench/report.py`` (nats-server, PostgreSQL, controlplane, projector)
and ``--hosts`` simulated hosts (``bench/swarm.py``), waits until every host is
connected and ``--settle`` seconds more, then for ``--seconds`` counts the pull requests
that reach nats-server (a subscriber on ``$JS.API.CONSUMER.MSG.NEXT.>``: every consumer's
fetches, the hosts' order pulls and the controlplane's) and the CPU time that
nats-server, the controlplane, the projector and the swarm processes spend, while a client
times the controlplane's ``/ready`` and ``GET /api/v1/hosts?limit=50`` twice a second (is
it still responsive under the fleet?). No VM exists: this is the floor every host adds
before any operation. ``--heartbeat-timeout`` sets the controlplane's
``heartbeat_timeout_s``; the simulated hosts beat as often as their enrolment reply says
(a fifth of it).

    .venv/bin/python bench/idle.py --hosts 500 --seconds 20
    .venv/bin/python bench/idle.py --hosts 10000 --hosts-per-process 5000 \
        --heartbeat-timeout 50 --metrics-s 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import nats
from nats.aio.msg import Msg

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.report import hosts_connected, start_stack, start_swarm, stop_swarm
from events.streaming import LONG_PULL

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def probe(url: str, token: str, stop: asyncio.Event) -> dict[str, list[float]]:
    """Time ``/ready`` and the first page of hosts twice a second until ``stop``."""
    took: dict[str, list[float]] = {"/ready": [], "/api/v1/hosts?limit=50": []}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        while not stop.is_set():
            for path, times in took.items():
                t0 = time.perf_counter()
                async with http.get(url + path) as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"{path} answered {r.status}")
                times.append(time.perf_counter() - t0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    return took


def spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy samples process ``pid`` for ``seconds`` into ``out`` (raw stacks)."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    args = ["-d", str(int(seconds)), "-r", "50", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(
        [py_spy, "record", "-p", str(pid), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def disconnects(data: Path) -> int:
    """How many times the controlplane has marked a host disconnected so far (its log)."""
    return (data / "controlplane.log").read_text(errors="replace").count(" disconnected: ")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace, data: Path) -> None:
    if args.heartbeat_timeout:
        os.environ["LQ_HEARTBEAT_TIMEOUT_S"] = str(args.heartbeat_timeout)
    stack = start_stack(data)
    swarms = []
    try:
        token = await load.login(stack.url, data)
        t0 = time.monotonic()
        extra = ("--no-leases",) if args.no_leases else ()
        swarms = start_swarm(
            stack, args.hosts, args.hosts_per_process, args.metrics_s, args.fetch_wait, extra=extra
        )
        deadline = time.monotonic() + args.enrol_timeout
        while (up := await hosts_connected(stack, token)) < args.hosts:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {up} of {args.hosts} hosts connected")
            await asyncio.sleep(1.0)
        print(f"{args.hosts} hosts enrolled and connected in {time.monotonic() - t0:.1f} s")
        await asyncio.sleep(args.settle)
        pids = {
            "nats-server": stack.nats.proc.pid,
            **{name: p.pid for name, p in stack.procs.items()},
            **{f"swarm-{i}": p.pid for i, p in enumerate(swarms)},
        }
        pulls = 0

        async def count(_: Msg) -> None:
            nonlocal pulls
            pulls += 1

        nc = await nats.connect(stack.nats.url)
        try:
            await nc.subscribe("$JS.API.CONSUMER.MSG.NEXT.>", cb=count)
            await nc.flush()
            before = {n: cpu_s(p) for n, p in pids.items()}
            flaps_before = disconnects(data)
            t0 = time.monotonic()
            stop = asyncio.Event()
            probing = asyncio.create_task(probe(stack.url, token, stop))
            profiled = [n for n in pids if n == "controlplane" or n.startswith("swarm")]
            profiled = profiled if args.py_spy else []
            spies = [spy(pids[n], args.seconds, Path(args.py_spy) / f"{n}.txt") for n in profiled]
            await asyncio.sleep(args.seconds)
            stop.set()
            await nc.flush()
            took = time.monotonic() - t0
            after = {n: cpu_s(p) for n, p in pids.items()}
            latency = await probing
            for profiler in spies:
                profiler.wait(30)
            up = await hosts_connected(stack, token)
        finally:
            await nc.close()
        print(
            f"{args.hosts} idle hosts ({up} connected at the end), heartbeat timeout"
            f" {args.heartbeat_timeout or 'default'}, metrics every {args.metrics_s:g} s,"
            f" HA leases {'off' if args.no_leases else 'on'},"
            f" order pull wait {args.fetch_wait:g} s, {took:.1f} s:"
        )
        print(f"  pull requests: {pulls / took:,.1f}/s")
        total = 0.0
        for n in pids:
            share = 100 * (after[n] - before[n]) / took
            total += share
            print(f"  {n:13} {share:5.1f} % of a core")
        print(f"  {'all':13} {total:5.1f} % of a core")
        for path, times in latency.items():
            print(
                f"  GET {path}: p50 {1000 * pct(times, 0.5):.1f} ms,"
                f" p95 {1000 * pct(times, 0.95):.1f} ms, max {1000 * max(times):.1f} ms"
                f" ({len(times)} requests)"
            )
        print(
            f"  hosts marked disconnected: {flaps_before} while enrolling,"
            f" {disconnects(data) - flaps_before} in the measured window"
        )
        print(f"  load average {os.getloadavg()[0]:.1f}")
    finally:
        stop_swarm(swarms)
        stack.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--hosts", type=int, default=500)
    p.add_argument("--hosts-per-process", type=int, default=2500)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--settle", type=float, default=5.0, help="seconds after all connected")
    p.add_argument("--fetch-wait", type=float, default=LONG_PULL, help="order pull linger (s)")
    p.add_argument(
        "--heartbeat-timeout", type=float, default=0.0, help="LQ_HEARTBEAT_TIMEOUT_S (0: default)"
    )
    p.add_argument("--metrics-s", type=float, default=10.0, help="each host's metrics period")
    p.add_argument("--no-leases", action="store_true", help="hosts renew no HA lease")
    p.add_argument("--py-spy", default="", help="profile controlplane and swarms into DIR")
    p.add_argument("--enrol-timeout", type=float, default=300.0, help="seconds to connect all")
    args = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="lq-idle-"))
    try:
        asyncio.run(run(args, data))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
