"""The pure libvirt XML builders, and that libvirt (test driver) accepts what they build."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from agent import netxml, simhost
from agent.hypervisor import Hypervisor
from agent.netserve import NetServer
from events import netsync as ns
from events.network import Reservation

NID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def spec(**kw: object) -> ns.NetworkSpec:
    args: dict[str, object] = {
        "network_id": NID,
        "name": "lan",
        "network_type": "nat",
        "cidr": "10.7.0.0/24",
        "gateway": "10.7.0.1",
        "dhcp_start": "10.7.0.2",
        "dhcp_end": "10.7.0.254",
        "hosts": [Reservation(mac="52:54:00:aa:bb:01", ip="10.7.0.9", name="web 1")],
    }
    return ns.NetworkSpec(**(args | kw))  # type: ignore[arg-type]


def test_nat_network_forwards_and_serves_dhcp_with_static_hosts() -> None:
    root = ET.fromstring(netxml.network_xml(spec(mtu=9000, dns=["1.1.1.1"])))
    assert root.findtext("name") == NID
    assert root.find("forward").get("mode") == "nat"  # type: ignore[union-attr]
    bridge = root.find("bridge")
    assert bridge is not None and bridge.get("name") == netxml.bridge_name(NID)
    assert len(netxml.bridge_name(NID)) <= 15
    assert root.find("mtu").get("size") == "9000"  # type: ignore[union-attr]
    assert root.find("dns/forwarder").get("addr") == "1.1.1.1"  # type: ignore[union-attr]
    ip = root.find("ip")
    assert ip is not None and (ip.get("address"), ip.get("prefix")) == ("10.7.0.1", "24")
    rng = ip.find("dhcp/range")
    assert rng is not None and (rng.get("start"), rng.get("end")) == ("10.7.0.2", "10.7.0.254")
    host = ip.find("dhcp/host")
    assert host is not None
    assert (host.get("mac"), host.get("ip"), host.get("name")) == (
        "52:54:00:aa:bb:01",
        "10.7.0.9",
        "web-1",
    )


def test_isolated_network_has_no_forward() -> None:
    root = ET.fromstring(netxml.network_xml(spec(network_type="isolated")))
    assert root.find("forward") is None
    assert root.find("ip/dhcp") is not None


def test_bridge_and_vlan_networks_join_the_host_bridge_without_dhcp() -> None:
    b = ET.fromstring(netxml.network_xml(spec(network_type="bridge", bridge="br0")))
    assert b.find("forward").get("mode") == "bridge"  # type: ignore[union-attr]
    assert b.find("bridge").get("name") == "br0"  # type: ignore[union-attr]
    assert b.find("ip") is None
    v = ET.fromstring(netxml.network_xml(spec(network_type="vlan", bridge="ovsbr0", vlan_id=42)))
    assert v.find("vlan/tag").get("id") == "42"  # type: ignore[union-attr]
    assert v.find("virtualport").get("type") == "openvswitch"  # type: ignore[union-attr]


def test_host_entries_and_the_rest_compare_apart() -> None:
    a = netxml.network_xml(spec())
    b = netxml.network_xml(spec(hosts=[]))
    assert netxml.without_hosts(a) == netxml.without_hosts(b)
    assert netxml.dhcp_hosts(a) == {"52:54:00:aa:bb:01": ("10.7.0.9", "web-1")}
    assert netxml.without_hosts(a) != netxml.without_hosts(netxml.network_xml(spec(mtu=1400)))


def _filter(rules: list[ns.FilterRule]) -> ET.Element:
    return ET.fromstring(netxml.filter_xml(ns.FilterSpec(group_id="g1", rules=rules)))


def test_filter_rules_in_order_then_default_deny_inbound() -> None:
    root = _filter(
        [
            ns.FilterRule(direction="ingress", protocol="tcp", port_min=22, port_max=22,
                          cidrs=["10.0.0.0/8"], anywhere=False),
            ns.FilterRule(direction="ingress", protocol="icmp"),
            ns.FilterRule(direction="ingress", protocol="tcp", port_min=5432, port_max=5432,
                          cidrs=["10.7.0.5/32", "10.7.0.6/32"], anywhere=False),
            ns.FilterRule(direction="ingress", protocol="udp", cidrs=[], anywhere=False),
        ]
    )  # fmt: skip
    assert root.get("name") == "lq-sg-g1"
    assert root.findtext("uuid") == netxml.filter_uuid("g1")
    rules = root.findall("rule")
    summary = [
        (r.get("action"), r.get("direction"), r.get("priority"), r[0].tag, dict(r[0].attrib))
        for r in rules
    ]
    assert summary[0] == (
        "accept",
        "in",
        "100",
        "udp",
        {"srcportstart": "67", "dstportstart": "68"},
    )
    assert summary[1] == (
        "accept", "in", "200", "tcp",
        {"srcipaddr": "10.0.0.0", "srcipmask": "8", "dstportstart": "22", "dstportend": "22"},
    )  # fmt: skip
    assert summary[2] == ("accept", "in", "201", "icmp", {})
    assert [s[4]["srcipaddr"] for s in summary[3:5]] == ["10.7.0.5", "10.7.0.6"]
    # the empty remote group matches nothing: no rule for it
    assert summary[5] == ("accept", "out", "900", "all", {})
    assert summary[6] == ("drop", "in", "1000", "all", {})


def test_egress_rules_make_outbound_default_deny() -> None:
    root = _filter(
        [ns.FilterRule(direction="egress", protocol="udp", port_min=53, port_max=53,
                       cidrs=["1.1.1.1/32"], anywhere=False)]
    )  # fmt: skip
    rules = root.findall("rule")
    assert rules[1].get("direction") == "out"
    assert rules[1][0].attrib == {
        "dstipaddr": "1.1.1.1", "dstipmask": "32", "dstportstart": "53", "dstportend": "53",
    }  # fmt: skip
    assert (rules[2].get("action"), rules[2].get("direction")) == ("drop", "out")


@pytest.fixture
def test_conn() -> Iterator[libvirt.virConnect]:
    conn = libvirt.open("test:///default")
    try:
        yield conn
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["isolated", "nat", "bridge"])
def test_the_test_driver_accepts_the_network_xml(test_conn: libvirt.virConnect, kind: str) -> None:
    s = spec(network_type=kind, bridge="br0" if kind == "bridge" else "")
    net = test_conn.networkDefineXML(netxml.network_xml(s))
    try:
        net.create()
        back = net.XMLDesc(0)
        assert netxml.without_hosts(back) == netxml.without_hosts(netxml.network_xml(s))
        if kind != "bridge":
            assert netxml.dhcp_hosts(back) == {"52:54:00:aa:bb:01": ("10.7.0.9", "web-1")}
    finally:
        net.destroy()
        net.undefine()


async def test_a_full_sync_removes_what_this_agent_realised_and_no_longer_exists(
    tmp_path: Path,
) -> None:
    uri = simhost.write_node_file(tmp_path, "net-host", cpus=2, memory_mib=2048)
    hv = await Hypervisor.open(uri)
    try:

        def names(conn: Any) -> set[str]:
            return {n.name() for n in conn.listAllNetworks()}

        def by_hand(conn: Any) -> None:  # an operator's network: never touched
            xml = "<network><name>ops</name><bridge name='opsbr0'/></network>"
            conn.networkDefineXML(xml)

        await hv.run(by_hand)
        before = await hv.run(names)
        assert "ops" in before
        server = NetServer(hv, "h1", tmp_path)
        keep = spec(
            network_id="keep", cidr="10.7.1.0/24", gateway="10.7.1.1", dhcp_start="10.7.1.2",
            dhcp_end="10.7.1.9", hosts=[],
        )  # fmt: skip
        drop = spec(network_id="drop", hosts=[])
        reply = await server.apply(ns.NetSync(networks=[keep, drop]))
        assert {r.state for r in reply.networks} == {"active"}, reply
        assert {"keep", "drop"} <= await hv.run(names)
        # a restarted agent remembers what it realised
        again = NetServer(hv, "h1", tmp_path)
        reply = await again.apply(ns.NetSync(networks=[keep], full=True))
        left = await hv.run(names)
        assert left == before | {"keep"}
        assert reply.errors == []  # the test driver has no nwfilters to list: not an error
    finally:
        await hv.close()
