"""``lq network`` and ``lq sg`` against a real in-process stack (one simulated host)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import StackFactory
from tests.operate.test_client import signed_in


async def test_network_and_security_group_commands(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    stack = await make_stack(hosts=[(4, 4096)])
    lq = await signed_in(stack, tmp_path)
    out = await lq("network", "create", "lan", "--type", "nat", "--cidr", "10.80.0.0/24",
                   "--dns", "1.1.1.1", "--mtu", "1400")  # fmt: skip
    assert out.output.startswith("network_id: ")
    nets = await lq.json("network", "list", "--type", "nat")
    (net,) = nets["items"]
    assert (net["name"], net["cidr"], net["dns"], net["mtu"]) == (
        "lan",
        "10.80.0.0/24",
        ["1.1.1.1"],
        1400,
    )
    assert (await lq.json("network", "list", "--type", "vlan"))["items"] == []
    table = (await lq("network", "list")).output
    assert "10.80.0.2-10.80.0.254" in table
    bad = await lq("network", "create", "lan2", "--cidr", "10.80.0.0/16", ok=False)
    assert bad.exit_code != 0 and "overlaps" in bad.output

    await lq("sg", "create", "db")
    await lq("sg", "create", "web", "--description", "front ends")
    await lq("sg", "rule-add", "web", "--ports", "443")
    rule = await lq("sg", "rule-add", "web", "--ports", "5432", "--remote-group", "db",
                    "--direction", "egress")  # fmt: skip
    rule_id = rule.output.split("rule_id: ")[1].strip()
    bad = await lq("sg", "rule-add", "web", "--ports", "10-5", ok=False)
    assert bad.exit_code != 0 and "port_min" in bad.output
    listed = (await lq("sg", "list")).output
    assert " 1 in  tcp:443-443 anywhere" in listed
    assert " 2 out tcp:5432-5432 group db" in listed
    await lq("sg", "rule-remove", "web", rule_id)
    groups = await lq.json("sg", "list")
    web = next(g for g in groups["items"] if g["name"] == "web")
    assert [r["port_min"] for r in web["rules"]] == [443]
    await lq("sg", "delete", "web")
    await lq("network", "delete", "lan")
    assert (await lq.json("network", "list"))["items"] == []
