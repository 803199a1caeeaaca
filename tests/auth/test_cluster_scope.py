"""Cluster-scoped role bindings, enforced: allowed in the bound cluster, 403 elsewhere.

A user bound to ``operator`` on one cluster powers that cluster's VMs, maintains its hosts
and changes its settings; the same requests on another cluster's resources, a migration
into the other cluster, a VM pinned there, a fleet-wide list and anything outside every
cluster answer 403 — and the same user with a global ``viewer`` binding reads lists again.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.integration.conftest import Stack, StackFactory, make_stack  # noqa: F401

PASSWORD = "carol-password"


async def call(stack: Stack, token: str, method: str, path: str, body: Any = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    kw = {"json": body} if body is not None else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, stack.base + path, headers=headers, **kw) as resp,
    ):
        out = await resp.json(content_type=None)
        if resp.status == 403:
            assert out["type"] == "urn:limiquantix:problem:forbidden", out
        return resp.status


async def test_cluster_bound_operator(make_stack: StackFactory) -> None:  # noqa: F811
    stack = await make_stack(hosts=[(8, 8192), (8, 8192), (8, 8192)])
    h1, h2, h3 = [await stack.host_id(f"sim-{i}") for i in (1, 2, 3)]
    clusters: dict[str, str] = {}
    for name, host in (("blue", h1), ("red", h2), ("blue", h3)):
        if name in clusters:
            path = f"/api/v1/clusters/{clusters[name]}/actions/add-host"
            assert (await stack.request("POST", path, json={"host_id": host}))[0] == 200
            continue
        status, out, _ = await stack.request("POST", "/api/v1/clusters", json={"name": name})
        assert status == 201, out
        cid = out["cluster_id"]
        path = f"/api/v1/clusters/{cid}/actions/add-host"
        assert (await stack.request("POST", path, json={"host_id": host}))[0] == 200
        clusters[name] = cid
    blue, red = clusters["blue"], clusters["red"]
    vms: dict[str, str] = {}
    for name, host in (("vb", h1), ("vr", h2)):
        body = {"name": name, "vcpus": 1, "memory_mib": 64, "host_id": host}
        accepted = await stack.command("POST", "/api/v1/vms", json=body)
        assert (await stack.wait_task(accepted["task_id"]))["state"] == "succeeded"
        vms[name] = accepted["vm_id"]
    status, out, _ = await stack.request(
        "POST",
        "/api/v1/users",
        json={
            "username": "carol",
            "password": PASSWORD,
            "roles": [{"role": "operator", "scope": f"cluster:{blue}"}],
        },
    )
    assert status == 201, out
    carol = (await stack.login("carol", PASSWORD))["access_token"]

    # in her cluster: VM power, host maintenance, a cluster setting, reads of its items
    assert await call(stack, carol, "POST", f"/api/v1/vms/{vms['vb']}/actions/start") // 100 == 2
    assert (
        await call(stack, carol, "PATCH", f"/api/v1/clusters/{blue}", {"description": "b"}) // 100
        == 2
    )
    assert await call(stack, carol, "GET", f"/api/v1/vms/{vms['vb']}") // 100 == 2
    assert await call(stack, carol, "GET", f"/api/v1/clusters/{blue}") // 100 == 2
    pinned = {"name": "vb2", "vcpus": 1, "memory_mib": 64, "host_id": h1}
    assert await call(stack, carol, "POST", "/api/v1/vms", pinned) // 100 == 2
    # elsewhere: the other cluster's VM, host and settings
    assert await call(stack, carol, "POST", f"/api/v1/vms/{vms['vr']}/actions/start") == 403
    assert await call(stack, carol, "POST", f"/api/v1/hosts/{h2}/actions/enter-maintenance") == 403
    assert await call(stack, carol, "PATCH", f"/api/v1/clusters/{red}", {"description": "r"}) == 403
    assert await call(stack, carol, "GET", f"/api/v1/vms/{vms['vr']}") == 403
    # a body naming the other cluster: migrating there, pinning there, taking its host
    migrate = {"host_id": h2}
    assert (
        await call(stack, carol, "POST", f"/api/v1/vms/{vms['vb']}/actions/migrate", migrate) == 403
    )
    assert await call(stack, carol, "POST", "/api/v1/vms", {**pinned, "host_id": h2}) == 403
    take = {"host_id": h2}
    assert (
        await call(stack, carol, "POST", f"/api/v1/clusters/{blue}/actions/add-host", take) == 403
    )
    # not in any cluster: unplaced VMs, fleet-wide lists, clusters of her own making
    unplaced = {"name": "vx", "vcpus": 1, "memory_mib": 64}
    assert await call(stack, carol, "POST", "/api/v1/vms", unplaced) == 403
    assert await call(stack, carol, "GET", "/api/v1/vms") == 403
    assert await call(stack, carol, "POST", "/api/v1/clusters", {"name": "mine"}) == 403
    # host maintenance in her cluster (an empty host: nothing to evacuate)
    assert (
        await call(stack, carol, "POST", f"/api/v1/hosts/{h3}/actions/enter-maintenance") // 100
        == 2
    )

    # a global viewer binding adds the lists, not the other cluster's actions
    users = (await stack.get("/api/v1/users"))["items"]
    carol_id = next(u["id"] for u in users if u["username"] == "carol")
    status, out, _ = await stack.request(
        "POST", f"/api/v1/users/{carol_id}/role-bindings", json={"role": "viewer"}
    )
    assert status in (200, 201, 202), out
    assert await call(stack, carol, "GET", "/api/v1/vms") // 100 == 2
    assert await call(stack, carol, "GET", f"/api/v1/vms/{vms['vr']}") // 100 == 2
    assert await call(stack, carol, "POST", f"/api/v1/vms/{vms['vr']}/actions/start") == 403
