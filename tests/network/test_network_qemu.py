"""The whole path on a real libvirtd (marker ``qemu``): API → events → controlplane →
agent → libvirt, for a running VM.

A NAT network created through the API becomes a libvirt network on the host with the
NIC's allocated address as a DHCP host entry; a security group applied to the running
VM's NIC becomes an nwfilter binding on its tap device (``virsh nwfilter-binding-list``);
a rule added to the group redefines the filter, which libvirt re-applies to the running
NIC; removing the group takes the binding away. Everything is deleted through the API
and checked gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest

from agent import netxml
from events import netsync as ns
from tests.integration.conftest import Stack, make_stack  # noqa: F401 (fixture)
from tests.network.test_network_libvirtd import _free_subnet, virsh
from tests.qemu import guest
from tests.qemu.conftest import (  # noqa: F401 (fixtures)
    Janitor,
    QemuStackFactory,
    janitor,
    qemu_stack,
    tiny_guest,
)
from tests.qemu.stackops import create_vm, run

pytestmark = pytest.mark.qemu


async def _until(probe: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: never true (last {last!r})")


def _bindings(uri: str) -> str:
    try:
        return virsh(uri, "nwfilter-binding-list")
    except subprocess.CalledProcessError:
        return ""


async def test_network_and_security_group_on_a_running_vm(
    qemu_stack: QemuStackFactory,  # noqa: F811
    janitor: Janitor,  # noqa: F811
    tiny_guest: guest.Guest,  # noqa: F811
    qemu_uri: str,
) -> None:
    stack: Stack = await qemu_stack()
    cidr = _free_subnet(janitor.conn)
    made = await stack.request(
        "POST", "/api/v1/networks", json={"name": "h9t-lan", "type": "nat", "cidr": cidr}
    )
    assert made[0] == 201, made
    nid = made[1]["network_id"]
    group_name = ""
    try:
        dumped = await _until(
            lambda: asyncio.to_thread(_net_xml, qemu_uri, nid), "the network on the host"
        )
        hosts = list(ipaddress.ip_network(cidr).hosts())
        assert f"<range start='{hosts[1]}' end='{hosts[-1]}'/>" in dumped

        vm_id = await create_vm(stack, janitor, tiny_guest, nics=[{"network_id": nid}])
        vm = await stack.get(f"/api/v1/vms/{vm_id}")
        mac = vm["nics"][0]["mac"]
        addrs = (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]
        assert [(a["mac"], a["ip"]) for a in addrs] == [(mac, str(hosts[1]))]
        await _until(
            lambda: asyncio.to_thread(_has_host, qemu_uri, nid, mac, str(hosts[1])),
            "the DHCP host entry on the running network",
        )

        status, group, _ = await stack.request(
            "POST",
            "/api/v1/security-groups",
            json={"name": "h9t-web", "rules": [
                {"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22,
                 "cidr": "10.0.0.0/8"}]},
        )  # fmt: skip
        assert status == 201, group
        gid = group["group_id"]
        group_name = ns.filter_name(gid)
        await stack.command(
            "POST",
            f"/api/v1/security-groups/{gid}/actions/apply",
            json={"vm_id": vm_id, "nic_id": "nic0"},
        )
        await _until(
            lambda: asyncio.to_thread(lambda: group_name in _bindings(qemu_uri)),
            "the filter bound to the running NIC",
        )
        dom = janitor.domain(vm_id)
        assert dom is not None
        ref = ET.fromstring(dom.XMLDesc(0)).find("devices/interface/filterref")
        assert ref is not None and ref.get("filter") == group_name

        added = await stack.request(
            "POST",
            f"/api/v1/security-groups/{gid}/rules",
            json={"direction": "ingress", "protocol": "tcp", "port_min": 443, "port_max": 443},
        )
        assert added[0] == 201, added

        def has_443() -> bool:
            xml = virsh(qemu_uri, "nwfilter-dumpxml", group_name)
            return "dstportstart='443'" in xml or 'dstportstart="443"' in xml

        await _until(lambda: asyncio.to_thread(has_443), "the new rule in the filter")
        assert group_name in _bindings(qemu_uri)  # still applied to the running NIC

        await stack.command(
            "POST",
            f"/api/v1/security-groups/{gid}/actions/remove",
            json={"vm_id": vm_id, "nic_id": "nic0"},
        )
        await _until(
            lambda: asyncio.to_thread(lambda: group_name not in _bindings(qemu_uri)),
            "the binding removed",
        )
        await stack.command("DELETE", f"/api/v1/security-groups/{gid}")
        await _until(
            lambda: asyncio.to_thread(lambda: not _has_filter(janitor.conn, group_name)),
            "the filter removed",
        )
        await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/stop")
        await run(stack, "DELETE", f"/api/v1/vms/{vm_id}")
        await _until(
            lambda: _no_addresses(stack, nid), "the address released after the VM is deleted"
        )
        await stack.command("DELETE", f"/api/v1/networks/{nid}")
        await _until(
            lambda: asyncio.to_thread(lambda: not _net_xml(qemu_uri, nid)), "the network removed"
        )
    finally:
        _cleanup(janitor.conn, nid, group_name)


def _net_xml(uri: str, nid: str) -> str:
    try:
        return virsh(uri, "net-dumpxml", nid)
    except subprocess.CalledProcessError:
        return ""


def _has_host(uri: str, nid: str, mac: str, ip: str) -> bool:
    xml = _net_xml(uri, nid)
    return bool(xml) and netxml.dhcp_hosts(xml).get(mac, ("",))[0] == ip


def _has_filter(conn: Any, name: str) -> bool:
    try:
        conn.nwfilterLookupByName(name)
    except libvirt.libvirtError:
        return False
    return True


async def _no_addresses(stack: Stack, nid: str) -> bool:
    return not (await stack.get(f"/api/v1/networks/{nid}/addresses"))["items"]


def _cleanup(conn: Any, nid: str, filter_name: str) -> None:
    """Whatever the test left behind on the host (it removes everything when it passes)."""
    with contextlib.suppress(libvirt.libvirtError):
        net = conn.networkLookupByName(nid)
        with contextlib.suppress(libvirt.libvirtError):
            net.destroy()
        net.undefine()
    if filter_name:
        with contextlib.suppress(libvirt.libvirtError):
            conn.nwfilterLookupByName(filter_name).undefine()
