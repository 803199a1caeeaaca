"""Networks and security groups on a real libvirtd (marker ``qemu``).

What the agent's ``hv_network`` does, checked with ``virsh`` as an operator would: a NAT
network with its DHCP range and static hosts (and a host entry added live), an nwfilter
built from a security group whose rules ``virsh nwfilter-dumpxml`` shows, and the filter
referenced from a defined domain's NIC. Everything is named ``lq-h9t-…`` and removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import libvirt
import msgspec
import pytest

from agent import hv_network, netxml
from events import netsync as ns
from events.network import Reservation

pytestmark = pytest.mark.qemu


def virsh(uri: str, *args: str) -> str:
    return subprocess.run(
        ["virsh", "-c", uri, *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


@pytest.fixture
def conn(qemu_uri: str) -> Iterator[libvirt.virConnect]:
    c = libvirt.open(qemu_uri)
    try:
        yield c
    finally:
        c.close()


def _free_subnet(conn: libvirt.virConnect) -> str:
    used = []
    for net in conn.listAllNetworks():
        for ip in ET.fromstring(net.XMLDesc(0)).iterfind("ip"):
            if ip.get("address") and ip.get("prefix"):
                used.append(
                    ipaddress.ip_network(f"{ip.get('address')}/{ip.get('prefix')}", strict=False)
                )
    for third in range(200, 250):
        candidate = ipaddress.ip_network(f"10.{third}.77.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise AssertionError("no free 10.x.77.0/24 subnet on this host")


@pytest.fixture
def names(conn: libvirt.virConnect) -> Iterator[dict[str, str]]:
    tag = "lq-h9t-" + secrets.token_hex(4)
    out = {"network": tag + "-net", "group": tag, "domain": tag + "-vm"}
    try:
        yield out
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.lookupByName(out["domain"]).undefine()
        hv_network.remove_filter(conn, ns.filter_name(out["group"]))
        hv_network.remove_network(conn, out["network"])


def test_nat_network_with_dhcp_range_and_hosts(
    conn: libvirt.virConnect, names: dict[str, str], qemu_uri: str
) -> None:
    net = ipaddress.ip_network(_free_subnet(conn))
    hosts = list(net.hosts())
    spec = ns.NetworkSpec(
        network_id=names["network"],
        name="h9t",
        network_type="nat",
        cidr=str(net),
        gateway=str(hosts[0]),
        dhcp_start=str(hosts[9]),
        dhcp_end=str(hosts[99]),
        hosts=[Reservation(mac="52:54:00:9a:00:01", ip=str(hosts[9]), name="first")],
        mtu=1400,
    )
    assert hv_network.ensure_network(conn, spec) == ("active", "")
    dumped = ET.fromstring(virsh(qemu_uri, "net-dumpxml", names["network"]))
    assert dumped.find("forward").get("mode") == "nat"  # type: ignore[union-attr]
    rng = dumped.find("ip/dhcp/range")
    assert rng is not None
    assert (rng.get("start"), rng.get("end")) == (str(hosts[9]), str(hosts[99]))
    assert dumped.find("mtu").get("size") == "1400"  # type: ignore[union-attr]
    assert (
        "yes" in virsh(qemu_uri, "net-info", names["network"]).split("Autostart:")[1].split("\n")[0]
    )

    # a new allocation reaches the running network in place (virNetworkUpdate, live + config)
    second = Reservation(mac="52:54:00:9a:00:02", ip=str(hosts[10]), name="second")
    more = msgspec.structs.replace(spec, hosts=[*spec.hosts, second])
    assert hv_network.ensure_network(conn, more) == ("active", "")
    live = netxml.dhcp_hosts(virsh(qemu_uri, "net-dumpxml", names["network"]))
    persistent = netxml.dhcp_hosts(virsh(qemu_uri, "net-dumpxml", "--inactive", names["network"]))
    assert (
        live
        == persistent
        == {
            "52:54:00:9a:00:01": (str(hosts[9]), "first"),
            "52:54:00:9a:00:02": (str(hosts[10]), "second"),
        }
    )
    # and a release takes it away again
    assert hv_network.ensure_network(conn, spec) == ("active", "")
    assert set(netxml.dhcp_hosts(virsh(qemu_uri, "net-dumpxml", names["network"]))) == {
        "52:54:00:9a:00:01"
    }


def _rules(xml: str) -> list[tuple[str | None, str | None, str | None, str, dict[str, str]]]:
    return [
        (r.get("action"), r.get("direction"), r.get("priority"), r[0].tag, dict(r[0].attrib))
        for r in ET.fromstring(xml).findall("rule")
    ]


def test_security_group_nwfilter_and_nic_filterref(
    conn: libvirt.virConnect, names: dict[str, str], qemu_uri: str
) -> None:
    group = ns.FilterSpec(
        group_id=names["group"],
        rules=[
            ns.FilterRule(direction="ingress", protocol="tcp", port_min=22, port_max=22,
                          cidrs=["10.0.0.0/8"], anywhere=False),
            ns.FilterRule(direction="ingress", protocol="tcp", port_min=80, port_max=443),
            ns.FilterRule(direction="ingress", protocol="icmp"),
            ns.FilterRule(direction="egress", protocol="udp", port_min=53, port_max=53,
                          cidrs=["10.1.2.3/32"], anywhere=False),
        ],
    )  # fmt: skip
    hv_network.define_filter(conn, group)
    name = ns.filter_name(names["group"])
    dumped = virsh(qemu_uri, "nwfilter-dumpxml", name)
    assert ET.fromstring(dumped).get("name") == name
    assert _rules(dumped) == _rules(netxml.filter_xml(group))
    rules = _rules(dumped)
    assert rules[1][:4] == ("accept", "in", "200", "tcp")
    assert rules[1][4]["srcipaddr"] == "10.0.0.0" and rules[1][4]["dstportstart"] == "22"
    assert rules[2][4] == {"dstportstart": "80", "dstportend": "443"}
    assert rules[4][:4] == ("accept", "out", "203", "udp")
    assert rules[-2][:2] == ("drop", "out") and rules[-1][:2] == ("drop", "in")

    # a rule change redefines the same filter (same uuid, new rules)
    fewer = ns.FilterSpec(group_id=names["group"], rules=group.rules[:1])
    hv_network.define_filter(conn, fewer)
    again = virsh(qemu_uri, "nwfilter-dumpxml", name)
    assert ET.fromstring(again).findtext("uuid") == netxml.filter_uuid(names["group"])
    assert _rules(again) == _rules(netxml.filter_xml(fewer))

    # a defined domain's NIC references the filter, and stops referencing it
    net = ipaddress.ip_network(_free_subnet(conn))
    spec = ns.NetworkSpec(
        network_id=names["network"], name="h9t", network_type="isolated", cidr=str(net),
        gateway=str(next(net.hosts())),
    )  # fmt: skip
    hv_network.ensure_network(conn, spec)
    mac = "52:54:00:9a:00:10"
    dom = conn.defineXML(_domain(names["domain"], names["network"], mac))
    binding = ns.NicBinding(vm_id=dom.UUIDString(), mac=mac, group_id=names["group"])
    hv_network.bind(conn, binding)
    inactive = ET.fromstring(virsh(qemu_uri, "dumpxml", "--inactive", names["domain"]))
    ref = inactive.find("devices/interface/filterref")
    assert ref is not None and ref.get("filter") == name
    hv_network.bind(conn, ns.NicBinding(vm_id=dom.UUIDString(), mac=mac))
    inactive = ET.fromstring(virsh(qemu_uri, "dumpxml", "--inactive", names["domain"]))
    assert inactive.find("devices/interface/filterref") is None


def _domain(name: str, network: str, mac: str) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <interface type='network'>
      <source network='{network}'/>
      <mac address='{mac}'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>"""


@pytest.mark.parametrize("kind", ["bridge", "vlan"])
def test_bridge_and_vlan_networks_are_accepted(
    conn: libvirt.virConnect, names: dict[str, str], qemu_uri: str, kind: str
) -> None:
    spec = ns.NetworkSpec(
        network_id=names["network"], name="h9t", network_type=kind,  # type: ignore[arg-type]
        cidr="10.244.1.0/24", gateway="10.244.1.1", bridge="lqh9tbr0",
        vlan_id=42 if kind == "vlan" else 0,
    )  # fmt: skip
    assert hv_network.ensure_network(conn, spec)[0] == "active"
    dumped = ET.fromstring(virsh(qemu_uri, "net-dumpxml", names["network"]))
    assert dumped.find("forward").get("mode") == "bridge"  # type: ignore[union-attr]
    assert dumped.find("bridge").get("name") == "lqh9tbr0"  # type: ignore[union-attr]
    if kind == "vlan":
        assert dumped.find("vlan/tag").get("id") == "42"  # type: ignore[union-attr]
        assert dumped.find("virtualport").get("type") == "openvswitch"  # type: ignore[union-attr]
