"""What an idle simulated fleet costs: pull requests per second and CPU of the stack.

Starts the stack of ``bench/report.py`` (nats-server, PostgreSQL, controlplane, projector)
and ``--hosts`` simulated hosts (``bench/swarm.py``), waits until every host is
connected and ``--settle`` seconds more, then for ``--seconds`` counts the pull requests
that reach nats-server (a subscriber on ``$JS.API.CONSUMER.MSG.NEXT.>``: every consumer's
fetches, the hosts' order pulls and the controlplane's) and the CPU time that
nats-server, the controlplane and the swarm processes spend. No VM exists: this is the
floor every host adds before any operation.

    .venv/bin/python bench/idle.py --hosts 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

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


async def run(args: argparse.Namespace, data: Path) -> None:
    stack = start_stack(data)
    swarms = []
    try:
        token = await load.login(stack.url, data)
        swarms = start_swarm(stack, args.hosts, args.hosts_per_process, 10.0, args.fetch_wait)
        deadline = time.monotonic() + 300
        while (up := await hosts_connected(stack, token)) < args.hosts:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {up} of {args.hosts} hosts connected")
            await asyncio.sleep(1.0)
        await asyncio.sleep(args.settle)
        pids = {
            "nats-server": stack.nats.proc.pid,
            "controlplane": stack.procs["controlplane"].pid,
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
            t0 = time.monotonic()
            await asyncio.sleep(args.seconds)
            await nc.flush()
            took = time.monotonic() - t0
            after = {n: cpu_s(p) for n, p in pids.items()}
        finally:
            await nc.close()
        print(f"{args.hosts} idle hosts, order pull wait {args.fetch_wait:g} s, {took:.1f} s:")
        print(f"  pull requests: {pulls / took:,.1f}/s")
        for n in pids:
            print(f"  {n:13} {100 * (after[n] - before[n]) / took:5.1f} % of a core")
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
    args = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="lq-idle-"))
    try:
        asyncio.run(run(args, data))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
