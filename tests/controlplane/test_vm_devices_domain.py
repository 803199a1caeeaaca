"""Decisions about a VM's parts as tables: snapshots, disks, NICs, CPU/memory."""

from __future__ import annotations

import pytest

from controlplane.domain import vm as vd
from controlplane.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidRequest,
    InvalidState,
    OperationInProgress,
    UnknownPart,
)
from events import vm as ve
from tests.controlplane.vm_fixtures import (
    PAUSED,
    RUNNING,
    STOPPED,
    T0,
    TEMPLATE,
    done,
    given,
    state,
    types,
)

Steps = tuple[vd.Command, ...]
SNAP = vd.TakeSnapshot(task_id="s1", snapshot_id="a", name="first")
WITH_SNAP = (*STOPPED, SNAP, done("s1", "stopped"))
WITH_TWO = (
    *WITH_SNAP,
    vd.TakeSnapshot(task_id="s2", snapshot_id="b", name="second"),
    done("s2", "stopped"),
)


@pytest.mark.parametrize(
    ("history", "command", "expected"),
    [
        (STOPPED, SNAP, "vm.snapshot_requested"),
        (RUNNING, vd.TakeSnapshot(task_id="m", snapshot_id="m", name="m", memory=True), None),
        (PAUSED, vd.TakeSnapshot(task_id="m", snapshot_id="m", name="m", memory=True), None),
        (
            WITH_SNAP,
            vd.RevertSnapshot(task_id="r", snapshot_id="a"),
            "vm.snapshot_revert_requested",
        ),
        (
            WITH_SNAP,
            vd.DeleteSnapshot(task_id="d", snapshot_id="a"),
            "vm.snapshot_delete_requested",
        ),
        (STOPPED, vd.AttachDisk(task_id="a", size_gib=5), "vm.disk_attach_requested"),
        (RUNNING, vd.AttachDisk(task_id="a", volume="iso.img", device="cdrom", size_gib=0), None),
        (STOPPED, vd.DetachDisk(task_id="a", disk_id="disk0"), "vm.disk_detach_requested"),
        (RUNNING, vd.DetachDisk(task_id="a", disk_id="disk1"), "vm.disk_detach_requested"),
        (RUNNING, vd.ResizeDisk(task_id="a", disk_id="disk1", size_gib=21), None),
        (STOPPED, vd.AttachNic(task_id="n", mac="52:54:00:00:00:02"), "vm.nic_attach_requested"),
        (RUNNING, vd.DetachNic(task_id="n", nic_id="nic0"), "vm.nic_detach_requested"),
        (STOPPED, vd.UpdateNic(task_id="n", nic_id="nic0", network_id="lan"), None),
        (STOPPED, vd.Resize(task_id="z", vcpus=8, memory_mib=512), "vm.resize_requested"),
        (RUNNING, vd.Resize(task_id="z", vcpus=1, memory_mib=512), None),  # next boot
        (RUNNING, vd.Resize(task_id="z", vcpus=4, memory_mib=4096, live=True), None),
    ],
)
def test_accepted(history: Steps, command: vd.Command, expected: str | None) -> None:
    out = vd.decide(state(*history), command)
    assert len(out) == 2 and types(out)[1] == "task.queued"
    if expected:
        assert types(out)[0] == expected


@pytest.mark.parametrize(
    ("history", "command", "error", "slug"),
    [
        # snapshots
        (STOPPED, vd.TakeSnapshot(task_id="x", snapshot_id="m", name="m", memory=True),
         InvalidRequest, "memory-needs-running"),
        (WITH_SNAP, vd.TakeSnapshot(task_id="x", snapshot_id="z", name="first"),
         InvalidState, "duplicate"),
        (WITH_SNAP, vd.TakeSnapshot(task_id="x", snapshot_id="a", name="other"),
         AlreadyExists, "invalid-state"),
        (STOPPED, vd.RevertSnapshot(task_id="x", snapshot_id="nope"), UnknownPart, "not-found"),
        (STOPPED, vd.DeleteSnapshot(task_id="x", snapshot_id="nope"), UnknownPart, "not-found"),
        (TEMPLATE, vd.DeleteSnapshot(task_id="x", snapshot_id="a"), InvalidState, "is-template"),
        ((*STOPPED, SNAP), vd.TakeSnapshot(task_id="y", snapshot_id="b", name="b"),
         OperationInProgress, "operation-in-progress"),
        # disks
        (RUNNING, vd.DetachDisk(task_id="x", disk_id="disk0"), InvalidState, "boot-disk"),
        (PAUSED, vd.DetachDisk(task_id="x", disk_id="disk1"), InvalidState, "invalid-state"),
        (STOPPED, vd.DetachDisk(task_id="x", disk_id="disk9"), UnknownPart, "not-found"),
        (STOPPED, vd.ResizeDisk(task_id="x", disk_id="disk0", size_gib=5),
         InvalidRequest, "shrink-not-allowed"),
        (STOPPED, vd.ResizeDisk(task_id="x", disk_id="disk0", size_gib=10),
         InvalidRequest, "no-change"),
        (STOPPED, vd.ResizeDisk(task_id="x", disk_id="disk7", size_gib=50),
         UnknownPart, "not-found"),
        (STOPPED, vd.AttachDisk(task_id="x", size_gib=0), InvalidRequest, "invalid-request"),
        (TEMPLATE, vd.AttachDisk(task_id="x", size_gib=1), InvalidState, "is-template"),
        (
            (*STOPPED, vd.AttachDisk(task_id="v", volume="data.qcow2", size_gib=0),
             done("v", "stopped")),
            vd.AttachDisk(task_id="x", volume="data.qcow2", size_gib=0),
            InvalidState,
            "duplicate",
        ),
        # NICs
        (STOPPED, vd.AttachNic(task_id="x", mac="52:54:00:00:00:01"), InvalidState, "duplicate"),
        (STOPPED, vd.DetachNic(task_id="x", nic_id="nic5"), UnknownPart, "not-found"),
        (STOPPED, vd.UpdateNic(task_id="x", nic_id="nic5", network_id="a"),
         UnknownPart, "not-found"),
        (STOPPED, vd.UpdateNic(task_id="x", nic_id="nic0", network_id="default"),
         InvalidRequest, "no-change"),
        # CPU / memory
        (RUNNING, vd.Resize(task_id="x", vcpus=5, memory_mib=1024, live=True),
         InvalidRequest, "beyond-maximum"),
        (RUNNING, vd.Resize(task_id="x", vcpus=2, memory_mib=8192, live=True),
         InvalidRequest, "beyond-maximum"),
        (RUNNING, vd.Resize(task_id="x", vcpus=1, memory_mib=1024, live=True),
         InvalidRequest, "live-shrink"),
        (STOPPED, vd.Resize(task_id="x", vcpus=3, memory_mib=1024, live=True),
         InvalidState, "invalid-state"),
        (STOPPED, vd.Resize(task_id="x", vcpus=2, memory_mib=1024), InvalidRequest, "no-change"),
        (TEMPLATE, vd.Resize(task_id="x", vcpus=4, memory_mib=1024), InvalidState, "is-template"),
        (PAUSED, vd.Resize(task_id="x", vcpus=4, memory_mib=1024), InvalidState, "invalid-state"),
    ],
)  # fmt: skip
def test_refused(history: Steps, command: vd.Command, error: type[DomainError], slug: str) -> None:
    with pytest.raises(error) as info:
        vd.decide(state(*history), command)
    assert info.value.slug == slug


def test_live_resize_without_maxima_has_no_headroom() -> None:
    spec = vd.Create(vm_id="v", task_id="t1", name="a", vcpus=2, memory_mib=512)
    steps = (
        spec,
        vd.Place(task_id="t1", host_id="host-1", at=T0),
        done("t1", "stopped"),
        vd.Start(task_id="t2"),
        done("t2"),
    )
    with pytest.raises(InvalidRequest) as info:
        vd.decide(state(*steps), vd.Resize(task_id="x", vcpus=3, memory_mib=512, live=True))
    assert info.value.slug == "beyond-maximum"


def test_snapshot_tree_parents_current_and_deletion() -> None:
    vm = state(*WITH_TWO)
    assert [(s.snapshot_id, s.parent_id) for s in vm.snapshots] == [("a", None), ("b", "a")]
    assert vm.current_snapshot_id == "b"
    assert vm.snapshots[0].vm_state == "stopped" and vm.snapshots[0].created_at is not None
    reverted = state(
        *WITH_TWO, vd.RevertSnapshot(task_id="r", snapshot_id="a"), done("r", "stopped")
    )
    assert reverted.current_snapshot_id == "a" and reverted.state == "stopped"
    gone = state(*WITH_TWO, vd.DeleteSnapshot(task_id="d", snapshot_id="a"), done("d", "stopped"))
    assert [(s.snapshot_id, s.parent_id) for s in gone.snapshots] == [("b", None)]
    current_gone = state(
        *WITH_TWO, vd.DeleteSnapshot(task_id="d", snapshot_id="b"), done("d", "stopped")
    )
    assert current_gone.current_snapshot_id == "a"


def test_memory_snapshot_records_the_running_state_and_the_note() -> None:
    steps = (*RUNNING, vd.TakeSnapshot(task_id="m", snapshot_id="m", name="m", memory=True))
    out = vd.decide(state(*steps), done("m", note="quiesce not supported"))
    created = out[0]
    assert isinstance(created, ve.SnapshotCreated)
    assert (created.memory, created.vm_state, created.parent_id) == (True, "running", None)
    assert getattr(out[1], "message", "") == "quiesce not supported"


def test_disks_get_the_next_id_and_the_outcome_carries_the_spec() -> None:
    steps = (*STOPPED, vd.AttachDisk(task_id="a", size_gib=5, bus="sata"))
    req = given(*steps)[-2]
    assert isinstance(req, ve.DiskAttachRequested) and req.disk.disk_id == "disk2"
    out = vd.decide(state(*steps), done("a", "stopped"))
    assert isinstance(out[0], ve.DiskAttached) and out[0].disk == req.disk
    vm = state(*steps, done("a", "stopped"))
    assert [d.disk_id for d in vm.disks] == ["disk0", "disk1", "disk2"]
    # a detached id is never given again (its volume may still be in the pool)
    vm = state(*steps, done("a", "stopped"), vd.DetachDisk(task_id="d", disk_id="disk2"),
               done("d", "stopped"), vd.AttachDisk(task_id="b", size_gib=1))  # fmt: skip
    assert vm.pending is not None
    assert isinstance(vm.pending.request, ve.DiskAttachRequested)
    assert vm.pending.request.disk.disk_id == "disk3"
    resized = state(*STOPPED, vd.ResizeDisk(task_id="r", disk_id="disk1", size_gib=40),
                    done("r", "stopped"))  # fmt: skip
    assert resized.disk("disk1") == ve.DiskSpec(disk_id="disk1", size_gib=40, bus="scsi")


def test_nics_keep_their_mac_and_move_networks() -> None:
    vm = state(*STOPPED, vd.AttachNic(task_id="n", mac="52:54:00:AA:00:02"), done("n", "stopped"))
    assert [(n.nic_id, n.mac) for n in vm.nics] == [
        ("nic0", "52:54:00:00:00:01"),
        ("nic1", "52:54:00:aa:00:02"),
    ]
    vm = state(*STOPPED, vd.UpdateNic(task_id="u", nic_id="nic0", network_id="lan"),
               done("u", "stopped"))  # fmt: skip
    assert vm.nics[0].network_id == "lan" and vm.nics[0].mac == "52:54:00:00:00:01"
    vm = state(*STOPPED, vd.DetachNic(task_id="d", nic_id="nic0"), done("d", "stopped"))
    assert vm.nics == ()


def test_resize_outcome_and_maxima_follow_a_cold_resize() -> None:
    vm = state(*STOPPED, vd.Resize(task_id="z", vcpus=6, memory_mib=8192), done("z", "stopped"))
    assert (vm.vcpus, vm.memory_mib, vm.max_vcpus, vm.max_memory_mib) == (6, 8192, 6, 8192)
    live = state(*RUNNING, vd.Resize(task_id="z", vcpus=4, memory_mib=2048, live=True), done("z"))
    assert (live.vcpus, live.memory_mib, live.max_vcpus) == (4, 2048, 4)


def test_failed_device_operation_changes_nothing() -> None:
    vm = state(*RUNNING, vd.AttachDisk(task_id="a", size_gib=5), vd.Fail(task_id="a", reason="x"))
    assert len(vm.disks) == 2 and vm.state == "running" and vm.pending is None
