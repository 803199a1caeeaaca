"""End to end on simulated hosts: a VM created from a full spec reaches libvirt as asked,
and deleting it can keep its disks."""

from __future__ import annotations

from tests.integration.conftest import StackFactory
from tests.integration.lifecycle import agent_of, domain_xml, events_of, make_vm, run, vm_view

FULL = {
    "name": "full-1",
    "vcpus": 2,
    "memory_mib": 512,
    "disks": [{"size_gib": 3}, {"size_gib": 1, "bus": "sata"}],
    "nics": [{"model": "e1000"}, {"mac": "52:54:00:10:20:30"}],
    "machine": "q35",
    "boot_order": ["network", "hd"],
    "max_vcpus": 4,
    "max_memory_mib": 1024,
    "cloud_init": {"user_data": "#cloud-config\nhostname: full-1\n", "meta_data": ""},
}


async def test_full_spec_reaches_the_domain(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack, **FULL)
    vm = await vm_view(stack, vm_id)
    root = await domain_xml(stack, vm_id, vm["host_id"])
    disks = root.findall("./devices/disk[@device='disk']")
    assert len(disks) == 2
    assert [d.find("target").get("bus") for d in disks] == ["virtio", "sata"]  # type: ignore[union-attr]
    macs = [m.get("address") for m in root.findall("./devices/interface/mac")]
    assert len(macs) == 2 and macs[1] == "52:54:00:10:20:30"
    assert all(m and m.startswith("52:54:00:") for m in macs)
    assert len(root.findall("./devices/disk[@device='cdrom']")) == 1  # the cidata seed
    created = (await events_of(stack, vm_id, "vm.created"))[0]["data"]
    assert [d["disk_id"] for d in created["disks"]] == ["disk0", "disk1"]
    assert [n["nic_id"] for n in created["nics"]] == ["nic0", "nic1"]
    assert created["boot_order"] == ["network", "hd"] and created["machine"] == "q35"


async def test_delete_keeping_disks(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    vm_id = await make_vm(stack)
    host_id = (await vm_view(stack, vm_id))["host_id"]
    deleted = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}?keep_disks=true")
    assert deleted["state"] == "succeeded", deleted
    assert await agent_of(stack, host_id).hypervisor.state(vm_id) is None
    requested = await events_of(stack, vm_id, "vm.delete_requested")
    assert requested[-1]["data"]["keep_disks"] is True
