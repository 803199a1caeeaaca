"""Placement on a real stack: a host that cannot reach a VM's pool is refused (at
creation and for a migration, with the reason in the record), and the hosts' measured
load, as published on ``lq.host.<id>.metrics``, is weighed and recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from events.base import new_id, utcnow
from events.bus import Bus
from events.metrics import HostSample, MetricsSample
from tests.integration.conftest import Stack, StackFactory
from tests.storage.helpers import make_pool, wait_pool


async def _publish(bus: Bus, host_id: str, pct: float) -> None:
    total = 8 * 1024 * 1024
    sample = MetricsSample(
        sample_id=new_id(),
        host_id=host_id,
        sampled_at=utcnow(),
        interval_s=5.0,
        host=HostSample(
            cpus=8, cpu_pct=pct, mem_total_kib=total, mem_used_kib=int(total * pct / 100)
        ),
    )
    await bus.publish_metrics(host_id, sample)


async def _sampled(stack: Stack, host_ids: set[str]) -> None:
    """Until the metrics projector shows a sample of each host (the controlplane's
    subscription got them by then: both listen to the same publications)."""
    for _ in range(200):
        latest = await stack.get("/api/v1/metrics/latest?kind=host&limit=50")
        if host_ids <= {row["host_id"] for row in latest["items"]}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the metrics samples never arrived")


async def _decision(stack: Stack, vm_id: str, kind: str) -> dict[str, Any]:
    placed = await stack.get(f"/api/v1/vms/{vm_id}/placement")
    return dict([d for d in placed["decisions"] if d["type"] == kind][-1])


async def test_pools_restrict_placement_and_measured_load_is_weighed(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(
        hosts=[(8, 8192), (8, 8192)], storage_allowed_roots=root, metrics_interval_s=0
    )
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    pool = await make_pool(stack, root, "local", host_ids=[h2])
    await wait_pool(stack, pool)

    # the pool is on sim-2 only: the VM goes there, and the record says why not sim-1
    made = await stack.command(
        "POST",
        "/api/v1/vms",
        json={"name": "db", "vcpus": 1, "memory_mib": 128,
              "disks": [{"size_gib": 1, "pool_id": pool}]},
    )  # fmt: skip
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    placed = await _decision(stack, made["vm_id"], "vm.placed")
    assert placed["host_id"] == h2
    assert placed["decision"]["rejected_by"] == {"pool": 1}
    refused = [c for c in placed["decision"]["candidates"] if not c["accepted"]]
    assert refused == [
        {"host_id": h1, "accepted": False, "reason": f"pool {pool} not attached to host sim-1"}
    ]
    # nor can it move there: the migration fails with the same reason
    moving = await stack.command("POST", f"/api/v1/vms/{made['vm_id']}/actions/migrate", json={})
    task = await stack.wait_task(moving["task_id"])
    assert task["state"] == "failed"
    assert f"pool {pool} not attached to host sim-1" in task["error"], task

    # measured load: sim-1 (emptier by allocation) is busy, sim-2 idle → sim-2 wins
    bus = await Bus.connect(stack.settings.nats_url, name="test-metrics")
    try:
        await _publish(bus, h1, 95.0)
        await _publish(bus, h2, 5.0)
        await _sampled(stack, {h1, h2})
    finally:
        await bus.close()
    web = await stack.command(
        "POST", "/api/v1/vms", json={"name": "web", "vcpus": 1, "memory_mib": 128}
    )
    assert (await stack.wait_task(web["task_id"]))["state"] == "succeeded"
    placed = await _decision(stack, web["vm_id"], "vm.placed")
    assert placed["host_id"] == h2
    decision = placed["decision"]
    assert decision["load_weight"] == stack.settings.placement_load_weight > 0
    shown = {c["host_id"]: c for c in decision["candidates"]}
    assert (shown[h2]["cpu_pct"], shown[h2]["mem_pct"], shown[h2]["load"]) == (5.0, 5.0, 0.05)
    assert (shown[h1]["cpu_pct"], shown[h1]["load"]) == (95.0, 0.95)
    assert 0 <= shown[h2]["load_age_s"] < stack.settings.load_max_age_s
