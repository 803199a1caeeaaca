"""VM decide/evolve as tables: given events, when command, then events or error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlplane.domain import vm as vd
from controlplane.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidState,
    OperationInProgress,
    UnknownAggregate,
)
from events.base import Event, Meta, event_type
from events.codec import wrap

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VM = "0190a0b2-7c3d-7e11-8a2b-1c2d3e4f5a6b"
HOST = "host-1"


def fold(events: list[Event]) -> vd.Vm | None:
    state: vd.Vm | None = None
    for env in wrap("vm", VM, events, Meta(actor="t", occurred_at=T0)):
        state = vd.evolve(state, env)
    return state


def given(*steps: vd.Command) -> list[Event]:
    """The events of a sequence of accepted commands."""
    out: list[Event] = []
    for cmd in steps:
        out += vd.decide(fold(out), cmd)
    return out


CREATE = vd.Create(vm_id=VM, task_id="t1", name="web-1", vcpus=2, memory_mib=1024)
CREATE_START = vd.Create(vm_id=VM, task_id="t1", name="web-1", vcpus=2, memory_mib=1024, start=True)
PLACE = vd.Place(task_id="t1", host_id=HOST, at=T0)
DEFINED = vd.Complete(task_id="t1", host_id=HOST, state="stopped")
STOPPED_VM = (CREATE, PLACE, DEFINED)
RUNNING_VM = (CREATE_START, PLACE, vd.Complete(task_id="t1", host_id=HOST, state="running"))


def types(events: list[Event]) -> list[str]:
    return [event_type(e) for e in events]


@pytest.mark.parametrize(
    ("history", "command", "expected"),
    [
        ((), CREATE, ["vm.created", "task.queued"]),
        ((CREATE,), PLACE, ["vm.placed", "task.running"]),
        ((CREATE, PLACE), PLACE, []),  # redelivered placement: nothing new
        (
            (CREATE,),
            vd.FailPlacement(task_id="t1", reason="full"),
            ["vm.placement_failed", "task.failed"],
        ),
        ((CREATE, PLACE), DEFINED, ["vm.defined", "task.succeeded"]),
        (
            (CREATE_START, PLACE),
            vd.Complete(task_id="t1", host_id=HOST, state="running"),
            ["vm.defined", "vm.started", "task.succeeded"],
        ),
        (
            (CREATE_START, PLACE),
            vd.Complete(task_id="t1", host_id=HOST, state="stopped"),
            ["vm.defined", "vm.operation_failed", "task.failed"],
        ),
        (STOPPED_VM, vd.Start(task_id="t2"), ["vm.start_requested", "task.queued"]),
        ((*STOPPED_VM, vd.Start(task_id="t2")), vd.Dispatch(task_id="t2", at=T0), ["task.running"]),
        (
            (*STOPPED_VM, vd.Start(task_id="t2"), vd.Dispatch(task_id="t2", at=T0)),
            vd.Dispatch(task_id="t2", at=T0),
            [],
        ),
        (
            (*STOPPED_VM, vd.Start(task_id="t2")),
            vd.Complete(task_id="t2", host_id=HOST, state="running"),
            ["vm.started", "task.succeeded"],
        ),
        (
            (*STOPPED_VM, vd.Start(task_id="t2")),
            vd.Fail(task_id="t2", reason="boom"),
            ["vm.operation_failed", "task.failed"],
        ),
        (RUNNING_VM, vd.Stop(task_id="t3"), ["vm.stop_requested", "task.queued"]),
        (
            (*RUNNING_VM, vd.Stop(task_id="t3")),
            vd.Complete(task_id="t3", host_id=HOST, state="stopped"),
            ["vm.stopped", "task.succeeded"],
        ),
        (STOPPED_VM, vd.Delete(task_id="t4"), ["vm.delete_requested", "task.queued"]),
        (
            (*STOPPED_VM, vd.Delete(task_id="t4")),
            vd.Complete(task_id="t4", host_id=HOST, state="stopped"),
            ["vm.deleted", "task.succeeded"],
        ),
        # never placed: deleting needs no host
        (
            (CREATE, vd.FailPlacement(task_id="t1", reason="full")),
            vd.Delete(task_id="t5"),
            ["vm.delete_requested", "task.queued", "vm.deleted", "task.succeeded"],
        ),
        (
            RUNNING_VM,
            vd.Observe(host_id=HOST, state="stopped", reason="crashed"),
            ["vm.state_observed"],
        ),
        (RUNNING_VM, vd.Observe(host_id=HOST, state="running"), []),
        (RUNNING_VM, vd.Observe(host_id="other", state="stopped"), []),
        # a late answer for a closed task counts as an observation
        (
            (
                *STOPPED_VM,
                vd.Start(task_id="t2"),
                vd.Fail(task_id="t2", reason="timeout", state="error"),
            ),
            vd.Complete(task_id="t2", host_id=HOST, state="running"),
            ["vm.state_observed"],
        ),
    ],
)
def test_decide(history: tuple[vd.Command, ...], command: vd.Command, expected: list[str]) -> None:
    assert types(vd.decide(fold(given(*history)), command)) == expected


@pytest.mark.parametrize(
    ("history", "command", "error"),
    [
        ((), vd.Start(task_id="t"), UnknownAggregate),
        ((CREATE,), CREATE, AlreadyExists),
        (RUNNING_VM, vd.Start(task_id="t"), InvalidState),
        (STOPPED_VM, vd.Stop(task_id="t"), InvalidState),
        (RUNNING_VM, vd.Delete(task_id="t"), InvalidState),
        ((CREATE,), vd.Start(task_id="t"), OperationInProgress),
        ((*STOPPED_VM, vd.Start(task_id="t2")), vd.Stop(task_id="t"), OperationInProgress),
        (
            (
                *STOPPED_VM,
                vd.Delete(task_id="t4"),
                vd.Complete(task_id="t4", host_id=HOST, state="stopped"),
            ),
            vd.Start(task_id="t"),
            UnknownAggregate,
        ),
        (
            (CREATE, PLACE),
            vd.Complete(task_id="t1", host_id="intruder", state="running"),
            InvalidState,
        ),
    ],
)
def test_refused(
    history: tuple[vd.Command, ...], command: vd.Command, error: type[DomainError]
) -> None:
    with pytest.raises(error):
        vd.decide(fold(given(*history)), command)


def test_evolve_follows_the_lifecycle() -> None:
    vm = fold(given(*RUNNING_VM))
    assert vm is not None
    assert (vm.state, vm.host_id, vm.pending) == ("running", HOST, None)
    vm = fold(given(*RUNNING_VM, vd.Stop(task_id="t3")))
    assert vm is not None and vm.state == "stopping" and vm.pending is not None
    vm = fold(
        given(
            *STOPPED_VM,
            vd.Delete(task_id="t4"),
            vd.Complete(task_id="t4", host_id=HOST, state="stopped"),
        )
    )
    assert vm is not None and vm.state == "deleted"


def test_failed_start_returns_to_stopped_and_records_the_reason() -> None:
    vm = fold(given(*STOPPED_VM, vd.Start(task_id="t2"), vd.Fail(task_id="t2", reason="boom")))
    assert vm is not None
    assert (vm.state, vm.error, vm.pending) == ("stopped", "boom", None)


def test_idempotency_keys_are_remembered() -> None:
    vm = fold(
        given(
            vd.Create(
                vm_id=VM, task_id="t1", name="a", vcpus=1, memory_mib=64, idempotency_key="k1"
            )
        )
    )
    assert vm is not None and vm.idempotency_keys == ("k1",)
