"""The agent's Phase 3 duties end to end over NATS: progress of a long order, cancel,
NIC addresses from the sweep, one VM's orders kept in sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from events.orders import CancelOrder, CreateSnapshot, DefineVm, PauseVm, ResumeVm, StartVm
from events.reports import NicAddress, OrderDone, OrderFailed, OrderProgress
from events.settings import Settings
from events.vm import CloneSource, DiskSpec, NicSpec
from tests.agent.conftest import new_vm_id
from tests.agent.test_service import FakeControlplane, agent, cp

__all__ = ["agent", "cp"]  # fixtures shared with test_service


@pytest.fixture
def settings(nats_url: str, tmp_path: Path) -> Settings:
    return Settings(
        nats_url=nats_url,
        data_dir=str(tmp_path / "lq"),
        agent_name="host-a",
        heartbeat_interval_s=0.2,
        agent_sweep_interval_s=0.2,
    )


@pytest.mark.usefixtures("agent")
async def test_clone_progress_cancel_and_addresses(cp: FakeControlplane) -> None:
    source, copy = new_vm_id(), new_vm_id()
    disks = (DiskSpec(disk_id="disk0", size_gib=1),)
    nics = (NicSpec(nic_id="nic0", mac="52:54:00:00:cc:01"),)
    first = await cp.order(
        DefineVm(vm_id=source, name="src", vcpus=1, memory_mib=64, disks=disks, nics=nics)
    )
    await cp.wait_for(OrderDone, lambda b: b.order_id == first.order_id)
    clone = await cp.order(
        DefineVm(
            vm_id=copy,
            name="copy",
            vcpus=1,
            memory_mib=64,
            disks=disks,
            nics=(NicSpec(nic_id="nic0", mac="52:54:00:00:cc:02"),),
            clone_of=CloneSource(vm_id=source),
            start=True,
        )
    )
    done = await cp.wait_for(OrderDone, lambda b: b.order_id == clone.order_id)
    assert (done.state, done.note) == ("running", "full clone")
    progress = [(r.task_id, r.body) for r in cp.reports if isinstance(r.body, OrderProgress)]
    assert [body.percent for _, body in progress] == [0, 100]
    assert {task_id for task_id, _ in progress} == {clone.task_id}

    address = await cp.wait_for(NicAddress, lambda b: b.vm_id == copy)
    assert (address.nic_id, bool(address.ip)) == ("nic0", True)

    # a cancel that arrives before its order: the order is refused, nothing happens
    snap_id = "a1b2c3.snapshot"
    cancel = await cp.order(CancelOrder(vm_id=copy, target_order_id=snap_id))
    await cp.wait_for(OrderDone, lambda b: b.order_id == cancel.order_id)
    await cp.order(CreateSnapshot(vm_id=copy, snapshot_id="s", name="s"), order_id=snap_id)
    refused = await cp.wait_for(OrderFailed, lambda b: b.order_id == snap_id)
    assert (refused.error, refused.permanent) == ("cancelled", True)


def answering(order_id: str) -> Callable[[OrderDone], bool]:
    return lambda body: body.order_id == order_id


@pytest.mark.usefixtures("agent")
async def test_one_vms_orders_run_in_sequence(cp: FakeControlplane) -> None:
    vm_id = new_vm_id()
    sent = [
        await cp.order(DefineVm(vm_id=vm_id, name="seq", vcpus=1, memory_mib=64)),
        await cp.order(StartVm(vm_id=vm_id)),
        await cp.order(PauseVm(vm_id=vm_id)),
        await cp.order(ResumeVm(vm_id=vm_id)),
        await cp.order(PauseVm(vm_id=vm_id)),
    ]
    states = [(await cp.wait_for(OrderDone, answering(o.order_id))).state for o in sent]
    assert states == ["stopped", "running", "paused", "running", "paused"]
