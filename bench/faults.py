"""Fault-injection soak: a real LimiQuantix deployment under load, hurt again and again.

Starts nats-server, PostgreSQL, the controlplane, the projector and three agents as real
processes (``tests.faults.harness``), runs the mixed HTTP workload, injects every fault
once and then ``--rounds`` faults drawn at random, checks the claims after each
(docs/reliability.md) and prints the figures table. Exit status 1 when a claim broke.

    .venv/bin/python bench/faults.py --rounds 30 --workers 6
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness is in tests/

from tests.faults import scenario
from tests.faults.harness import Api, Cluster, Timing, wait_ready
from tests.faults.workload import Workload

HOSTS = [(2, 4096), (2, 4096), (1, 2048)]


async def main(args: argparse.Namespace) -> int:
    root = Path(args.dir or tempfile.mkdtemp(prefix="lq-faults-"))
    cluster = Cluster(root, Timing(order_timeout_s=args.order_timeout))
    await cluster.start(HOSTS)
    api = Api(cluster.base)
    workload = Workload(
        api, workers=args.workers, task_bound_s=cluster.timing.task_bound_s, seed=args.seed
    )
    try:
        await wait_ready(cluster, api)
        workload.start()
        faults = list(scenario.ALL if args.all else scenario.EACH)
        report = await scenario.run_faults(
            cluster, api, workload, faults, random_rounds=args.rounds, seed=args.seed
        )
    finally:
        await workload.stop()
        await api.close()
        await cluster.close()
    print(report.table())
    print(f"logs: {root / 'logs'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=30, help="random faults after each one once")
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--order-timeout", type=float, default=10.0)
    p.add_argument("--all", action="store_true", help="also SIGSTOP controlplane/projector/nats")
    p.add_argument("--dir", default=None, help="keep the deployment's files here")
    sys.exit(asyncio.run(main(p.parse_args())))
