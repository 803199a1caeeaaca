"""The ``lq`` commands of the fleet against a real in-process stack: host maintenance,
removal and labels, VM migration and HA, clusters with resource pools, affinity rules and
DRS recommendations. Each is run the way a script would (``--wait``, ``-o json``) and its
effect read back through the CLI itself."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import make_vm
from tests.operate.test_client import Lq, signed_in


async def ok(lq: Lq, *args: str) -> dict[str, Any]:
    """Run a task command with --wait; it must succeed."""
    task: dict[str, Any] = await lq.json(*args, "--wait")
    assert task["state"] == "succeeded", (args, task)
    return task


async def _hosts(lq: Lq) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in (await lq.json("host", "list"))["items"]}


async def test_hosts_maintenance_removal_labels_migration_and_ha(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    lq = await signed_in(stack, tmp_path)
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")

    assert "rack=r1, ssd=yes" in (await lq("host", "label", "sim-1", "rack=r1", "ssd=yes")).stdout
    await lq("host", "label", "sim-1", "ssd-", "zone=a")
    assert (await _hosts(lq))["sim-1"]["labels"] == {"rack": "r1", "zone": "a"}
    await lq("host", "label", h1, "only=this", "--replace")
    assert (await _hosts(lq))["sim-1"]["labels"] == {"only": "this"}
    bad = await lq("host", "label", "sim-1", "nonsense", ok=False)
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output

    await make_vm(stack, name="web", start=True, host_id=h1)
    await ok(lq, "vm", "ha", "web", "--enable", "--priority", "10")
    vm = await lq.json("vm", "show", "web")
    assert (vm["ha_enabled"], vm["ha_priority"]) == (True, 10)
    await ok(lq, "vm", "ha", "web", "--disable")
    assert (await lq.json("vm", "show", "web"))["ha_enabled"] is False

    await ok(lq, "vm", "migrate", "web", "--host", "sim-2")
    assert (await lq.json("vm", "show", "web"))["host_id"] == h2
    moved = await ok(lq, "vm", "migrate", "web")  # placement picks the other host
    assert moved["operation"] == "vm.migrate"
    assert (await lq.json("vm", "show", "web"))["host_id"] == h1

    # removal: refused while the host has the VM, allowed after maintenance moved it
    web = (await lq.json("vm", "show", "web"))["id"]
    refused = await lq("host", "remove", "sim-1", ok=False)
    assert refused.exit_code == 1 and f"still has 1 VMs: {web}" in refused.output
    refused = await lq("host", "remove", "sim-2", ok=False)
    assert refused.exit_code == 1 and "maintenance first" in refused.output
    accepted = await lq("host", "maintenance", "enter", "sim-1")
    assert "moving 1 VMs away" in accepted.stdout and "accepted: task" in accepted.stdout
    task_id = accepted.stdout.split("accepted: task ")[1].split()[0]
    await ok(lq, "task", "show", task_id)
    assert (await _hosts(lq))["sim-1"]["state"] == "maintenance"
    assert (await lq.json("vm", "show", "web"))["host_id"] == h2
    await ok(lq, "host", "maintenance", "exit", "sim-1")
    assert (await _hosts(lq))["sim-1"]["state"] == "connected"
    await ok(lq, "host", "maintenance", "enter", "sim-1")
    removed = await lq.json("host", "remove", "sim-1")
    assert (removed["host_id"], removed["forced"]) == (h1, False)
    assert list(await _hosts(lq)) == ["sim-2"]
    gone = await lq("host", "remove", "sim-1", ok=False)
    assert gone.exit_code == 1 and "no host 'sim-1'" in gone.output


async def test_clusters_pools_and_affinity_rules(make_stack: StackFactory, tmp_path: Path) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    lq = await signed_in(stack, tmp_path)
    h1 = await stack.host_id("sim-1")

    made = await lq("cluster", "create", "prod", "--drs-mode", "partial", "--ha")
    assert "cluster_id:" in made.stdout
    await lq("cluster", "add-host", "prod", "sim-1")
    [listed] = (await lq.json("cluster", "list"))["items"]
    assert (listed["name"], listed["host_count"], listed["drs"]["mode"]) == ("prod", 1, "partial")
    assert listed["ha"]["enabled"] is True
    table = (await lq("cluster", "list")).stdout
    assert "prod" in table and "partial" in table
    shown = await lq.json("cluster", "show", "prod")
    assert [h["id"] for h in shown["hosts"]] == [h1]
    dup = await lq("cluster", "create", "prod", ok=False)
    assert dup.exit_code == 1 and "exists" in dup.output

    pool = await lq.json("cluster", "pool", "create", "prod", "gold", "--cpu-limit", "4")
    assert pool["pool_id"]
    [p] = (await lq.json("cluster", "pool", "list", "prod"))["items"]
    assert (p["name"], p["cpu_limit"], p["vm_count"]) == ("gold", 4, 0)
    assert "gold" in (await lq("cluster", "pool", "list", "prod")).stdout
    await lq("cluster", "pool", "delete", "prod", "gold")
    assert (await lq.json("cluster", "pool", "list", "prod"))["items"] == []

    # join tokens: the secret printed once (never listed), paged like every list, revoked
    made = await lq("host", "join-token", "create", "--label", "rack-2", "--cluster", "prod",
                    "--host-label", "rack=r2", "--expires-in", "3600")  # fmt: skip
    secret = made.stdout.split("token:", 1)[1].split()[0]
    assert secret.startswith("lqj_") and "shown only now" in made.stdout
    spare = await lq.json("host", "join-token", "create", "--label", "spare")
    assert spare["token"].startswith("lqj_") and spare["cluster_id"] is None
    listed = await lq.json("host", "join-token", "list")
    assert {t["label"]: (t["state"], t["cluster_id"], t["labels"]) for t in listed["items"]} == {
        "rack-2": ("active", shown["id"], {"rack": "r2"}),
        "spare": ("active", None, {}),
    }
    assert secret not in json.dumps(listed) and spare["token"] not in json.dumps(listed)
    first = await lq("host", "join-token", "list", "--limit", "1", "--sort", "label")
    assert "rack-2" in first.stdout and "spare" not in first.stdout
    cursor = first.output.rsplit("--cursor ", 1)[1].split(")")[0]
    rest = await lq.json("host", "join-token", "list", "--limit", "1", "--sort", "label",
                         "--cursor", cursor)  # fmt: skip
    assert [t["label"] for t in rest["items"]] == ["spare"] and rest["next_cursor"] is None
    assert "revoked" in (await lq("host", "join-token", "revoke", spare["token_id"])).stdout
    revoked = await lq.json("host", "join-token", "list", "--state", "revoked")
    assert [t["id"] for t in revoked["items"]] == [spare["token_id"]]
    unknown_token = await lq("host", "join-token", "revoke", "no-such-token", ok=False)
    assert unknown_token.exit_code == 1 and "404" in unknown_token.output

    busy = await lq("cluster", "delete", "prod", ok=False)
    assert busy.exit_code == 1 and "409" in busy.output
    await lq("cluster", "remove-host", "prod", "sim-1")
    await lq("cluster", "delete", "prod")
    assert (await lq.json("cluster", "list"))["items"] == []

    a = await make_vm(stack, name="a")
    b = await make_vm(stack, name="b")
    rule = await lq.json("affinity", "create", "apart", "--type", "vm_anti_affinity",
                         "--vm", "a", "--vm", b, "--enforcement", "should")  # fmt: skip
    [r] = (await lq.json("affinity", "list"))["items"]
    assert (r["id"], r["vm_ids"], r["enforcement"]) == (rule["rule_id"], [a, b], "should")
    pinned = await lq.json("affinity", "create", "on-1", "--type", "vm_host", "--vm", "a",
                           "--host", "sim-1", "--disabled")  # fmt: skip
    rules = {x["name"]: x for x in (await lq.json("affinity", "list"))["items"]}
    assert rules["on-1"]["host_ids"] == [h1] and rules["on-1"]["enabled"] is False
    by_name = await lq.json("affinity", "list", "--limit", "1", "--sort", "-name")
    assert [x["name"] for x in by_name["items"]] == ["on-1"] and by_name["next_cursor"]
    after = await lq.json("affinity", "list", "--limit", "1", "--sort", "-name",
                          "--cursor", by_name["next_cursor"])  # fmt: skip
    assert [x["name"] for x in after["items"]] == ["apart"]
    assert "vm_anti_affinity" in (await lq("affinity", "list")).stdout
    await lq("affinity", "delete", "apart")
    await lq("affinity", "delete", pinned["rule_id"])
    assert (await lq.json("affinity", "list"))["items"] == []
    unknown = await lq("affinity", "create", "x", "--type", "vm_affinity", "--vm", "nope", ok=False)
    assert unknown.exit_code == 1 and "no VM 'nope'" in unknown.output


async def _recommendations(lq: Lq, state: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while True:
            items = (await lq.json("drs", "list", "--state", state))["items"]
            if items:
                return list(items)
            await asyncio.sleep(0.3)


@pytest.mark.timeout(180)
async def test_drs_recommendations(make_stack: StackFactory, tmp_path: Path) -> None:
    stack = await make_stack(drs_interval_s=1.0, heartbeat_timeout_s=1.0)
    await stack.add_host("sim-1", 8, 8192)
    await stack.add_host("sim-2", 8, 8192)
    await stack.wait_hosts(2)
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    lq = await signed_in(stack, tmp_path)
    for i in range(4):
        await make_vm(stack, name=f"busy-{i}", start=True, host_id=h1, vcpus=2, memory_mib=1024)
    pending = await _recommendations(lq, "pending")
    rec = pending[0]
    assert (rec["from_host_id"], rec["to_host_id"]) == (h1, h2)
    assert rec["id"] in (await lq("drs", "list")).stdout
    assert "approved" in (await lq("drs", "approve", rec["id"])).stdout
    task = await ok(lq, "drs", "apply", rec["id"])
    assert task["operation"] == "vm.migrate"
    [applied] = [
        r
        for r in (await lq.json("drs", "list", "--state", "applied"))["items"]
        if r["id"] == rec["id"]
    ]
    assert applied["task_id"] == task["id"]
    ended = await lq("drs", "reject", rec["id"], "--reason", "too late", ok=False)
    assert ended.exit_code == 1 and "409" in ended.output
