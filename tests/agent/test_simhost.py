"""Simulated hosts keep their domains across restarts, as a real host keeps its definitions.

The node-file helpers are pure; the round trips go through libvirt's real test driver: a
host saved into its node file and opened again by a new connection must show the same
domains, states, LimiQuantix metadata and capacity.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import simhost
from agent.domxml import VmSpec
from agent.hypervisor import Hypervisor
from agent.persist import NodeFileKeeper
from tests.agent.conftest import HOST_CPUS, HOST_MEMORY_MIB, new_vm_id

RUNNING, PAUSED, SHUTOFF = 1, 3, 5  # libvirt's virDomainState numbers

DOMAIN = """<domain type='test'><name>lq-a-1</name><uuid>{uuid}</uuid>
<metadata><lq:vm xmlns:lq="urn:limiquantix:vm:1" id="{uuid}" name="a"/></metadata>
<memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"""


def spec(vm_id: str, name: str) -> VmSpec:
    return VmSpec(vm_id=vm_id, name=name, vcpus=1, memory_mib=256)


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("test:///tmp/hosts/sim-1.xml", Path("/tmp/hosts/sim-1.xml")),
        ("test:///tmp/my%20hosts/sim-1.xml", Path("/tmp/my hosts/sim-1.xml")),
        ("test:///default", None),  # the driver's built-in host has no file to keep
        ("qemu:///system", None),
        ("qemu:///tmp/x.xml", None),
        ("test+ssh://box/tmp/x.xml", None),
        ("test://box/tmp/x.xml", None),
    ],
)
def test_node_file_of(uri: str, path: Path | None) -> None:
    assert simhost.node_file_of(uri) == path


def test_save_domains_replaces_domains_and_keeps_the_node(tmp_path: Path) -> None:
    uri = simhost.write_node_file(tmp_path, "sim-1", cpus=6, memory_mib=2048)
    path = simhost.node_file_of(uri)
    assert path is not None
    a, b = new_vm_id(), new_vm_id()
    simhost.save_domains(path, [simhost.SavedDomain(DOMAIN.format(uuid=a), RUNNING)])
    simhost.save_domains(path, [simhost.SavedDomain(DOMAIN.format(uuid=b), PAUSED)])

    text = path.read_text()
    assert "LimiQuantix simulated host sim-1" in text  # the comment survives
    root = ET.fromstring(text)
    assert (root.findtext("cpu/cores"), root.findtext("memory")) == ("6", str(2048 * 1024))
    [domain] = root.findall("domain")
    assert domain.findtext("uuid") == b
    assert domain.findtext(f"{{{simhost.TEST_NS}}}runstate") == str(PAUSED)
    [saved] = simhost.saved_domains(path)
    assert saved.state == PAUSED and "runstate" not in saved.xml and b in saved.xml
    assert not list(tmp_path.glob(".node-*")), "no temp files left behind"


def test_rewriting_the_capacity_keeps_the_domains(tmp_path: Path) -> None:
    path = tmp_path / "sim-1.xml"
    simhost.write_node(path, cpus=2, memory_mib=1024)
    vm_id = new_vm_id()
    simhost.save_domains(path, [simhost.SavedDomain(DOMAIN.format(uuid=vm_id), SHUTOFF)])

    simhost.write_node(path, cpus=8, memory_mib=4096)  # what `lq up` does on every start

    assert ET.fromstring(path.read_text()).findtext("cpu/cores") == "8"
    [saved] = simhost.saved_domains(path)
    assert saved.state == SHUTOFF and vm_id in saved.xml


def test_an_unreadable_node_file_is_moved_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "sim-1.xml"
    path.write_text("<node><domain>")
    simhost.write_node(path, cpus=2, memory_mib=1024)
    assert simhost.saved_domains(path) == []
    assert (tmp_path / "sim-1.xml.unreadable").read_text() == "<node><domain>"


async def test_saved_host_comes_back_as_it_was(host_uri: str) -> None:
    running, stopped = new_vm_id(), new_vm_id()
    hv = await Hypervisor.open(host_uri)
    try:
        keeper = NodeFileKeeper.for_hypervisor(hv)
        assert keeper is not None
        await hv.define(spec(running, "web"))
        await hv.start(running)
        await hv.define(spec(stopped, "db"))
        await keeper.save()
    finally:
        await hv.close()

    again = await Hypervisor.open(host_uri)  # a new connection reads the node file afresh
    try:
        seen = {d.vm_id: (d.name, d.state) for d in await again.list_managed()}
        facts = await again.host_facts()
    finally:
        await again.close()
    # names and ids come from the LimiQuantix metadata, so it survived too
    assert seen == {running: ("web", "running"), stopped: ("db", "stopped")}
    assert (facts.cpus, facts.memory_mib) == (HOST_CPUS, HOST_MEMORY_MIB)


async def test_a_paused_domain_comes_back_paused(host_uri: str) -> None:
    path = simhost.node_file_of(host_uri)
    assert path is not None
    vm_id = new_vm_id()
    simhost.save_domains(path, [simhost.SavedDomain(DOMAIN.format(uuid=vm_id), PAUSED)])
    hv = await Hypervisor.open(host_uri)
    try:
        assert await hv.state(vm_id) == "paused"
    finally:
        await hv.close()


async def test_restored_domains_are_persistent_and_managed(host_uri: str) -> None:
    vm_id = new_vm_id()
    hv = await Hypervisor.open(host_uri)
    try:
        await hv.define(spec(vm_id, "web"))
        await hv.start(vm_id)
        keeper = NodeFileKeeper.for_hypervisor(hv)
        assert keeper is not None
        await keeper.save()
    finally:
        await hv.close()

    again = await Hypervisor.open(host_uri)
    try:
        assert await again.is_managed(vm_id)
        await again.stop(vm_id, force=True)  # a transient domain would vanish here
        assert await again.state(vm_id) == "stopped"
        await again.undefine(vm_id)
        assert await again.state(vm_id) is None
    finally:
        await again.close()


async def test_no_keeper_for_the_shared_test_host() -> None:
    hv = await Hypervisor.open("test:///default")
    try:
        assert NodeFileKeeper.for_hypervisor(hv) is None
    finally:
        await hv.close()


async def test_saves_asked_for_together_share_one_and_miss_no_change(host_uri: str) -> None:
    """Ten orders finishing at once on one host ask for ten saves: the first reads the
    domains, the other nine share the one save after it, and every domain is in the file."""
    hv = await Hypervisor.open(host_uri)
    try:
        keeper = NodeFileKeeper.for_hypervisor(hv)
        assert keeper is not None
        ids = [new_vm_id() for _ in range(10)]
        for vm_id in ids:
            await hv.define(spec(vm_id, vm_id[:8]))
        await asyncio.gather(*(keeper.save() for _ in ids))
        assert keeper._taken == 2  # one snapshot per save before
    finally:
        await hv.close()

    again = await Hypervisor.open(host_uri)
    try:
        assert {d.vm_id for d in await again.list_managed()} == set(ids)
    finally:
        await again.close()
