"""VM lifecycle decisions as tables: power, delete, templates, clones and cancellation."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from controlplane.domain import vm as vd
from controlplane.domain.errors import (
    DomainError,
    InvalidRequest,
    InvalidState,
    OperationInProgress,
    UnknownAggregate,
)
from events import task as te
from events import vm as ve
from events.base import Event
from events.codec import decode_batch
from tests.controlplane.vm_fixtures import (
    HOST,
    PAUSED,
    RUNNING,
    SPEC,
    STOPPED,
    T0,
    TEMPLATE,
    VM,
    done,
    given,
    state,
    types,
)

Steps = tuple[vd.Command, ...]


@pytest.mark.parametrize(
    ("history", "command", "expected"),
    [
        ((), SPEC, ["vm.created", "task.queued"]),
        (RUNNING, vd.Shutdown(task_id="s"), ["vm.stop_requested", "task.queued"]),
        (
            (*RUNNING, vd.Shutdown(task_id="s")),
            done("s", "stopped"),
            ["vm.stopped", "task.succeeded"],
        ),
        (RUNNING, vd.Reboot(task_id="r"), ["vm.reboot_requested", "task.queued"]),
        ((*RUNNING, vd.Reboot(task_id="r")), done("r"), ["vm.rebooted", "task.succeeded"]),
        (
            (*RUNNING, vd.Reboot(task_id="r")),
            done("r", "stopped"),
            ["vm.operation_failed", "task.failed"],
        ),
        (RUNNING, vd.Pause(task_id="p"), ["vm.pause_requested", "task.queued"]),
        ((*RUNNING, vd.Pause(task_id="p")), done("p", "paused"), ["vm.paused", "task.succeeded"]),
        (PAUSED, vd.Resume(task_id="u"), ["vm.resume_requested", "task.queued"]),
        ((*PAUSED, vd.Resume(task_id="u")), done("u"), ["vm.resumed", "task.succeeded"]),
        (PAUSED, vd.Stop(task_id="x"), ["vm.stop_requested", "task.queued"]),
        (
            STOPPED,
            vd.ConvertToTemplate(task_id="c"),
            ["vm.converted_to_template", "task.queued", "task.succeeded"],
        ),
        (
            TEMPLATE,
            vd.ConvertToVm(task_id="c2"),
            ["vm.converted_to_vm", "task.queued", "task.succeeded"],
        ),
        (TEMPLATE, vd.Delete(task_id="d"), ["vm.delete_requested", "task.queued"]),
        (
            (*STOPPED, vd.TakeSnapshot(task_id="s1", snapshot_id="a", name="a")),
            done("s1", "stopped"),
            ["vm.snapshot_created", "task.succeeded"],
        ),
    ],
)
def test_decide(history: Steps, command: vd.Command, expected: list[str]) -> None:
    assert types(given(*history, command)[len(given(*history)) :]) == expected


@pytest.mark.parametrize(
    ("history", "command", "error", "slug"),
    [
        (STOPPED, vd.Shutdown(task_id="x"), InvalidState, "invalid-state"),
        (PAUSED, vd.Shutdown(task_id="x"), InvalidState, "invalid-state"),
        (STOPPED, vd.Reboot(task_id="x"), InvalidState, "invalid-state"),
        (STOPPED, vd.Pause(task_id="x"), InvalidState, "invalid-state"),
        (PAUSED, vd.Pause(task_id="x"), InvalidState, "invalid-state"),
        (RUNNING, vd.Resume(task_id="x"), InvalidState, "invalid-state"),
        (STOPPED, vd.Resume(task_id="x"), InvalidState, "invalid-state"),
        (TEMPLATE, vd.Start(task_id="x"), InvalidState, "is-template"),
        (
            TEMPLATE,
            vd.TakeSnapshot(task_id="x", snapshot_id="s", name="s"),
            InvalidState,
            "is-template",
        ),
        (TEMPLATE, vd.ConvertToTemplate(task_id="x"), InvalidState, "invalid-state"),
        (STOPPED, vd.ConvertToVm(task_id="x"), InvalidState, "invalid-state"),
        (RUNNING, vd.ConvertToTemplate(task_id="x"), InvalidState, "invalid-state"),
        (
            TEMPLATE,
            vd.ConvertToVm(task_id="x", dependents=("clone-1",)),
            InvalidState,
            "has-linked-clones",
        ),
        (
            (*RUNNING, vd.Shutdown(task_id="s")),
            vd.Reboot(task_id="x"),
            OperationInProgress,
            "operation-in-progress",
        ),
        (RUNNING, vd.Delete(task_id="x"), InvalidState, "invalid-state"),
        (
            (
                *STOPPED,
                vd.TakeSnapshot(task_id="s1", snapshot_id="a", name="a"),
                done("s1", "stopped"),
            ),
            vd.Delete(task_id="x"),
            InvalidState,
            "has-snapshots",
        ),
        (STOPPED, vd.Delete(task_id="x", dependents=("c",)), InvalidState, "has-linked-clones"),
        # creation: bad specs
        ((), msgspec.structs.replace(SPEC, max_vcpus=1), InvalidRequest, "invalid-request"),
        ((), msgspec.structs.replace(SPEC, max_memory_mib=512), InvalidRequest, "invalid-request"),
        (
            (),
            msgspec.structs.replace(SPEC, disks=(ve.DiskSpec(disk_id="disk0", size_gib=0),)),
            InvalidRequest,
            "invalid-request",
        ),
        (
            (),
            msgspec.structs.replace(SPEC, nics=SPEC.nics * 2),
            InvalidRequest,
            "invalid-request",
        ),
        (
            (),
            msgspec.structs.replace(SPEC, initrd="/boot/initrd"),
            InvalidRequest,
            "invalid-request",
        ),
        (
            (),
            msgspec.structs.replace(SPEC, template=True, start=True),
            InvalidRequest,
            "is-template",
        ),
        (
            (),
            msgspec.structs.replace(
                SPEC, disks=tuple(ve.DiskSpec(disk_id=f"disk{i}", size_gib=1) for i in range(17))
            ),
            InvalidRequest,
            "too-many-disks",
        ),
    ],
)
def test_refused(history: Steps, command: vd.Command, error: type[DomainError], slug: str) -> None:
    with pytest.raises(error) as info:
        vd.decide(state(*history) if history else None, command)
    assert info.value.slug == slug


def test_graceful_shutdown_carries_its_timeout_and_forced_outcome() -> None:
    events = given(*RUNNING, vd.Shutdown(task_id="s", timeout_s=30, force_on_timeout=True))
    req = events[-2]
    assert isinstance(req, ve.VmStopRequested)
    assert (req.force, req.timeout_s, req.force_on_timeout) == (False, 30, True)
    vm = state(*RUNNING, vd.Shutdown(task_id="s"))
    assert vm.state == "stopping" and vm.pending is not None
    assert vm.pending.operation == "shutdown" and vm.pending.request is not None
    out = vd.decide(vm, done("s", "stopped", forced=True))
    assert isinstance(out[0], ve.VmStopped) and out[0].forced
    out = vd.decide(vm, done("s", "stopped"))
    assert isinstance(out[0], ve.VmStopped) and not out[0].forced


def test_hard_stop_is_forced_and_old_stop_keeps_its_default() -> None:
    vm = state(*RUNNING, vd.Stop(task_id="x"))
    assert vm.pending is not None and vm.pending.operation == "stop"
    out = vd.decide(vm, done("x", "stopped"))
    assert isinstance(out[0], ve.VmStopped) and out[0].forced
    assert ve.VmStopRequested(vm_id=VM).force is True


def test_failed_shutdown_leaves_the_vm_as_the_host_says() -> None:
    vm = state(
        *RUNNING,
        vd.Shutdown(task_id="s"),
        vd.Fail(task_id="s", reason="guest did not shut down", state="running"),
    )
    assert (vm.state, vm.error, vm.pending) == ("running", "guest did not shut down", None)
    vm = state(*RUNNING, vd.Pause(task_id="p"), vd.Fail(task_id="p", reason="boom"))
    assert vm.state == "running"  # the state before, when the host said nothing


def test_delete_carries_keep_disks_and_may_take_snapshots_along() -> None:
    with_snap = (
        *STOPPED,
        vd.TakeSnapshot(task_id="s1", snapshot_id="a", name="a"),
        done("s1", "stopped"),
    )
    events = given(*with_snap, vd.Delete(task_id="d", keep_disks=True, delete_snapshots=True))
    req = events[-2]
    assert isinstance(req, ve.VmDeleteRequested) and req.keep_disks


def test_template_round_trip() -> None:
    vm = state(*TEMPLATE)
    assert vm.template and vm.pending is None and vm.state == "stopped"
    assert not state(*TEMPLATE, vd.ConvertToVm(task_id="c2")).template


# ---------------------------------------------------------------- clones


def test_clone_copies_the_spec_with_new_macs_on_the_source_host() -> None:
    source = state(*TEMPLATE)
    create = vd.clone_command(
        source,
        vm_id="new",
        task_id="tc",
        name="copy",
        macs=["52:54:00:aa:bb:cc"],
        linked=True,
        vcpus=3,
    )
    assert create.host_id == HOST and create.clone_of == ve.CloneSource(vm_id=VM, linked=True)
    assert [d.disk_id for d in create.disks] == ["disk0", "disk1"]
    assert [n.mac for n in create.nics] == ["52:54:00:aa:bb:cc"]
    assert (create.vcpus, create.memory_mib, create.max_vcpus) == (3, 1024, 4)
    assert not create.template
    created = vd.decide(None, create)[0]
    assert isinstance(created, ve.VmCreated) and created.clone_of is not None


@pytest.mark.parametrize(
    ("history", "linked", "error", "slug"),
    [
        (RUNNING, False, InvalidState, "invalid-state"),
        (STOPPED, True, InvalidRequest, "linked-needs-template"),
        ((*STOPPED, vd.Start(task_id="t")), False, OperationInProgress, "operation-in-progress"),
        ((SPEC,), False, OperationInProgress, "operation-in-progress"),
    ],
)
def test_clone_refused(history: Steps, linked: bool, error: type[DomainError], slug: str) -> None:
    with pytest.raises(error) as info:
        vd.clone_command(
            state(*history), vm_id="n", task_id="t", name="c", macs=["m"], linked=linked
        )
    assert info.value.slug == slug


def test_clone_of_nothing_is_unknown() -> None:
    with pytest.raises(UnknownAggregate):
        vd.clone_command(None, vm_id="n", task_id="t", name="c", macs=[])


# ---------------------------------------------------------------- cancellation


def test_cancel_a_queued_task_returns_the_vm_to_its_state() -> None:
    vm = state(*RUNNING, vd.Pause(task_id="p"))
    out = vd.decide(vm, vd.Cancel(task_id="p"))
    assert types(out) == ["vm.operation_failed", "task.cancelled"]
    after = state(*RUNNING, vd.Pause(task_id="p"), vd.Cancel(task_id="p"))
    assert (after.state, after.pending) == ("running", None)
    started = state(*STOPPED, vd.Start(task_id="s"), vd.Cancel(task_id="s"))
    assert started.state == "stopped"


def test_cancel_a_creation_before_placement_deletes_it() -> None:
    out = vd.decide(state(SPEC), vd.Cancel(task_id="t1"))
    assert types(out) == ["vm.deleted", "task.cancelled"]
    assert state(SPEC, vd.Cancel(task_id="t1")).state == "deleted"


def test_cancel_a_dispatched_shutdown_asks_the_host() -> None:
    steps = (*RUNNING, vd.Shutdown(task_id="s"), vd.Dispatch(task_id="s", at=T0))
    out = vd.decide(state(*steps), vd.Cancel(task_id="s", reason="changed my mind"))
    assert types(out) == ["vm.cancel_requested"]
    asked = state(*steps, vd.Cancel(task_id="s"))
    assert asked.pending is not None and asked.pending.cancel_requested
    assert vd.decide(asked, vd.Cancel(task_id="s")) == []  # asked once
    ended = vd.decide(asked, vd.Fail(task_id="s", reason="cancelled", cancelled=True))
    assert types(ended) == ["vm.operation_failed", "task.cancelled"]
    assert isinstance(ended[0], ve.VmOperationFailed) and ended[0].state == "running"
    vm = state(*steps, vd.Cancel(task_id="s"), vd.Fail(task_id="s", reason="x", cancelled=True))
    assert (vm.state, vm.pending) == ("running", None)
    # the host finished first: the task succeeds after all
    assert types(vd.decide(asked, done("s", "stopped"))) == ["vm.stopped", "task.succeeded"]


def test_cancel_a_dispatched_clone_leaves_an_error_vm_to_delete() -> None:
    source = state(*STOPPED)
    clone = vd.clone_command(source, vm_id=VM, task_id="c", name="copy", macs=["m1"])
    steps: Steps = (clone, vd.Place(task_id="c", host_id=HOST, at=T0), vd.Cancel(task_id="c"))
    failed = vd.Fail(task_id="c", reason="cancelled", cancelled=True)
    vm = state(*steps, failed)
    assert vm.state == "error" and vm.pending is None
    assert types(given(*steps, failed, vd.Delete(task_id="d"))[-2:]) == [
        "vm.delete_requested",
        "task.queued",
    ]


@pytest.mark.parametrize(
    ("history", "task_id"),
    [
        ((*RUNNING, vd.Pause(task_id="p"), vd.Dispatch(task_id="p", at=T0)), "p"),
        ((*RUNNING, vd.Stop(task_id="x"), vd.Dispatch(task_id="x", at=T0)), "x"),
        ((SPEC, vd.Place(task_id="t1", host_id=HOST, at=T0)), "t1"),  # not a clone
        (RUNNING, "t2"),  # already ended
        ((*RUNNING, vd.Pause(task_id="p")), "other"),
    ],
)
def test_not_cancellable(history: Steps, task_id: str) -> None:
    with pytest.raises(InvalidState) as info:
        vd.decide(state(*history), vd.Cancel(task_id=task_id))
    assert info.value.slug == "not-cancellable"


def test_a_deadline_on_a_cancel_requested_task_is_a_failure() -> None:
    steps = (*RUNNING, vd.Shutdown(task_id="s"), vd.Dispatch(task_id="s", at=T0))
    vm = state(*steps, vd.Cancel(task_id="s"))
    out: list[Event] = vd.decide(vm, vd.Fail(task_id="s", reason="timeout", state="error"))
    assert isinstance(out[-1], te.TaskFailed)


def test_nic_addresses_are_observed_once() -> None:
    vm = state(*RUNNING)
    see = vd.ObserveAddress(host_id=HOST, nic_id="nic0", ip="10.0.0.5")
    assert types(vd.decide(vm, see)) == ["vm.nic_address_observed"]
    vm = state(*RUNNING, see)
    assert vm.nic_ips == {"nic0": "10.0.0.5"}
    assert vd.decide(vm, see) == []
    assert vd.decide(vm, vd.ObserveAddress(host_id="other", nic_id="nic0", ip="1.1.1.1")) == []
    assert vd.decide(vm, vd.ObserveAddress(host_id=HOST, nic_id="nic7", ip="1.1.1.1")) == []
    gone = state(*RUNNING, see, vd.ObserveAddress(host_id=HOST, nic_id="nic0", ip=""))
    assert gone.nic_ips == {}


def test_host_progress_is_a_task_event_once_per_percent() -> None:
    queued = state(*RUNNING, vd.Pause(task_id="p"))
    assert vd.decide(queued, vd.Progress(task_id="p", percent=10)) == []  # not sent yet
    steps = (*RUNNING, vd.Pause(task_id="p"), vd.Dispatch(task_id="p", at=T0))
    out = vd.decide(state(*steps), vd.Progress(task_id="p", percent=40, message="copying"))
    assert types(out) == ["task.progressed"]
    vm = state(*steps, vd.Progress(task_id="p", percent=40))
    assert vm.pending is not None and vm.pending.progressed_at == T0
    assert vd.decide(vm, vd.Progress(task_id="p", percent=40)) == []
    assert vd.decide(vm, vd.Progress(task_id="other", percent=50)) == []


def test_events_written_before_the_full_lifecycle_still_fold() -> None:
    golden = Path(__file__).parent.parent / "events" / "golden"
    raw = b",".join(
        (golden / f"{name}.json").read_bytes().strip()
        for name in ("vm.created", "vm.placed", "vm.defined", "vm.stop_requested")
    )
    vm: vd.Vm | None = None
    for env in decode_batch(b"[" + raw + b"]"):
        vm = vd.evolve(vm, env)
    assert vm is not None
    assert (vm.disks, vm.nics, vm.template, vm.snapshots) == ((), (), False, ())
    assert vm.state == "stopping" and vm.pending is not None
    assert vm.pending.operation == "stop"  # the first API's stop: a hard power-off
