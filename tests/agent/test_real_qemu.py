"""The agent's orders against real libvirtd + QEMU (TCG), with tiny OS-less domains.

No guest OS is needed for what is proven here: define with a qcow2 disk and a cloud-init
seed, start, pause/resume, a memory snapshot and its revert, live disk attach and growth,
a graceful shutdown that the (absent) guest ignores — timing out, forced on request, or
cancelled — UEFI, and a delete that leaves no domain and no file. Domains are named
``lq-h2test-*`` and removed afterwards; volumes live in the pool the host already has
(``lq-default``), or one rooted in a directory that is never removed, so that a test
run never deletes another run's disks.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest

from agent import devxml
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from agent.orders import OrderExecutor, OrderJournal
from events import orders as o
from events.vm import CloudInit, DiskSpec, NicSpec
from tests.agent.conftest import done, failed, order

pytestmark = pytest.mark.qemu
URI = "qemu:///system"
IMAGES = "/var/lib/limiquantix-tests/images"
PREFIX = "h2test"


@pytest.fixture
async def real() -> AsyncIterator[tuple[Hypervisor, list[str]]]:
    try:
        hv = await Hypervisor.open(URI, images_dir=IMAGES, domain_type="qemu")
    except AgentError as exc:
        pytest.skip(f"libvirtd with QEMU is not reachable at {URI}: {exc}")
    made: list[str] = []
    try:
        yield hv, made
    finally:
        executor = OrderExecutor(hv, OrderJournal(None))
        for vm_id in made:
            await executor.execute(order(o.DeleteVm(vm_id=vm_id)))
        await hv.close()


def tiny(made: list[str], **kw: object) -> o.DefineVm:
    vm_id = str(uuid.uuid4())
    made.append(vm_id)
    values: dict[str, object] = {
        "vm_id": vm_id,
        "name": f"{PREFIX}-{vm_id[:4]}",
        "vcpus": 1,
        "memory_mib": 64,
        "max_vcpus": 2,
        "max_memory_mib": 128,
        "disks": (DiskSpec(disk_id="disk0", size_gib=1),),
        "nics": (NicSpec(nic_id="nic0", mac="52:54:00:7e:57:01"),),
        "start": True,
    }
    values.update(kw)
    return o.DefineVm(**values)  # type: ignore[arg-type]


async def test_define_snapshot_attach_resize_revert_delete(
    real: tuple[Hypervisor, list[str]],
) -> None:
    hv, made = real
    ex = OrderExecutor(hv, OrderJournal(None))
    body = tiny(made, cloud_init=CloudInit(user_data="#cloud-config\n"))
    vm_id = body.vm_id
    assert done(await ex.execute(order(body))).state == "running"
    xml = await hv.definition(vm_id)
    assert ET.fromstring(xml).get("type") == "qemu"
    paths = devxml.volume_paths(xml)
    assert len(paths) == 2
    assert all(os.path.isfile(p) for p in paths)  # disk0 and the seed

    for body2, state in (
        (o.PauseVm(vm_id=vm_id), "paused"),
        (o.ResumeVm(vm_id=vm_id), "running"),
    ):
        assert done(await ex.execute(order(body2))).state == state
    take = o.CreateSnapshot(vm_id=vm_id, snapshot_id="cp", name="cp", memory=True, quiesce=True)
    taken = done(await ex.execute(order(take)))
    assert (taken.state, taken.note) == ("running", "quiesce not supported: crash-consistent")

    attach = o.AttachDisk(vm_id=vm_id, disk=DiskSpec(disk_id="disk1", size_gib=1))
    assert done(await ex.execute(order(attach))).note == ""  # live and persistent
    live = await hv.run_dom(lambda _c, d: d.XMLDesc(0), vm_id)
    assert devxml.find_disk(live, "disk1") is not None
    grow = o.ResizeDisk(vm_id=vm_id, disk_id="disk1", size_gib=2)
    done(await ex.execute(order(grow)))
    el = devxml.find_disk(await hv.definition(vm_id), "disk1")
    assert el is not None
    size = await hv.run(lambda c, p: c.storageVolLookupByPath(p).info()[1], devxml.disk_source(el))
    assert size == 2 * 1024**3

    resize = o.ResizeVm(vm_id=vm_id, vcpus=2, memory_mib=96, live=True)
    assert done(await ex.execute(order(resize))).state == "running"

    reverted = done(await ex.execute(order(o.RevertSnapshot(vm_id=vm_id, snapshot_id="cp"))))
    assert reverted.state == "running"

    all_paths = [*devxml.volume_paths(await hv.definition(vm_id)), devxml.disk_source(el)]
    assert done(await ex.execute(order(o.DeleteVm(vm_id=vm_id)))).state == "deleted"
    assert await hv.state(vm_id) is None
    assert not [p for p in all_paths if os.path.exists(p)]


async def test_graceful_shutdown_times_out_or_forces(real: tuple[Hypervisor, list[str]]) -> None:
    hv, made = real
    ex = OrderExecutor(hv, OrderJournal(None), poll_interval_s=0.2)
    body = tiny(made)
    done(await ex.execute(order(body)))
    vm_id = body.vm_id
    # no OS listens to the ACPI power button
    timed_out = failed(await ex.execute(order(o.StopVm(vm_id=vm_id, force=False, timeout_s=2))))
    assert timed_out.error == "guest did not shut down within 2 s"
    assert (timed_out.state, timed_out.permanent) == ("running", False)
    forced = done(
        await ex.execute(
            order(o.StopVm(vm_id=vm_id, force=False, timeout_s=1, force_on_timeout=True))
        )
    )
    assert (forced.state, forced.forced) == ("stopped", True)


async def test_cancel_interrupts_the_shutdown_wait(real: tuple[Hypervisor, list[str]]) -> None:
    hv, made = real
    ex = OrderExecutor(hv, OrderJournal(None), poll_interval_s=0.2)
    body = tiny(made)
    done(await ex.execute(order(body)))
    stop = order(o.StopVm(vm_id=body.vm_id, force=False, timeout_s=120))
    started = time.monotonic()
    waiting = asyncio.create_task(ex.execute(stop))
    await asyncio.sleep(1.0)
    cancel = o.CancelOrder(vm_id=body.vm_id, target_order_id=stop.order_id)
    assert done(await ex.execute(order(cancel))).note == "cancelling the running order"
    result = failed(await waiting)
    assert (result.error, result.permanent, result.state) == ("cancelled", True, "running")
    assert time.monotonic() - started < 30


async def test_uefi_and_a_missing_kernel(real: tuple[Hypervisor, list[str]]) -> None:
    hv, made = real
    ex = OrderExecutor(hv, OrderJournal(None))
    missing = failed(await ex.execute(order(tiny(made, kernel="/boot/lq-nonexistent-vmlinuz"))))
    assert missing.permanent
    assert "does not exist" in missing.error
    if not os.path.isdir("/usr/share/OVMF"):
        pytest.skip("no OVMF on this host")
    uefi = tiny(made, firmware="uefi", machine="q35", start=False)
    assert done(await ex.execute(order(uefi))).state == "stopped"
    root = ET.fromstring(await hv.definition(uefi.vm_id))
    assert "OVMF" in (root.findtext("os/loader") or "")
    assert done(await ex.execute(order(o.DeleteVm(vm_id=uefi.vm_id)))).state == "deleted"
