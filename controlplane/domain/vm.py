"""The VM aggregate: its state, the commands it accepts and the events they produce.

A VM runs at most one operation at a time (``pending``), like vCenter's "another task is
already in progress". Every operation is a task: the decision that accepts a command emits
``task.queued`` beside the domain event, and the decision that completes it emits
``task.succeeded`` or ``task.failed`` beside the outcome, so the task can never disagree
with the VM.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import (
    AlreadyExists,
    InvalidState,
    OperationInProgress,
    UnknownAggregate,
)
from events import task as te
from events import vm as ve
from events.base import Event
from events.codec import Envelope

KIND = "vm"


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """The operation in flight: which task, and since when it was dispatched to a host."""

    task_id: str
    operation: str  # "create" | "start" | "stop" | "delete"
    queued_at: datetime | None = None
    dispatched_at: datetime | None = None
    host_id: str | None = None


class Vm(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    description: str = ""
    start_after_create: bool = False
    state: ve.VmState = "pending"
    host_id: str | None = None
    pending: Pending | None = None
    error: str = ""
    idempotency_keys: tuple[str, ...] = ()


# ---------------------------------------------------------------- commands


class Create(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    task_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False
    description: str = ""
    idempotency_key: str = ""


class Start(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    idempotency_key: str = ""


class Stop(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    force: bool = True
    idempotency_key: str = ""


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    idempotency_key: str = ""


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Placement reserved capacity on ``host_id``; the task is now running."""

    task_id: str
    host_id: str
    at: datetime


class FailPlacement(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    reason: str


class Dispatch(msgspec.Struct, frozen=True, kw_only=True):
    """The order for the pending task is about to be sent to the VM's host."""

    task_id: str
    at: datetime


class Complete(msgspec.Struct, frozen=True, kw_only=True):
    """The host reports the pending task's order done; ``state`` is what it sees now."""

    task_id: str
    host_id: str
    state: ve.VmState


class Fail(msgspec.Struct, frozen=True, kw_only=True):
    """The pending task failed (host error or deadline); ``state`` is the state after."""

    task_id: str
    reason: str
    state: ve.VmState | None = None


class Observe(msgspec.Struct, frozen=True, kw_only=True):
    """The host saw the VM in ``state`` without an operation of ours causing it."""

    host_id: str
    state: ve.VmState
    reason: str = ""


Command = (
    Create | Start | Stop | Delete | Place | FailPlacement | Dispatch | Complete | Fail | Observe
)

# ---------------------------------------------------------------- decide

_STARTABLE = {"stopped", "error"}
_STOPPABLE = {"running", "paused", "error"}
_DELETABLE = {"stopped", "error", "pending"}
# What a VM is believed to be when an operation failed without the host saying more.
_STATE_AFTER_FAILURE: dict[str, ve.VmState] = {
    "create": "error",
    "start": "stopped",
    "stop": "running",
}


def _task(command: Start | Stop | Delete | Create, operation: str, vm_id: str, name: str) -> Event:
    return te.TaskQueued(
        task_id=command.task_id,
        operation=f"vm.{operation}",
        target_kind=KIND,
        target_id=vm_id,
        description=name,
        idempotency_key=command.idempotency_key,
    )


def _require_idle(vm: Vm) -> None:
    if vm.pending is not None:
        raise OperationInProgress(vm.pending.task_id, vm.pending.operation)


def _is_current(vm: Vm, task_id: str) -> bool:
    return vm.pending is not None and vm.pending.task_id == task_id


def decide(vm: Vm | None, command: Command) -> list[Event]:
    """The events ``command`` produces against ``vm`` (``None`` = does not exist yet)."""
    if isinstance(command, Create):
        if vm is not None:
            raise AlreadyExists(f"vm {command.vm_id} already exists")
        return [
            ve.VmCreated(
                vm_id=command.vm_id,
                name=command.name,
                vcpus=command.vcpus,
                memory_mib=command.memory_mib,
                start=command.start,
                description=command.description,
            ),
            _task(command, "create", command.vm_id, command.name),
        ]
    if vm is None or vm.state == "deleted":
        raise UnknownAggregate(KIND, vm.vm_id if vm else "")
    match command:
        case Start():
            _require_idle(vm)
            if vm.state == "running":
                raise InvalidState(f"vm {vm.name} is already running")
            if vm.state not in _STARTABLE or vm.host_id is None:
                raise InvalidState(f"vm {vm.name} cannot be started while {vm.state}")
            return [
                ve.VmStartRequested(vm_id=vm.vm_id),
                _task(command, "start", vm.vm_id, vm.name),
            ]
        case Stop():
            _require_idle(vm)
            if vm.state == "stopped":
                raise InvalidState(f"vm {vm.name} is already stopped")
            if vm.state not in _STOPPABLE or vm.host_id is None:
                raise InvalidState(f"vm {vm.name} cannot be stopped while {vm.state}")
            return [
                ve.VmStopRequested(vm_id=vm.vm_id, force=command.force),
                _task(command, "stop", vm.vm_id, vm.name),
            ]
        case Delete():
            _require_idle(vm)
            if vm.state not in _DELETABLE:
                raise InvalidState(f"vm {vm.name} must be stopped before it is deleted")
            events: list[Event] = [
                ve.VmDeleteRequested(vm_id=vm.vm_id),
                _task(command, "delete", vm.vm_id, vm.name),
            ]
            if vm.host_id is None:  # never reached a host: nothing to undo anywhere
                events += [
                    ve.VmDeleted(vm_id=vm.vm_id),
                    te.TaskSucceeded(task_id=command.task_id),
                ]
            return events
        case Place():
            if not _is_current(vm, command.task_id) or vm.host_id is not None:
                return []
            return [
                ve.VmPlaced(vm_id=vm.vm_id, host_id=command.host_id),
                te.TaskRunning(task_id=command.task_id, host_id=command.host_id),
            ]
        case FailPlacement():
            if not _is_current(vm, command.task_id):
                return []
            return [
                ve.VmPlacementFailed(vm_id=vm.vm_id, reason=command.reason),
                te.TaskFailed(task_id=command.task_id, error=command.reason),
            ]
        case Dispatch():
            if not _is_current(vm, command.task_id) or vm.pending is None:
                return []
            if vm.pending.dispatched_at is not None:
                return []
            return [te.TaskRunning(task_id=command.task_id, host_id=vm.host_id)]
        case Complete():
            return _complete(vm, command)
        case Fail():
            if not _is_current(vm, command.task_id) or vm.pending is None:
                return []
            after = command.state or _STATE_AFTER_FAILURE.get(vm.pending.operation, vm.state)
            return [
                ve.VmOperationFailed(
                    vm_id=vm.vm_id,
                    operation=vm.pending.operation,
                    reason=command.reason,
                    state=after,
                ),
                te.TaskFailed(task_id=command.task_id, error=command.reason),
            ]
        case Observe():
            if command.host_id != vm.host_id or vm.pending is not None:
                return []
            if command.state == vm.state:
                return []
            return [
                ve.VmStateObserved(
                    vm_id=vm.vm_id,
                    host_id=command.host_id,
                    state=command.state,
                    reason=command.reason,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def _complete(vm: Vm, command: Complete) -> list[Event]:
    if command.host_id != vm.host_id:
        raise InvalidState(f"vm {vm.vm_id} is not on host {command.host_id}")
    if not _is_current(vm, command.task_id) or vm.pending is None:
        # A late answer for a task already closed (e.g. after its deadline): the host's
        # word about the VM's state still counts as an observation.
        return decide(
            vm,
            Observe(
                host_id=command.host_id,
                state=command.state,
                reason="reported after its task had ended",
            ),
        )
    op = vm.pending.operation
    done = te.TaskSucceeded(task_id=command.task_id)
    host = command.host_id
    if op == "create":
        events: list[Event] = [ve.VmDefined(vm_id=vm.vm_id, host_id=host)]
        if command.state == "running":
            events.append(ve.VmStarted(vm_id=vm.vm_id, host_id=host))
        elif vm.start_after_create:
            return [
                *events,
                ve.VmOperationFailed(
                    vm_id=vm.vm_id,
                    operation="start",
                    state=command.state,
                    reason=f"defined but the host reports it {command.state}",
                ),
                te.TaskFailed(
                    task_id=command.task_id,
                    error=f"VM was defined but did not start ({command.state})",
                ),
            ]
        return [*events, done]
    if op == "start":
        if command.state != "running":
            return decide(
                vm,
                Fail(
                    task_id=command.task_id,
                    state=command.state,
                    reason=f"host reports the VM {command.state} after start",
                ),
            )
        return [ve.VmStarted(vm_id=vm.vm_id, host_id=host), done]
    if op == "stop":
        if command.state != "stopped":
            return decide(
                vm,
                Fail(
                    task_id=command.task_id,
                    state=command.state,
                    reason=f"host reports the VM {command.state} after stop",
                ),
            )
        return [ve.VmStopped(vm_id=vm.vm_id, host_id=host), done]
    if op == "delete":
        return [ve.VmDeleted(vm_id=vm.vm_id, host_id=host), done]
    raise InvalidState(f"unknown operation {op}")


# ---------------------------------------------------------------- evolve


def evolve(vm: Vm | None, env: Envelope) -> Vm | None:
    """Fold one event into the state. Unknown events leave the state unchanged."""
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ve.VmCreated):
        return Vm(
            vm_id=e.vm_id,
            name=e.name,
            vcpus=e.vcpus,
            memory_mib=e.memory_mib,
            description=e.description,
            start_after_create=e.start,
        )
    if vm is None:
        return None
    match e:
        case te.TaskQueued():
            keys = (
                (*vm.idempotency_keys, e.idempotency_key)
                if e.idempotency_key
                else (vm.idempotency_keys)
            )
            pending = Pending(
                task_id=e.task_id, operation=e.operation.split(".")[-1], queued_at=env.occurred_at
            )
            return r(vm, pending=pending, idempotency_keys=keys)
        case te.TaskRunning():
            if vm.pending is None or vm.pending.task_id != e.task_id:
                return vm
            return r(vm, pending=r(vm.pending, dispatched_at=env.occurred_at, host_id=e.host_id))
        case te.TaskSucceeded() | te.TaskFailed() | te.TaskCancelled():
            if vm.pending is not None and vm.pending.task_id == e.task_id:
                return r(vm, pending=None)
            return vm
        case ve.VmPlaced():
            return r(vm, host_id=e.host_id)
        case ve.VmPlacementFailed():
            return r(vm, state="error", error=e.reason)
        case ve.VmDefined():
            return r(vm, state="stopped", host_id=e.host_id, error="")
        case ve.VmStartRequested():
            return r(vm, state="starting")
        case ve.VmStarted():
            return r(vm, state="running", error="")
        case ve.VmStopRequested():
            return r(vm, state="stopping")
        case ve.VmStopped():
            return r(vm, state="stopped", error="")
        case ve.VmDeleted():
            return r(vm, state="deleted")
        case ve.VmOperationFailed():
            return r(vm, state=e.state, error=e.reason)
        case ve.VmStateObserved():
            return r(vm, state=e.state, error=e.reason if e.state == "error" else vm.error)
    return vm


def decider(command: Command) -> Callable[[Vm | None], list[Event]]:
    """``decide`` bound to one command, as the command handler wants it."""
    return lambda vm: decide(vm, command)
