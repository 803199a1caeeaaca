"""Schemathesis against ``/api/openapi.json`` over every operation of a running stack:
zero 5xx and zero answers that break the documented schema (docs/reliability.md).

The stack is real (NATS, PostgreSQL, the controlplane on HTTP, the projector and two
simulated hosts); real resources are seeded first so generated requests also reach the
handlers with ids that exist. The default run sends a bounded number of examples per
operation and pass (``EXAMPLES``, or ``LQ_FUZZ_EXAMPLES``); ``LQ_SLOW=1`` adds a long run
(``LQ_FUZZ_EXAMPLES``, default 100).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from lq.embedded import free_port
from tests.faults.apifuzz import Fuzzer, Report
from tests.integration.conftest import Stack, StackFactory

EXAMPLES = 8


async def _created(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer, _ = await stack.request("POST", path, json=body)
    assert status in (201, 202), (path, status, answer)
    assert isinstance(answer, dict)
    return answer


async def seed(stack: Stack, hook_url: str) -> tuple[dict[str, str], str]:
    """Real resources for path parameters, and the fuzzer's own API token."""
    vm = await _created(
        stack,
        "/api/v1/vms",
        {
            "name": "fz-vm",
            "vcpus": 1,
            "memory_mib": 128,
            "disks": [{"size_gib": 1}, {"size_gib": 1}],
            "nics": [{}, {}],
            "start": True,
        },
    )
    assert (await stack.wait_task(vm["task_id"]))["state"] == "succeeded"
    snap = await _created(stack, f"/api/v1/vms/{vm['vm_id']}/snapshots", {"name": "fz-snap"})
    assert (await stack.wait_task(snap["task_id"]))["state"] == "succeeded"
    perms = [p["name"] for p in (await stack.get("/api/v1/permissions"))["permissions"]]
    user = await _created(
        stack, "/api/v1/users", {"username": "fz-user", "password": "fz-user-password-1"}
    )
    await _created(stack, "/api/v1/roles", {"name": "fz-role", "permissions": ["vm.read"]})
    target = await _created(stack, "/api/v1/tokens", {"name": "fz-target", "scopes": ["vm.read"]})
    mine = await _created(stack, "/api/v1/tokens", {"name": "fz", "scopes": perms})
    hook = await _created(stack, "/api/v1/webhooks", {"name": "fz-hook", "url": hook_url})
    silence = await _created(stack, "/api/v1/silences", {"duration_s": 3600, "comment": "fz"})
    more = await seed_fleet(stack, vm["vm_id"])
    ids = {
        **more,
        "vms": vm["vm_id"],
        "snapshot_id": snap["snapshot_id"],
        "disk_id": "disk1",
        "nic_id": "nic1",
        "kind": "serial",
        "hosts": await stack.host_id("sim-1"),
        "tasks": vm["task_id"],
        "users": user["user_id"],
        "roles": "fz-role",
        "tokens": target["token_id"],
        "webhooks": hook["webhook_id"],
        "silences": silence["silence_id"],
    }
    return ids, str(mine["token"])


async def seed_fleet(stack: Stack, vm_id: str) -> dict[str, str]:
    """A storage pool (a local directory) with a volume, a network with a reservation, a
    security group with a rule, a cluster with a resource pool and an affinity rule."""
    pool = await _created(
        stack,
        "/api/v1/storage-pools",
        {
            "name": "fz-pool",
            "type": "dir",
            "params": {"path": "/var/lib/limiquantix/pools/fz"},  # the test driver's, in memory
            "host_ids": [await stack.host_id("sim-1")],
            "capacity_gib": 100,
        },
    )
    volume = await _created(
        stack, "/api/v1/volumes", {"pool_id": pool["pool_id"], "name": "fz-vol", "size_gib": 1}
    )
    net = await _created(
        stack,
        "/api/v1/networks",
        {
            "name": "fz-net",
            "type": "nat",
            "cidr": "10.77.0.0/24",
            "reservations": [{"mac": "52:54:00:fe:00:01", "ip": "10.77.0.10"}],
        },
    )
    group = await _created(stack, "/api/v1/security-groups", {"name": "fz-sg"})
    rule = await _created(
        stack,
        f"/api/v1/security-groups/{group['group_id']}/rules",
        {"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22},
    )
    cluster = await _created(stack, "/api/v1/clusters", {"name": "fz-cluster"})
    rpool = await _created(
        stack, f"/api/v1/clusters/{cluster['cluster_id']}/resource-pools", {"name": "fz-rp"}
    )
    affinity = await _created(
        stack,
        "/api/v1/affinity-rules",
        {
            "name": "fz-rule",
            "rule_type": "vm_host",
            "enforcement": "should",
            "vm_ids": [vm_id],
            "host_ids": [await stack.host_id("sim-1"), await stack.host_id("sim-2")],
        },
    )
    return {
        "storage-pools": pool["pool_id"],
        "volumes": volume["volume_id"],
        "networks": net["network_id"],
        "networks:mac": "52:54:00:fe:00:01",
        "security-groups": group["group_id"],
        "security-groups:rule_id": rule["rule_id"],
        "clusters": cluster["cluster_id"],
        "clusters:pool_id": rpool["pool_id"],
        "affinity-rules": affinity["rule_id"],
    }


async def fuzz(make_stack: StackFactory, examples: int) -> Report:
    stack = await make_stack(hosts=[(8, 16384), (8, 16384)])
    hook_url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    ids, token = await seed(stack, hook_url)
    document = await stack.get("/api/openapi.json")
    fuzzer = Fuzzer(stack.base, token, ids, examples, hook_url)
    try:
        # schemathesis is synchronous: it runs in a thread while this loop serves the stack
        report = await asyncio.to_thread(fuzzer.run, document)
    finally:
        fuzzer.stop.set()
    print("\n" + report.summary())
    assert report.operations and sum(report.requests.values()) > len(report.operations)
    await read_model_caught_up(stack)
    return report


async def read_model_caught_up(stack: Stack, timeout: float = 30.0) -> None:
    """Whatever the fuzzer got accepted, the projector applied it (claim 3): an event the
    read model cannot hold would stop it at that sequence for good."""
    checks: dict[str, Any] = {}
    for _ in range(int(timeout / 0.2)):
        checks = (await stack.get("/ready"))["checks"]
        if checks["projector_lag"] == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the read model stopped short of the event log: {checks}")


@pytest.mark.timeout(600)
async def test_every_operation_answers_as_documented(make_stack: StackFactory) -> None:
    report = await fuzz(make_stack, int(os.environ.get("LQ_FUZZ_EXAMPLES", EXAMPLES)))
    assert not report.findings, report.summary()


@pytest.mark.slow
@pytest.mark.timeout(7200)
async def test_every_operation_answers_as_documented_long(make_stack: StackFactory) -> None:
    report = await fuzz(make_stack, int(os.environ.get("LQ_FUZZ_EXAMPLES", "100")))
    assert not report.findings, report.summary()
