"""Faults under load: nothing accepted is lost, nothing doubled, the read model is the
replay, no invariant broken, every failure visible (docs/reliability.md).

The short run (default suite) injects each fault once; ``LQ_SLOW=1`` adds a soak with
faults drawn at random. ``bench/faults.py`` runs the same thing from the command line.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults import scenario
from tests.faults.harness import Api, Cluster, wait_ready
from tests.faults.workload import Workload

# small hosts (vCPUs, MiB), so that capacity is sometimes exhausted under the workload
HOSTS = [(2, 4096), (2, 4096), (1, 2048)]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path / "stack")
    try:
        await c.start(HOSTS)
        yield c
    finally:
        await c.close()


async def _run(cluster: Cluster, faults: list[str], rounds: int, workers: int) -> None:
    api = Api(cluster.base)
    workload = Workload(api, workers=workers, task_bound_s=cluster.timing.task_bound_s)
    try:
        await wait_ready(cluster, api)
        workload.start()
        report = await scenario.run_faults(cluster, api, workload, faults, random_rounds=rounds)
    finally:
        await workload.stop()
        await api.close()
    print("\n" + report.table())
    logs = {p.name: p.tail(1500) for p in cluster.procs()} if not report.ok else {}
    assert report.ok, report.table() + "\n" + "\n".join(f"== {k}\n{v}" for k, v in logs.items())
    assert report.accepted > 0
    assert report.final is not None and report.final.open_tasks == 0


@pytest.mark.timeout(240)
async def test_each_fault_once_under_load(cluster: Cluster) -> None:
    await _run(cluster, list(scenario.EACH), rounds=0, workers=4)


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_soak_random_faults(cluster: Cluster) -> None:
    rounds = int(os.environ.get("LQ_FAULT_ROUNDS", "30"))
    await _run(cluster, list(scenario.ALL), rounds=rounds, workers=6)
