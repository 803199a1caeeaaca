"""Health endpoints: live, health, and ready only when its dependencies are."""

from __future__ import annotations

from tests.integration.conftest import StackFactory


async def test_health_live_ready(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    assert (await stack.get("/live"))["status"] == "live"
    assert (await stack.get("/health"))["status"] == "ok"
    ready = await stack.get("/ready")
    assert ready["status"] == "ready"
    assert ready["checks"]["nats"] and ready["checks"]["postgres"]
    assert ready["checks"]["projector_lag"] <= stack.settings.ready_max_lag


async def test_hosts_list_capacity_and_allocation(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(16, 32768), (8, 16384), (4, 8192)])
    hosts = {h["name"]: h for h in await stack.wait_hosts(3)}
    assert set(hosts) == {"sim-1", "sim-2", "sim-3"}
    assert (hosts["sim-2"]["cpus"], hosts["sim-2"]["memory_mib"]) == (8, 16384)
    for h in hosts.values():
        assert h["state"] == "connected"
        assert h["allocated_vcpus"] == 0 and h["vm_count"] == 0
        assert h["uri"].startswith("test:///")
