"""Snapshot, disk, NIC and resize orders on the test driver: idempotent, truthful about
where a change landed, and refusing what cannot be done."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agent import devxml
from agent.hypervisor import Hypervisor
from agent.orders import OrderExecutor
from events import orders as o
from events.vm import DiskSpec, NicSpec
from tests.agent.conftest import done, failed, new_vm_id, order, volumes

GIB = 1024**3


async def define(executor: OrderExecutor, start: bool = False) -> str:
    vm_id = new_vm_id()
    body = o.DefineVm(
        vm_id=vm_id,
        name="dev",
        vcpus=1,
        memory_mib=256,
        max_vcpus=2,
        max_memory_mib=512,
        start=start,
        disks=(DiskSpec(disk_id="disk0", size_gib=1),),
        nics=(NicSpec(nic_id="nic0", mac="52:54:00:00:aa:01"),),
    )
    done(await executor.execute(order(body)))
    return vm_id


async def snapshot_names(hv: Hypervisor, vm_id: str) -> list[str]:
    return sorted(
        await hv.run_dom(lambda _c, d: [s.getName() for s in d.listAllSnapshots(0)], vm_id)
    )


async def test_snapshot_create_revert_delete(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = await define(executor, start=True)
    take = o.CreateSnapshot(vm_id=vm_id, snapshot_id="snap-1", name="before", memory=True)
    assert done(await executor.execute(order(take))).state == "running"
    assert done(await executor.execute(order(take))).note == "snapshot already taken"
    assert await snapshot_names(hypervisor, vm_id) == ["snap-1"]

    done(await executor.execute(order(o.StopVm(vm_id=vm_id))))
    reverted = done(
        await executor.execute(order(o.RevertSnapshot(vm_id=vm_id, snapshot_id="snap-1")))
    )
    assert reverted.state == "running"  # a checkpoint taken running comes back running

    drop = o.DeleteSnapshot(vm_id=vm_id, snapshot_id="snap-1")
    assert done(await executor.execute(order(drop))).note == ""
    assert done(await executor.execute(order(drop))).note == "already deleted"
    assert await snapshot_names(hypervisor, vm_id) == []


async def test_snapshot_of_a_stopped_vm_and_notes(executor: OrderExecutor) -> None:
    vm_id = await define(executor)
    take = o.CreateSnapshot(vm_id=vm_id, snapshot_id="s", name="s", memory=True)
    result = done(await executor.execute(order(take)))
    assert (result.state, result.note) == ("stopped", "VM was stopped: disks only")
    running = await define(executor, start=True)
    disk_only = o.CreateSnapshot(vm_id=running, snapshot_id="s", name="s", memory=False)
    assert "memory state included" in done(await executor.execute(order(disk_only))).note


async def test_snapshot_failures(executor: OrderExecutor) -> None:
    vm_id = await define(executor)
    missing = failed(
        await executor.execute(order(o.RevertSnapshot(vm_id=vm_id, snapshot_id="nope")))
    )
    assert (missing.permanent, missing.state) == (True, "stopped")
    assert "nope" in missing.error
    gone = new_vm_id()
    take = failed(
        await executor.execute(order(o.CreateSnapshot(vm_id=gone, snapshot_id="s", name="s")))
    )
    assert (take.permanent, take.state) == (True, None)
    # deleting a snapshot of a VM that is gone has nothing left to do
    assert done(await executor.execute(order(o.DeleteSnapshot(vm_id=gone, snapshot_id="s"))))


@pytest.mark.parametrize("start", [False, True])
async def test_disk_attach_resize_detach(
    executor: OrderExecutor, hypervisor: Hypervisor, start: bool
) -> None:
    vm_id = await define(executor, start=start)
    attach = o.AttachDisk(vm_id=vm_id, disk=DiskSpec(disk_id="disk1", size_gib=1))
    first = done(await executor.execute(order(attach)))
    # the test driver has no hot-plug: a running VM gets it at its next boot, and says so
    assert ("next boot" in first.note) == start
    assert done(await executor.execute(order(attach))).note == "already attached"
    el = devxml.find_disk(await hypervisor.definition(vm_id), "disk1")
    assert el is not None
    assert devxml.disk_target(el) == "vdb"
    assert f"{vm_id}-disk1.qcow2" in await volumes(hypervisor)

    grow = o.ResizeDisk(vm_id=vm_id, disk_id="disk1", size_gib=3)
    done(await executor.execute(order(grow)))
    assert done(await executor.execute(order(grow))).note == "already that size"
    assert (
        await hypervisor.run(
            lambda c, p: c.storageVolLookupByPath(p).info()[1], devxml.disk_source(el)
        )
        == 3 * GIB
    )
    shrink = failed(
        await executor.execute(order(o.ResizeDisk(vm_id=vm_id, disk_id="disk1", size_gib=2)))
    )
    assert shrink.permanent
    assert "shrinking" in shrink.error

    detach = o.DetachDisk(vm_id=vm_id, disk_id="disk1", delete_volume=True)
    done(await executor.execute(order(detach)))
    assert done(await executor.execute(order(detach))).note == "already detached"
    assert devxml.find_disk(await hypervisor.definition(vm_id), "disk1") is None
    assert f"{vm_id}-disk1.qcow2" not in await volumes(hypervisor)


async def test_boot_disk_of_a_running_vm_stays(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = await define(executor, start=True)
    result = failed(await executor.execute(order(o.DetachDisk(vm_id=vm_id, disk_id="disk0"))))
    assert (result.permanent, result.state) == (True, "running")
    assert devxml.find_disk(await hypervisor.definition(vm_id), "disk0") is not None


async def test_nic_attach_update_detach_keeps_the_mac(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = await define(executor)
    nic = NicSpec(nic_id="nic1", mac="52:54:00:00:aa:02", model="e1000")
    attach = o.AttachNic(vm_id=vm_id, nic=nic)
    assert done(await executor.execute(order(attach))).state == "stopped"
    assert done(await executor.execute(order(attach))).note == "already attached"

    def add_network(conn: object) -> None:
        xml = "<network><name>lan</name><bridge name='lqtest0'/></network>"
        conn.networkCreateXML(xml)  # type: ignore[attr-defined]

    await hypervisor.run(add_network)
    update = o.UpdateNic(vm_id=vm_id, nic_id="nic1", network_id="lan")
    done(await executor.execute(order(update)))
    assert done(await executor.execute(order(update))).note == "already on that network"
    el = devxml.find_nic(await hypervisor.definition(vm_id), "nic1")
    assert el is not None
    assert devxml.nic_of(el) == devxml.NicDev(
        nic_id="nic1", mac="52:54:00:00:aa:02", model="e1000", network="lan"
    )
    detach = o.DetachNic(vm_id=vm_id, nic_id="nic1")
    done(await executor.execute(order(detach)))
    assert done(await executor.execute(order(detach))).note == "already detached"
    assert devxml.nic_ids_by_mac(await hypervisor.definition(vm_id)) == {
        "52:54:00:00:aa:01": "nic0"
    }
    missing = failed(
        await executor.execute(order(o.UpdateNic(vm_id=vm_id, nic_id="nic9", network_id="lan")))
    )
    assert missing.permanent


async def test_resize_live_within_the_maxima_and_cold_beyond(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = await define(executor, start=True)
    live = o.ResizeVm(vm_id=vm_id, vcpus=2, memory_mib=512, live=True)
    for _ in range(2):
        assert done(await executor.execute(order(live))).state == "running"
    beyond = failed(
        await executor.execute(order(o.ResizeVm(vm_id=vm_id, vcpus=3, memory_mib=512, live=True)))
    )
    assert beyond.permanent
    assert "maximum" in beyond.error
    cold = done(await executor.execute(order(o.ResizeVm(vm_id=vm_id, vcpus=4, memory_mib=1024))))
    assert cold.note == "takes effect at the next boot"
    root = ET.fromstring(await hypervisor.definition(vm_id))
    assert root.findtext("vcpu") == "4"
    assert root.findtext("currentMemory") == str(1024 * 1024)  # KiB
