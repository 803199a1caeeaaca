"""End to end: libvirt test-driver counters → agent → LQ_METRICS → PostgreSQL → chart API."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.conftest import Stack, StackFactory

VM = {"name": "metered-1", "vcpus": 2, "memory_mib": 1024, "start": True}


async def _points(
    stack: Stack, path: str, key: str, *, at_least: float = 0.0, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll a metrics route until some point carries ``key`` (at least ``at_least``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    body: Any = None
    while asyncio.get_running_loop().time() < deadline:
        body = await stack.get(path)
        if any((p.get(key) or 0) >= at_least and p.get(key) is not None for p in body["points"]):
            return dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {key} at {path}: {body}")


async def test_vm_and_host_metrics_reach_the_chart_api(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 16384)], metrics_interval_s=0.3)
    accepted = await stack.command("POST", "/api/v1/vms", json=VM)
    assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"
    vm_id = accepted["vm_id"]
    host_id = await stack.host_id("sim-1")

    cpu = await _points(stack, f"/api/v1/vms/{vm_id}/metrics?metric=cpu&range=15m", "cpu_pct")
    assert cpu["resolution"] == "raw" and cpu["kind"] == "vm"
    assert [s["key"] for s in cpu["series"]] == ["cpu_pct", "cpu_max"]
    # the test driver's CPU time advances with the wall clock: one busy vCPU of two
    values = [p["cpu_pct"] for p in cpu["points"] if p.get("cpu_pct") is not None]
    assert all(0 <= v <= 100 for v in values) and max(values) > 20

    mem = await _points(
        stack, f"/api/v1/vms/{vm_id}/metrics?metric=memory&range=1h", "mem_total_mib"
    )
    assert any(p["mem_total_mib"] == 1024 for p in mem["points"])

    host = await _points(stack, f"/api/v1/hosts/{host_id}/metrics?metric=cpu&range=15m", "cpu_pct")
    assert any(p["cpu_pct"] and p["cpu_pct"] > 0 for p in host["points"])  # its guest's CPU
    # a simulated host has no node memory statistics: in use = memory of its running guests
    path = f"/api/v1/hosts/{host_id}/metrics?metric=memory&range=15m"
    hmem = await _points(stack, path, "mem_used_mib", at_least=1024)
    assert all(p["mem_total_mib"] == 16384 for p in hmem["points"])

    latest = await stack.get("/api/v1/metrics/latest?kind=vm")
    assert [i["id"] for i in latest["items"]] == [vm_id]
    assert latest["items"][0]["host_id"] == host_id
    hosts = await stack.get("/api/v1/metrics/latest?kind=host")
    assert hosts["items"][0]["mem_total_mib"] == 16384

    # a 30-day chart asks the hourly tier and still ends with the newest raw samples
    month = await _points(stack, f"/api/v1/vms/{vm_id}/metrics?metric=cpu&range=30d", "cpu_pct")
    assert month["resolution"] == "1h" and month["step_s"] >= 3600


async def test_metrics_routes_refuse_bad_queries(make_stack: StackFactory) -> None:
    stack = await make_stack()
    some = "0191f0c4-0000-7000-8000-000000000000"
    for query in ("metric=gpu", "range=2w", "points=5", "resolution=5s"):
        status, body, ctype = await stack.request("GET", f"/api/v1/vms/{some}/metrics?{query}")
        assert status == 400 and ctype == "application/problem+json", (query, body)
    status, _, _ = await stack.request("GET", "/api/v1/hosts/not-an-id/metrics")
    assert status == 404
    empty = await stack.get(f"/api/v1/hosts/{some}/metrics?metric=net&range=1d")
    assert empty["points"] == [] and empty["resolution"] == "1m"
