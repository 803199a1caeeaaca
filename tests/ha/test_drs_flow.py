"""DRS end to end: imbalanced hosts → a recommendation → apply → the VM migrated.

Two simulated hosts, four running VMs pinned to the first: the DRS pass (leader-only, a
short interval here) recommends moving VMs to the idle host; applying one through the
API opens a migration task that moves it. Rejecting another ends it; ``full`` mode
applies recommendations by itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import Stack, StackFactory


async def running(stack: Stack, name: str, host_id: str) -> str:
    body = {"name": name, "vcpus": 2, "memory_mib": 1024, "start": True, "host_id": host_id}
    made = await stack.command("POST", "/api/v1/vms", json=body)
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    return str(made["vm_id"])


async def recommendations(stack: Stack, state: str, at_least: int = 1) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while True:
            items = (await stack.get(f"/api/v1/drs/recommendations?state={state}"))["items"]
            if len(items) >= at_least:
                return list(items)
            await asyncio.sleep(0.2)


async def imbalanced(stack: Stack) -> tuple[str, str, list[str]]:
    await stack.add_host("sim-1", 8, 8192)
    await stack.add_host("sim-2", 8, 8192)
    await stack.wait_hosts(2)
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    vms = [await running(stack, f"busy-{i}", h1) for i in range(4)]
    return h1, h2, vms


@pytest.mark.timeout(180)
async def test_recommendation_apply_migrates(make_stack: StackFactory) -> None:
    stack = await make_stack(drs_interval_s=1.0, heartbeat_timeout_s=1.0)
    h1, h2, vms = await imbalanced(stack)
    recs = await recommendations(stack, "pending")
    rec = recs[0]
    assert rec["from_host_id"] == h1 and rec["to_host_id"] == h2
    assert rec["vm_id"] in vms and rec["from_host_name"] == "sim-1"
    assert 1 <= rec["priority"] <= 5 and rec["improvement"] > 0

    status, body, _ = await stack.request(
        "POST", f"/api/v1/drs/recommendations/{rec['id']}/actions/apply"
    )
    assert status == 202, body
    done = await stack.wait_task(body["task_id"], 60)
    assert done["state"] == "succeeded", done
    vm = await stack.get(f"/api/v1/vms/{rec['vm_id']}?min_seq={body['seq']}")
    async with asyncio.timeout(20):
        while vm["host_id"] != h2:
            await asyncio.sleep(0.2)
            vm = await stack.get(f"/api/v1/vms/{rec['vm_id']}")
    assert vm["state"] == "running"
    applied = await stack.get(f"/api/v1/drs/recommendations/{rec['id']}")
    assert applied["state"] == "applied" and applied["task_id"] == body["task_id"]

    # applying again: the recommendation has ended
    status, problem, _ = await stack.request(
        "POST", f"/api/v1/drs/recommendations/{rec['id']}/actions/apply"
    )
    assert status == 409 and problem["type"].endswith("recommendation-ended"), problem
    # reject another, unknown verbs and ids are refused
    others = [r for r in await recommendations(stack, "pending") if r["id"] != rec["id"]]
    if others:
        status, body, _ = await stack.request(
            "POST",
            f"/api/v1/drs/recommendations/{others[0]['id']}/actions/reject",
            json={"reason": "not now"},
        )
        assert status == 200 and body["state"] == "rejected", body
    status, _, _ = await stack.request(
        "POST", f"/api/v1/drs/recommendations/{rec['id']}/actions/explode"
    )
    assert status == 404
    status, _, _ = await stack.request("POST", "/api/v1/drs/recommendations/nope/actions/apply")
    assert status == 404


@pytest.mark.timeout(180)
async def test_full_mode_applies_by_itself(make_stack: StackFactory) -> None:
    stack = await make_stack(
        drs_interval_s=1.0, drs_mode="full", drs_threshold=1, heartbeat_timeout_s=1.0
    )
    _, h2, vms = await imbalanced(stack)
    applied = await recommendations(stack, "applied")
    assert applied[0]["automatic"] is True
    async with asyncio.timeout(60):
        while True:
            where = [(await stack.get(f"/api/v1/vms/{v}"))["host_id"] for v in vms]
            if h2 in where:
                break
            await asyncio.sleep(0.3)
