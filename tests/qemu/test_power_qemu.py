"""Power operations through the whole stack on real QEMU, watched on the serial console.

Pause and resume; a graceful reboot (the ACPI request: the guest powers off on the button
and libvirt starts it again) and a hard reset, each seen as a fresh boot banner on a
console session that stays open through both; a NIC hot-plugged with its MAC and the boot
disk grown online; and a guest that ignores the power button
(``guest.IGNORE_POWER_BUTTON``): a graceful shutdown times out and fails, leaving it
running, and with ``force_on_timeout`` ends in a forced power-off.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import libvirt
import pytest

from tests.qemu import guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.stackops import (
    create_vm,
    disk_target,
    events_of,
    libvirt_state,
    run,
    run_any,
    serial,
    vm_view,
)

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(420)]


async def test_power_hotplug_and_a_guest_that_ignores_shutdown(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest
) -> None:
    stack = await qemu_stack()
    vm_id = await create_vm(stack, janitor, tiny_guest)
    stubborn = await create_vm(
        stack, janitor, tiny_guest, cmdline=f"{tiny_guest.cmdline} {guest.IGNORE_POWER_BUTTON}"
    )
    base = f"/api/v1/vms/{vm_id}/actions"

    async with serial(stack, vm_id) as console:
        await console.until(guest.HEARTBEAT)

        done = await run(stack, "POST", f"{base}/pause")
        assert (await vm_view(stack, vm_id, done["accepted"]["seq"]))["state"] == "paused"
        assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_PAUSED
        done = await run(stack, "POST", f"{base}/resume")
        assert (await vm_view(stack, vm_id, done["accepted"]["seq"]))["state"] == "running"
        assert (await libvirt_state(janitor, vm_id))[0] == libvirt.VIR_DOMAIN_RUNNING
        await console.answers()

        # graceful reboot: the guest goes down on the power button and boots again
        console.forget()
        await run(stack, "POST", f"{base}/reboot", json={"force": False})
        await console.until("POWER BUTTON")
        await console.until(guest.BANNER)
        # hard reboot: a reset, no word to the guest
        console.forget()
        done = await run(stack, "POST", f"{base}/reboot", json={"force": True})
        await console.until(guest.BANNER)
        assert "POWER BUTTON" not in console.seen
        assert (await vm_view(stack, vm_id, done["accepted"]["seq"]))["state"] == "running"
        assert len(await events_of(stack, vm_id, "vm.rebooted")) == 2
        await console.answers()

    # devices of the running guest: a hot-plugged NIC has the MAC it was given; the boot
    # disk grows online
    done = await run(stack, "POST", f"/api/v1/vms/{vm_id}/nics", json={})
    nic_id = done["accepted"]["nic_id"]
    nics = (await stack.get(f"/api/v1/vms/{vm_id}/nics"))["items"]
    mac = next(n["mac"] for n in nics if n["nic_id"] == nic_id)
    dom = janitor.domain(vm_id)
    assert dom is not None
    live = ET.fromstring(await asyncio.to_thread(dom.XMLDesc, 0))
    assert mac in [m.get("address") for m in live.iterfind("devices/interface/mac")], mac
    await run(
        stack, "POST", f"/api/v1/vms/{vm_id}/disks/disk0/actions/resize", json={"size_gib": 2}
    )
    target = disk_target(live, f"{vm_id}-disk0.qcow2")
    capacity = (await asyncio.to_thread(dom.blockInfo, target))[0]
    assert capacity == 2 * 1024**3, capacity

    # a guest that ignores the power button: the shutdown times out and says so ...
    base = f"/api/v1/vms/{stubborn}/actions"
    task = await run_any(stack, "POST", f"{base}/shutdown", json={"timeout_s": 3})
    assert task["state"] == "failed", task
    vm = await vm_view(stack, stubborn, task["accepted"]["seq"])
    assert vm["state"] == "running", vm
    assert (await libvirt_state(janitor, stubborn))[0] == libvirt.VIR_DOMAIN_RUNNING
    # ... and powers it off when asked to on timeout
    done = await run(
        stack, "POST", f"{base}/shutdown", json={"timeout_s": 3, "force_on_timeout": True}
    )
    assert (await vm_view(stack, stubborn, done["accepted"]["seq"]))["state"] == "stopped"
    assert (await events_of(stack, stubborn, "vm.stopped"))[-1]["data"]["forced"] is True
    assert await libvirt_state(janitor, stubborn) == (
        libvirt.VIR_DOMAIN_SHUTOFF,
        libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED,
    )
