"""The VM lifecycle through the whole stack, on real libvirtd + QEMU (TCG) with a real guest.

API → controlplane → NATS → agent → ``qemu:///system``, and back through the projector:
create (direct kernel boot of the tiny guest, a 1 GiB qcow2 boot disk) → running → the
guest's serial output through the console WebSocket proxy, and typed input answered →
graceful shutdown (ACPI; the guest powers itself off) reaches ``stopped`` unforced → start
→ snapshot with memory → revert (the guest runs on) → disk attach in the domain XML →
hard stop → delete leaves no domain and no file. libvirt is asked directly at each step:
the read model alone could agree with itself and still be wrong.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import libvirt
import pytest

from tests.qemu import guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.pool import pool_files
from tests.qemu.stackops import create_vm, events_of, guest_alive, libvirt_state, run, vm_view

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(420)]


async def test_lifecycle_on_real_qemu(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest
) -> None:
    stack = await qemu_stack()

    # create: direct kernel boot, a 1 GiB (sparse) qcow2 boot disk, started
    vm_id = await create_vm(stack, janitor, tiny_guest)
    dom = janitor.domain(vm_id)
    assert dom is not None
    root = ET.fromstring(await asyncio.to_thread(dom.XMLDesc, 0))
    assert root.get("type") == "qemu"
    assert root.findtext("os/kernel") == str(tiny_guest.kernel)
    disk_files = [p.name for p in pool_files(janitor.conn, vm_id)]
    assert f"{vm_id}-disk0.qcow2" in disk_files, disk_files

    # the guest's serial console through the controlplane's WebSocket proxy
    await guest_alive(stack, vm_id)

    # graceful shutdown: the ACPI power button; the guest powers itself off
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/shutdown", json={"timeout_s": 90})
    vm = await vm_view(stack, vm_id, done["accepted"]["seq"])
    assert vm["state"] == "stopped", vm
    stopped = await events_of(stack, vm_id, "vm.stopped")
    assert stopped, "no vm.stopped event"
    assert stopped[-1]["data"]["forced"] is False, stopped[-1]
    assert await libvirt_state(janitor, vm_id) == (
        libvirt.VIR_DOMAIN_SHUTOFF,
        libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN,
    )

    # start again
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/start")
    assert (await vm_view(stack, vm_id, done["accepted"]["seq"]))["state"] == "running"
    assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_RUNNING
    await guest_alive(stack, vm_id)  # booted again, answering

    # snapshot with memory, then revert to it: the guest runs on from the saved state
    done = await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/snapshots", json={"name": "live", "memory": True}
    )
    snapshot_id = done["accepted"]["snapshot_id"]
    assert len(await asyncio.to_thread(dom.listAllSnapshots, 0)) == 1
    snaps = (await stack.get(f"/api/v1/vms/{vm_id}/snapshots"))["items"]
    assert [(s["snapshot_id"], s["memory"]) for s in snaps] == [(snapshot_id, True)], snaps
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/snapshots/{snapshot_id}/actions/revert")
    vm = await vm_view(stack, vm_id, done["accepted"]["seq"])
    assert vm["state"] == "running", vm
    assert vm["current_snapshot_id"] == snapshot_id, vm
    assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_RUNNING
    await guest_alive(stack, vm_id)

    # attach a second disk: it is in the live domain's XML
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/disks", json={"size_gib": 1})
    root = ET.fromstring(await asyncio.to_thread(dom.XMLDesc, 0))
    sources = [d.get("file", "") for d in root.iterfind("devices/disk/source")]
    assert any(s.endswith(f"{vm_id}-disk1.qcow2") for s in sources), sources
    disks = (await stack.get(f"/api/v1/vms/{vm_id}/disks"))["items"]
    assert [d["disk_id"] for d in disks] == ["disk0", "disk1"], disks

    # a hard power-off (a VM is deleted stopped), then delete it with its snapshots:
    # no domain, no file left
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/stop")
    assert (await vm_view(stack, vm_id, done["accepted"]["seq"]))["state"] == "stopped"
    stopped = await events_of(stack, vm_id, "vm.stopped")
    assert stopped[-1]["data"]["forced"] is True, stopped[-1]
    assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_SHUTOFF
    paths = pool_files(janitor.conn, vm_id)
    assert len(paths) >= 2, paths
    done = await run(stack, "DELETE", f"/api/v1/vms/{vm_id}?delete_snapshots=true")
    assert janitor.domain(vm_id) is None, "the domain outlived its VM"
    assert [p for p in paths if p.exists()] == [], "disk files outlived their VM"
    assert pool_files(janitor.conn, vm_id) == []
