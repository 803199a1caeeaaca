"""Bad network and security-group input: problem+json 4xx and nothing appended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import Stack, StackFactory

NET = {"name": "n1", "type": "nat", "cidr": "10.70.0.0/24"}
RULE = {"direction": "ingress", "protocol": "tcp", "port_min": 80, "port_max": 80}


def n2(**kw: Any) -> dict[str, Any]:
    """A second network's body (a free subnet unless ``kw`` says otherwise)."""
    return {**NET, "name": "n2", "cidr": "10.71.0.0/24", **kw}


async def _refused(
    stack: Stack, method: str, path: str, body: Any, *, status: int = 422, slug: str
) -> None:
    before = (await stack.get("/ready"))["checks"]["stream_seq"]
    code, out, ctype = await stack.request(method, path, json=body)
    assert code == status, (body, code, out)
    assert "problem+json" in ctype
    assert out["type"].endswith(slug), out
    assert (await stack.get("/ready"))["checks"]["stream_seq"] == before, "something was appended"


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    s = await make_stack()
    code, out, _ = await s.request("POST", "/api/v1/networks", json=NET)
    assert code == 201, out
    await _settled(s, out["seq"])
    return s


async def _settled(s: Stack, seq: int) -> None:
    """Wait until the controlplane's stream position has ``seq`` (what was just made)."""
    for _ in range(100):
        if (await s.get("/ready"))["checks"]["stream_seq"] >= seq:
            break
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        (n2(cidr="10.70.0.128/25"), 422, "overlapping-subnet"),
        (n2(cidr="10.0.0.0/8"), 422, "overlapping-subnet"),
        (n2(gateway="10.72.0.1"), 422, "address-outside-subnet"),
        (n2(dhcp_start="10.71.1.2"), 422, "address-outside-subnet"),
        (n2(dhcp_start="10.71.0.9", dhcp_end="10.71.0.3"), 422, "invalid-dhcp-range"),
        (n2(cidr="10.71.0.300/24"), 422, "invalid-cidr"),
        (n2(cidr="hello"), 422, "invalid-cidr"),
        (n2(type="vlan", vlan_id=5000, bridge="br0"), 422, "invalid-vlan"),
        (n2(type="vlan", vlan_id=0, bridge="br0"), 422, "invalid-vlan"),
        (n2(type="bridge"), 422, "invalid-bridge"),
        (n2(type="mesh"), 422, "invalid-body"),
        (n2(colour="red"), 422, "invalid-body"),
        (n2(name="n1"), 409, "name-taken"),
    ],
)  # fmt: skip
async def test_bad_networks(stack: Stack, body: dict[str, Any], status: int, slug: str) -> None:
    await _refused(stack, "POST", "/api/v1/networks", body, status=status, slug=slug)


@pytest.mark.parametrize(
    ("rule", "slug"),
    [
        ({**RULE, "port_max": 65536}, "invalid-port"),
        ({**RULE, "port_min": -1}, "invalid-port"),
        ({**RULE, "port_min": 90, "port_max": 80}, "invalid-port"),
        ({**RULE, "cidr": "10.0.0.0/40"}, "invalid-cidr"),
        ({**RULE, "cidr": "a.b.c.d/8"}, "invalid-cidr"),
        (
            {**RULE, "remote_group_id": "0193ffff-0000-7000-8000-000000000001"},
            "unknown-remote-group",
        ),
        ({**RULE, "direction": "sideways"}, "invalid-body"),
        ({**RULE, "protocol": "sctp"}, "invalid-body"),
    ],
)
async def test_bad_rules(stack: Stack, rule: dict[str, Any], slug: str) -> None:
    body = {"name": "g", "rules": [rule]}
    await _refused(stack, "POST", "/api/v1/security-groups", body, slug=slug)


async def test_bad_rule_added_to_a_group_and_bad_changes(stack: Stack) -> None:
    code, group, _ = await stack.request("POST", "/api/v1/security-groups", json={"name": "g"})
    assert code == 201
    await _settled(stack, group["seq"])
    gid = f"/api/v1/security-groups/{group['group_id']}"
    await _refused(stack, "POST", f"{gid}/rules", {**RULE, "port_max": 70000}, slug="invalid-port")
    bad: dict[str, Any] = {"rules": [{**RULE, "cidr": "x"}]}
    await _refused(stack, "PATCH", gid, bad, slug="invalid-cidr")
    nid = "/api/v1/networks/" + (await stack.get("/api/v1/networks"))["items"][0]["id"]
    await _refused(stack, "PATCH", nid, {"dhcp_end": "10.99.0.1"}, slug="address-outside-subnet")
    bad = {"mac": "zz", "ip": "10.70.0.9"}
    await _refused(stack, "POST", f"{nid}/reservations", bad, slug="invalid-mac")
    nic = {"vm_id": "nope", "nic_id": "nic0"}
    await _refused(stack, "POST", f"{gid}/actions/apply", nic, status=404, slug="not-found")
