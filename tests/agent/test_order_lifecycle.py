"""Define, power, clone, delete and cancel orders on the test driver: each order twice
has one effect, and every answer says the state afterwards."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import devxml
from agent.hypervisor import Hypervisor
from agent.orders import OrderExecutor, OrderJournal, operation
from events import orders as o
from events.orders import AnyOrder, Order
from events.vm import CloneSource, CloudInit, DiskSpec, NicSpec
from tests.agent.conftest import done, failed, new_vm_id, order, volumes


def full(vm_id: str, **kw: object) -> o.DefineVm:
    values: dict[str, object] = {
        "vm_id": vm_id,
        "name": "web",
        "vcpus": 1,
        "memory_mib": 256,
        "max_vcpus": 4,
        "max_memory_mib": 1024,
        "disks": (DiskSpec(disk_id="disk0", size_gib=2), DiskSpec(disk_id="disk1", size_gib=1)),
        "nics": (NicSpec(nic_id="nic0", mac="52:54:00:12:34:01"),),
        "cloud_init": CloudInit(user_data="#cloud-config\n"),
        "boot_order": ("hd", "network"),
    }
    values.update(kw)
    return o.DefineVm(**values)  # type: ignore[arg-type]


async def test_define_creates_volumes_seed_and_devices(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    first = done(await executor.execute(order(full(vm_id, start=True))))
    assert (first.operation, first.state) == ("create", "running")
    assert await volumes(hypervisor) == sorted(
        [f"{vm_id}-disk0.qcow2", f"{vm_id}-disk1.qcow2", f"{vm_id}-cidata.iso"]
    )
    xml = await hypervisor.definition(vm_id)
    root = ET.fromstring(xml)
    assert [d.get("dev") for d in root.findall("devices/disk/target")] == ["vda", "vdb", "hdc"]
    assert devxml.nic_ids_by_mac(xml) == {"52:54:00:12:34:01": "nic0"}
    nic = root.find("devices/interface")
    assert nic is not None
    assert nic.get("type") == "user"  # this simulated host has no network "default"
    vcpu = root.find("vcpu")
    assert vcpu is not None
    assert (vcpu.text, vcpu.get("current")) == ("4", "1")
    again = done(await executor.execute(order(full(vm_id, start=True))))
    assert (again.state, again.note) == ("running", "already defined")
    assert len(await volumes(hypervisor)) == 3


async def test_define_on_the_default_test_host_joins_network_default(tmp_path: Path) -> None:
    hv = await Hypervisor.open("test:///default")
    try:
        executor = OrderExecutor(hv, OrderJournal(None))
        vm_id = new_vm_id()
        done(await executor.execute(order(full(vm_id, disks=(), cloud_init=None))))
        nic = ET.fromstring(await hv.definition(vm_id)).find("devices/interface")
        assert nic is not None
        assert nic.get("type") == "network"
        done(await executor.execute(order(o.DeleteVm(vm_id=vm_id))))
    finally:
        await hv.close()


async def test_unknown_network_and_missing_volume_fail_permanently_leaving_nothing(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    nic = NicSpec(nic_id="nic0", mac="52:54:00:12:34:09", network_id="nowhere")
    result = failed(await executor.execute(order(full(vm_id, nics=(nic,)))))
    assert result.permanent
    assert "nowhere" in result.error
    disk = DiskSpec(disk_id="disk0", size_gib=1, volume="missing.qcow2")
    result = failed(await executor.execute(order(full(vm_id, disks=(disk,)))))
    assert "missing.qcow2" in result.error
    assert await hypervisor.list_managed() == []
    assert await volumes(hypervisor) == []  # nothing half-done


async def test_uefi_machine_and_kernel_boot(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    body = full(vm_id, firmware="uefi", machine="q35", kernel="/boot/k", cmdline="quiet")
    done(await executor.execute(order(body)))
    root = ET.fromstring(await hypervisor.definition(vm_id))
    assert (root.findtext("os/loader") or "").endswith(".fd")
    assert root.findtext("os/kernel") == "/boot/k"
    assert root.findtext("os/cmdline") == "quiet"
    seed = devxml.find_disk(await hypervisor.definition(vm_id), devxml.SEED_ID)
    assert seed is not None
    assert devxml.disk_target(seed) == "sdz"  # q35 has no IDE


async def test_full_and_linked_clones(executor: OrderExecutor, hypervisor: Hypervisor) -> None:
    source = new_vm_id()
    done(await executor.execute(order(full(source))))
    linked, copied = new_vm_id(), new_vm_id()
    disks = (DiskSpec(disk_id="disk0", size_gib=1),)
    body = full(linked, disks=disks, clone_of=CloneSource(vm_id=source, linked=True))
    assert done(await executor.execute(order(body))).note == "linked clone"
    body = full(copied, disks=disks, clone_of=CloneSource(vm_id=source))
    assert done(await executor.execute(order(body))).note == "full clone"

    def backing(conn: object, name: str) -> str:
        vol = conn.storagePoolLookupByName("lq-default").storageVolLookupByName(name)  # type: ignore[attr-defined]
        return ET.fromstring(vol.XMLDesc(0)).findtext("backingStore/path") or ""

    assert (await hypervisor.run(backing, f"{linked}-disk0.qcow2")).endswith(
        f"{source}-disk0.qcow2"
    )
    assert await hypervisor.run(backing, f"{copied}-disk0.qcow2") == ""
    # a repeated clone order reuses what the first one made
    assert done(await executor.execute(order(body))).note == "already defined"


@pytest.mark.parametrize("keep_disks", [False, True])
async def test_delete_removes_or_keeps_the_vms_volumes(
    executor: OrderExecutor, hypervisor: Hypervisor, keep_disks: bool
) -> None:
    vm_id, other = new_vm_id(), new_vm_id()
    done(await executor.execute(order(full(vm_id, start=True))))
    done(await executor.execute(order(full(other, cloud_init=None))))
    for _ in range(2):
        result = done(await executor.execute(order(o.DeleteVm(vm_id=vm_id, keep_disks=keep_disks))))
        assert result.state == "deleted"
    assert await hypervisor.state(vm_id) is None
    left = await volumes(hypervisor)
    assert [v for v in left if v.startswith(other)] == sorted(
        [f"{other}-disk0.qcow2", f"{other}-disk1.qcow2"]
    )
    assert bool([v for v in left if v.startswith(vm_id)]) == keep_disks


async def test_power_orders_twice_have_one_effect(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    done(await executor.execute(order(full(vm_id, start=True))))
    script: list[tuple[AnyOrder, str]] = [
        (o.PauseVm(vm_id=vm_id), "paused"),
        (o.ResumeVm(vm_id=vm_id), "running"),
        (o.RebootVm(vm_id=vm_id), "running"),
        (o.RebootVm(vm_id=vm_id, force=True), "running"),
        (o.StopVm(vm_id=vm_id, force=False, timeout_s=5), "stopped"),
        (o.StartVm(vm_id=vm_id), "running"),
        (o.StopVm(vm_id=vm_id, force=True), "stopped"),
    ]
    for body, state in script:
        for _ in range(2):
            assert done(await executor.execute(order(body))).state == state, body
    assert await hypervisor.state(vm_id) == "stopped"


async def test_power_orders_on_a_stopped_vm_say_so(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    done(await executor.execute(order(full(vm_id))))
    for body in (o.PauseVm(vm_id=vm_id), o.RebootVm(vm_id=vm_id), o.ResumeVm(vm_id=vm_id)):
        result = failed(await executor.execute(order(body)))
        assert (result.state, result.permanent) == ("stopped", True)
        assert "not running" in result.error
    stop = o.StopVm(vm_id=vm_id, force=True)
    assert done(await executor.execute(order(stop))).forced is False  # nothing to force


def test_operation_words() -> None:
    vm = new_vm_id()
    assert operation(o.StopVm(vm_id=vm, force=False)) == "shutdown"
    assert operation(o.StopVm(vm_id=vm)) == "stop"
    assert operation(o.CreateSnapshot(vm_id=vm, snapshot_id="s", name="s")) == "snapshot"
    assert operation(o.CancelOrder(vm_id=vm, target_order_id="x")) == "cancel"


async def test_cancel_before_the_order_arrives(executor: OrderExecutor) -> None:
    vm_id = new_vm_id()
    target = order(full(vm_id))
    cancel = done(
        await executor.execute(order(o.CancelOrder(vm_id=vm_id, target_order_id=target.order_id)))
    )
    assert cancel.operation == "cancel"
    result = failed(await executor.execute(target))
    assert (result.error, result.permanent, result.state) == ("cancelled", True, None)


async def test_cancel_of_a_finished_order_changes_nothing(executor: OrderExecutor) -> None:
    vm_id = new_vm_id()
    target = order(full(vm_id))
    done(await executor.execute(target))
    cancel = o.CancelOrder(vm_id=vm_id, target_order_id=target.order_id)
    assert "already finished" in done(await executor.execute(order(cancel))).note
    assert done(await executor.execute(target)).state == "stopped"  # the journal's answer


async def test_cancel_reaches_an_order_waiting_behind_another(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    """Orders of one VM run in sequence; a cancel does not wait in that line."""
    vm_id = new_vm_id()
    first, second = order(full(vm_id, start=True)), order(o.PauseVm(vm_id=vm_id))
    runs = [asyncio.create_task(executor.execute(x)) for x in (first, second)]
    cancel = order(o.CancelOrder(vm_id=vm_id, target_order_id=second.order_id))
    done(await executor.execute(cancel))
    one, two = await asyncio.gather(*runs)
    assert done(one).state == "running"
    assert failed(two).error == "cancelled"
    assert await hypervisor.state(vm_id) == "running"  # the pause never happened


async def test_progress_is_reported_for_a_full_clone(hypervisor: Hypervisor) -> None:
    seen: list[tuple[str, int]] = []

    async def progress(o_: Order, percent: int, message: str) -> None:
        seen.append((message, percent))

    executor = OrderExecutor(hypervisor, OrderJournal(None), progress=progress)
    source, copy = new_vm_id(), new_vm_id()
    done(await executor.execute(order(full(source))))
    body = full(copy, cloud_init=None, clone_of=CloneSource(vm_id=source))
    done(await executor.execute(order(body)))
    assert seen[0] == ("copying disk0", 0)
    assert seen[-1] == ("copied disk1", 100)


def test_boot_files_must_lie_under_the_boot_roots(tmp_path: Path) -> None:
    from agent.act_power import within_roots

    roots = (str(tmp_path / "boot"),)
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "vmlinuz").write_text("k")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "shadow").write_text("secret")
    (tmp_path / "boot" / "sneaky").symlink_to(tmp_path / "etc" / "shadow")
    assert within_roots(str(tmp_path / "boot" / "vmlinuz"), roots)
    assert not within_roots(str(tmp_path / "etc" / "shadow"), roots)
    assert not within_roots(str(tmp_path / "boot" / ".." / "etc" / "shadow"), roots)
    assert not within_roots(str(tmp_path / "boot" / "sneaky"), roots)  # symlinks resolved
    assert not within_roots(str(tmp_path / "bootleg"), roots)


async def test_a_kernel_outside_the_boot_roots_is_refused(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    vm_id = new_vm_id()
    result = failed(await executor.execute(order(full(vm_id, kernel="/etc/shadow"))))
    assert "outside the boot image directories" in result.error and result.permanent
    assert await hypervisor.list_managed() == []
