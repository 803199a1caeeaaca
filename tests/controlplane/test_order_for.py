"""Each request event becomes its order, with the VM's full spec for a creation and the
guest's shutdown time added to a graceful shutdown's deadline."""

from __future__ import annotations

import pytest

from controlplane.agents import deadline_s
from controlplane.domain import vm as vd
from controlplane.processes import order_deadline_s, order_for, order_id
from events import orders as od
from events import settings as settings_mod
from events import vm as ve
from events.base import Event
from tests.controlplane.vm_fixtures import RUNNING, SPEC, STOPPED, VM, given, state

SETTINGS = settings_mod.load({"order_timeout_s": 10.0}, env={})


def test_creation_orders_the_full_spec() -> None:
    vm = state(SPEC)
    order = order_for(vm, ve.VmPlaced(vm_id=VM, host_id="h"))
    assert isinstance(order, od.DefineVm)
    assert (order.disks, order.nics, order.max_vcpus) == (SPEC.disks, SPEC.nics, 4)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (vd.Shutdown(task_id="x", timeout_s=30), od.StopVm),
        (vd.Stop(task_id="x"), od.StopVm),
        (vd.Reboot(task_id="x", force=True), od.RebootVm),
        (vd.Pause(task_id="x"), od.PauseVm),
        (vd.TakeSnapshot(task_id="x", snapshot_id="s", name="s", memory=True), od.CreateSnapshot),
        (vd.AttachDisk(task_id="x", size_gib=3), od.AttachDisk),
        (vd.DetachDisk(task_id="x", disk_id="disk1", delete_volume=True), od.DetachDisk),
        (vd.ResizeDisk(task_id="x", disk_id="disk1", size_gib=30), od.ResizeDisk),
        (vd.AttachNic(task_id="x", mac="52:54:00:00:00:09"), od.AttachNic),
        (vd.DetachNic(task_id="x", nic_id="nic0"), od.DetachNic),
        (vd.UpdateNic(task_id="x", nic_id="nic0", network_id="lan"), od.UpdateNic),
        (vd.Resize(task_id="x", vcpus=3, memory_mib=2048, live=True), od.ResizeVm),
    ],
)
def test_requests_become_orders(command: vd.Command, kind: type) -> None:
    request: Event = given(*RUNNING, command)[-2]
    order = order_for(state(*RUNNING), request)
    assert isinstance(order, kind)
    assert order.vm_id == VM


def test_orders_carry_the_request() -> None:
    shutdown = ve.VmStopRequested(vm_id=VM, force=False, timeout_s=30, force_on_timeout=True)
    order = order_for(state(*RUNNING), shutdown)
    assert order == od.StopVm(vm_id=VM, force=False, timeout_s=30, force_on_timeout=True)
    delete = order_for(state(*STOPPED), ve.VmDeleteRequested(vm_id=VM, keep_disks=True))
    assert delete == od.DeleteVm(vm_id=VM, keep_disks=True)
    assert order_id("t1", "shutdown") == "t1.shutdown"


def test_graceful_shutdown_deadline_adds_the_guest_timeout() -> None:
    assert order_deadline_s(SETTINGS, ve.VmStopRequested(vm_id=VM)) == 10.0
    graceful = ve.VmStopRequested(vm_id=VM, force=False, timeout_s=300)
    assert order_deadline_s(SETTINGS, graceful) == 310.0
    vm = state(*RUNNING, vd.Shutdown(task_id="s", timeout_s=300))
    assert vm.pending is not None and deadline_s(SETTINGS, vm.pending) == 310.0
    vm = state(*RUNNING, vd.Pause(task_id="p"))
    assert vm.pending is not None and deadline_s(SETTINGS, vm.pending) == 10.0
