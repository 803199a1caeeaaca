"""Clusters, resource pools, admission, host labels and affinity rules over HTTP."""

from __future__ import annotations

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import make_vm, vm_view


async def test_clusters_pools_and_admission(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)])
    h1, h2 = await stack.host_id("sim-1"), await stack.host_id("sim-2")
    status, made, _ = await stack.request(
        "POST", "/api/v1/clusters", json={"name": "prod", "drs": {"mode": "full", "threshold": 2}}
    )
    assert status == 201, made
    cid = made["cluster_id"]
    status, body, _ = await stack.request("POST", "/api/v1/clusters", json={"name": "prod"})
    assert status == 409
    status, body, _ = await stack.request(
        "POST", "/api/v1/clusters", json={"name": "x", "drs": {"threshold": 9}}
    )
    assert status == 422
    status, body, _ = await stack.request(
        "POST", f"/api/v1/clusters/{cid}/actions/add-host", json={"host_id": h2}
    )
    assert status == 200, body
    status, pool, _ = await stack.request(
        "POST",
        f"/api/v1/clusters/{cid}/resource-pools",
        json={"name": "gold", "cpu_limit": 3, "memory_limit_mib": 2048},
    )
    assert status == 201, pool
    pool_id = pool["pool_id"]
    # reservations beyond what the cluster's hosts hold are refused
    status, body, _ = await stack.request(
        "POST",
        f"/api/v1/clusters/{cid}/resource-pools",
        json={"name": "greedy", "memory_reservation_mib": 999999},
    )
    assert status == 409 and body["type"].endswith("pool-reservation"), body
    # a pool member is placed in the pool's cluster (sim-2), even though sim-1 is as empty
    vm_id = await make_vm(
        stack, name="pooled", resource_pool_id=pool_id, vcpus=2, memory_mib=1024, max_vcpus=0
    )
    vm = await vm_view(stack, vm_id)
    assert vm["host_id"] == h2 and vm["resource_pool_id"] == pool_id
    # admission: beyond the pool's limit → 409, nothing appended
    status, body, _ = await stack.request(
        "POST",
        "/api/v1/vms",
        json={"name": "too-much", "vcpus": 2, "memory_mib": 512, "resource_pool_id": pool_id},
    )
    assert status == 409 and body["type"].endswith("pool-limit"), body
    status, body, _ = await stack.request(
        "POST",
        "/api/v1/vms",
        json={"name": "nopool", "vcpus": 1, "memory_mib": 256, "resource_pool_id": "nope"},
    )
    assert status == 422
    detail = await stack.get(f"/api/v1/clusters/{cid}?min_seq={vm['seq']}")
    assert detail["name"] == "prod" and detail["drs"]["mode"] == "full"
    assert [h["id"] for h in detail["hosts"]] == [h2]
    assert [v["id"] for v in detail["vms"]] == [vm_id]
    [p] = detail["pools"]
    assert (p["name"], p["used_vcpus"], p["vm_count"]) == ("gold", 2, 1)
    listed = (await stack.get("/api/v1/clusters"))["items"]
    assert [(c["name"], c["host_count"]) for c in listed] == [("prod", 1)]
    # a cluster with hosts cannot be deleted; a pool with VMs neither
    status, _, _ = await stack.request("DELETE", f"/api/v1/clusters/{cid}")
    assert status == 409
    status, _, _ = await stack.request("DELETE", f"/api/v1/clusters/{cid}/resource-pools/{pool_id}")
    assert status == 409
    status, _, _ = await stack.request(
        "POST", f"/api/v1/clusters/{cid}/actions/remove-host", json={"host_id": h1}
    )
    assert status == 409


async def test_labels_and_affinity_rules_steer_placement(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192), (8, 8192)])
    h3 = await stack.host_id("sim-3")
    status, body, _ = await stack.request(
        "PATCH", f"/api/v1/hosts/{h3}", json={"labels": {"gpu": "yes"}}
    )
    assert status == 200, body
    vm_id = await make_vm(stack, name="gpu-vm", placement_labels={"gpu": "yes"})
    assert (await vm_view(stack, vm_id))["host_id"] == h3
    placement = await stack.get(f"/api/v1/vms/{vm_id}/placement")
    [d] = placement["decisions"]
    assert d["host_id"] == h3 and d["decision"]["rejected_by"] == {"labels": 2}

    a = await make_vm(stack, name="a1", start=True)
    b = await make_vm(stack, name="b1", start=True)
    status, rule, _ = await stack.request(
        "POST",
        "/api/v1/affinity-rules",
        json={"name": "together", "rule_type": "vm_affinity", "vm_ids": [a, b]},
    )
    assert status == 201, rule
    va, vb = await vm_view(stack, a), await vm_view(stack, b)
    if va["host_id"] != vb["host_id"]:
        # moving b to a's host is allowed by the rule; moving a elsewhere is not
        accepted = await stack.command(
            "POST", f"/api/v1/vms/{b}/actions/migrate", json={"host_id": va["host_id"]}
        )
        assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"
    accepted = await stack.command("POST", f"/api/v1/vms/{a}/actions/migrate", json={})
    task = await stack.wait_task(accepted["task_id"])
    assert task["state"] == "failed" and "together" in task["error"], task
    rules = (await stack.get("/api/v1/affinity-rules"))["items"]
    assert [r["name"] for r in rules] == ["together"]
    status, body, _ = await stack.request(
        "POST",
        "/api/v1/affinity-rules",
        json={"name": "bad", "rule_type": "vm_affinity", "vm_ids": [a, "ghost"]},
    )
    assert status == 422
    status, _, _ = await stack.request("DELETE", f"/api/v1/affinity-rules/{rule['rule_id']}")
    assert status == 200
