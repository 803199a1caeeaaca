"""The VM aggregate: the commands it accepts and the events they produce.

A VM runs at most one operation at a time (``pending``), like vCenter's "another task is
already in progress". Every operation is a task: the decision that accepts a command emits
``task.queued`` beside the domain event, and the decision that completes it emits
``task.succeeded``, ``task.failed`` or ``task.cancelled`` beside the outcome, so the task
can never disagree with the VM. Power and lifecycle decisions are here; the VM's parts
(snapshots, disks, NICs, CPU/memory) are decided in ``vm_devices``, creation and clones in
``vm_create``; the state and its ``evolve`` live in ``vm_state`` and the commands in
``vm_commands`` (all re-exported here).

States a request moves the VM to: ``start_requested`` → ``starting``, ``stop_requested``
(hard or graceful) → ``stopping``; every other request leaves the state as it is until the
outcome (``paused``, ``running`` after resume/reboot, the host's word after a revert).
"""

from __future__ import annotations

from collections.abc import Callable

from controlplane.domain import vm_create, vm_devices, vm_migration
from controlplane.domain.errors import (
    AlreadyExists,
    InvalidState,
    UnknownAggregate,
)
from controlplane.domain.vm_commands import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    AttachDisk,
    AttachNic,
    Cancel,
    Command,
    Complete,
    ConvertToTemplate,
    ConvertToVm,
    Create,
    Delete,
    DeleteSnapshot,
    DetachDisk,
    DetachNic,
    Dispatch,
    Fail,
    FailPlacement,
    Migrate,
    MigrationTargetReady,
    Observe,
    ObserveAddress,
    Pause,
    Place,
    Progress,
    Reboot,
    Request,
    Resize,
    ResizeDisk,
    Resume,
    RevertSnapshot,
    Shutdown,
    Start,
    StartMigration,
    Stop,
    TakeSnapshot,
    UpdateNic,
)
from controlplane.domain.vm_create import clone_command
from controlplane.domain.vm_rules import (
    KIND,
    is_current,
    require_idle,
    require_state,
    require_vm,
    task_queued,
)
from controlplane.domain.vm_state import Pending, Snapshot, Vm, evolve
from events import task as te
from events import vm as ve
from events.base import Event

__all__ = [
    "KIND",
    "AttachDisk",
    "AttachNic",
    "Cancel",
    "Command",
    "Complete",
    "ConvertToTemplate",
    "ConvertToVm",
    "Create",
    "Delete",
    "DeleteSnapshot",
    "DetachDisk",
    "DetachNic",
    "Dispatch",
    "Fail",
    "FailPlacement",
    "Migrate",
    "MigrationTargetReady",
    "Observe",
    "ObserveAddress",
    "Pause",
    "Pending",
    "Place",
    "Progress",
    "Reboot",
    "Request",
    "Resize",
    "ResizeDisk",
    "Resume",
    "RevertSnapshot",
    "Shutdown",
    "Snapshot",
    "Start",
    "StartMigration",
    "Stop",
    "TakeSnapshot",
    "UpdateNic",
    "Vm",
    "clone_command",
    "decide",
    "decider",
    "evolve",
]

_STARTABLE = {"stopped", "error"}
_STOPPABLE = {"running", "paused", "error"}
_DELETABLE = {"stopped", "error", "pending"}
# What a VM is believed to be when an operation failed without the host saying more;
# any other operation leaves it as it was when the operation was asked for.
_STATE_AFTER_FAILURE: dict[str, ve.VmState] = {
    "create": "error",
    "start": "stopped",
    "ha_restart": "error",
}
CANCELLED = "cancelled"


def decide(vm: Vm | None, command: Command) -> list[Event]:
    """The events ``command`` produces against ``vm`` (``None`` = does not exist yet)."""
    if isinstance(command, Create):
        if vm is not None:
            raise AlreadyExists(f"vm {command.vm_id} already exists")
        return vm_create.create(command)
    if vm is None or vm.state == "deleted":
        raise UnknownAggregate(KIND, vm.vm_id if vm else "")
    match command:
        case (
            TakeSnapshot()
            | RevertSnapshot()
            | DeleteSnapshot()
            | AttachDisk()
            | DetachDisk()
            | ResizeDisk()
            | AttachNic()
            | DetachNic()
            | UpdateNic()
            | Resize()
        ):
            return vm_devices.decide(vm, command)
        case Start() | Stop() | Shutdown() | Reboot() | Pause() | Resume():
            return _power(vm, command)
        case Delete():
            return _delete(vm, command)
        case ConvertToTemplate() | ConvertToVm():
            return _convert(vm, command)
        case Cancel():
            return _cancel(vm, command)
        case Migrate():
            return vm_migration.request(vm, command)
        case StartMigration():
            return vm_migration.start(vm, command)
        case MigrationTargetReady():
            return vm_migration.target_ready(vm, command)
        case Place():
            if not is_current(vm, command.task_id) or vm.host_id is not None:
                return []
            return [
                ve.VmPlaced(vm_id=vm.vm_id, host_id=command.host_id, decision=command.decision),
                te.TaskRunning(task_id=command.task_id, host_id=command.host_id),
            ]
        case FailPlacement():
            if not is_current(vm, command.task_id):
                return []
            return [
                ve.VmPlacementFailed(vm_id=vm.vm_id, reason=command.reason),
                te.TaskFailed(task_id=command.task_id, error=command.reason),
            ]
        case Dispatch():
            if not is_current(vm, command.task_id) or vm.pending is None:
                return []
            if vm.pending.dispatched_at is not None:
                return []
            return [te.TaskRunning(task_id=command.task_id, host_id=vm.host_id)]
        case Complete():
            return _complete(vm, command)
        case Progress():
            p = vm.pending
            if p is None or p.task_id != command.task_id or p.dispatched_at is None:
                return []
            if command.percent == p.percent and p.progressed_at is not None:
                return []
            return [
                te.TaskProgressed(
                    task_id=command.task_id,
                    percent=max(0, min(100, command.percent)),
                    message=command.message,
                )
            ]
        case Fail():
            return _fail(vm, command)
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
        case ObserveAddress():
            if command.host_id != vm.host_id or vm.nic(command.nic_id) is None:
                return []
            if vm.nic_ips.get(command.nic_id, "") == command.ip:
                return []
            return [ve.NicAddressObserved(vm_id=vm.vm_id, nic_id=command.nic_id, ip=command.ip)]
    raise TypeError(f"unknown command {command!r}")


# ---------------------------------------------------------------- power


def _power(vm: Vm, command: Start | Stop | Shutdown | Reboot | Pause | Resume) -> list[Event]:
    require_idle(vm)
    event: Event
    match command:
        case Start():
            require_vm(vm, "be started")
            if vm.state == "running":
                raise InvalidState(f"vm {vm.name} is already running")
            require_state(vm, _STARTABLE, "be started")
            event, op = ve.VmStartRequested(vm_id=vm.vm_id), "start"
        case Stop() if command.force:
            if vm.state == "stopped":
                raise InvalidState(f"vm {vm.name} is already stopped")
            require_state(vm, _STOPPABLE, "be stopped")
            event, op = ve.VmStopRequested(vm_id=vm.vm_id, force=True), "stop"
        case Stop() | Shutdown():
            if vm.state == "stopped":
                raise InvalidState(f"vm {vm.name} is already stopped")
            require_state(vm, ("running",), "be shut down")
            timeout, force_after = (
                (command.timeout_s, command.force_on_timeout)
                if isinstance(command, Shutdown)
                else (DEFAULT_SHUTDOWN_TIMEOUT_S, False)
            )
            event = ve.VmStopRequested(
                vm_id=vm.vm_id, force=False, timeout_s=timeout, force_on_timeout=force_after
            )
            op = "shutdown"
        case Reboot():
            require_state(vm, ("running",), "be rebooted")
            event, op = ve.VmRebootRequested(vm_id=vm.vm_id, force=command.force), "reboot"
        case Pause():
            if vm.state == "paused":
                raise InvalidState(f"vm {vm.name} is already paused")
            require_state(vm, ("running",), "be paused")
            event, op = ve.VmPauseRequested(vm_id=vm.vm_id), "pause"
        case Resume():
            if vm.state == "running":
                raise InvalidState(f"vm {vm.name} is already running")
            require_state(vm, ("paused",), "be resumed")
            event, op = ve.VmResumeRequested(vm_id=vm.vm_id), "resume"
    return [event, task_queued(command, op, vm.vm_id, vm.name)]


def _delete(vm: Vm, command: Delete) -> list[Event]:
    require_idle(vm)
    if vm.state not in _DELETABLE:
        raise InvalidState(f"vm {vm.name} must be stopped before it is deleted")
    if vm.snapshots and not command.delete_snapshots:
        raise InvalidState(
            f"vm {vm.name} has {len(vm.snapshots)} snapshots: delete them, or ask to delete "
            "them with the VM (delete_snapshots=true)",
            slug="has-snapshots",
        )
    if command.dependents:
        raise InvalidState(
            f"{vm.name} backs linked clones ({', '.join(command.dependents)}): delete them first",
            slug="has-linked-clones",
        )
    events: list[Event] = [
        ve.VmDeleteRequested(vm_id=vm.vm_id, keep_disks=command.keep_disks),
        task_queued(command, "delete", vm.vm_id, vm.name),
    ]
    if vm.host_id is None:  # never reached a host: nothing to undo anywhere
        events += [ve.VmDeleted(vm_id=vm.vm_id), te.TaskSucceeded(task_id=command.task_id)]
    return events


def _convert(vm: Vm, command: ConvertToTemplate | ConvertToVm) -> list[Event]:
    """Synchronous: the host's domain does not change, only what LimiQuantix allows."""
    require_idle(vm)
    if isinstance(command, ConvertToTemplate):
        if vm.template:
            raise InvalidState(f"{vm.name} is already a template")
        require_state(vm, ("stopped",), "become a template")
        event: Event = ve.VmConvertedToTemplate(vm_id=vm.vm_id)
        op = "convert_to_template"
    else:
        if not vm.template:
            raise InvalidState(f"{vm.name} is not a template")
        if command.dependents:
            raise InvalidState(
                f"{vm.name} backs linked clones ({', '.join(command.dependents)}); as a VM "
                "it would change their disks",
                slug="has-linked-clones",
            )
        event, op = ve.VmConvertedToVm(vm_id=vm.vm_id), "convert_to_vm"
    return [
        event,
        task_queued(command, op, vm.vm_id, vm.name),
        te.TaskSucceeded(task_id=command.task_id),
    ]


# ---------------------------------------------------------------- cancellation


def cancellable(vm: Vm) -> bool:
    """Whether the pending task may be cancelled now (queued, or waiting where it is safe)."""
    p = vm.pending
    if p is None:
        return False
    if p.dispatched_at is None:
        return p.operation not in ("convert_to_template", "convert_to_vm")
    return p.operation == "shutdown" or (p.operation == "create" and vm.clone_of is not None)


def _cancel(vm: Vm, command: Cancel) -> list[Event]:
    p = vm.pending
    if p is None or p.task_id != command.task_id:
        raise InvalidState(f"task {command.task_id} has already ended", slug="not-cancellable")
    if p.cancel_requested:
        return []
    if not cancellable(vm):
        raise InvalidState(
            f"{p.operation} of {vm.name} is under way on its host and cannot be stopped safely",
            slug="not-cancellable",
        )
    reason = command.reason or CANCELLED
    if p.dispatched_at is None:
        if p.operation == "create":  # never placed: nothing exists anywhere
            return [
                ve.VmDeleted(vm_id=vm.vm_id),
                te.TaskCancelled(task_id=p.task_id, reason=reason),
            ]
        return _cancelled(vm, p, reason, None)
    return [ve.VmCancelRequested(vm_id=vm.vm_id, task_id=p.task_id, reason=command.reason)]


def _cancelled(vm: Vm, p: Pending, reason: str, state: ve.VmState | None) -> list[Event]:
    if p.operation == "create":
        after: ve.VmState = "error"
        why = "creation cancelled: delete the VM to remove what its host kept"
    else:
        after = state or p.state_before or vm.state
        why = f"{p.operation} cancelled"
    return [
        ve.VmOperationFailed(vm_id=vm.vm_id, operation=p.operation, reason=why, state=after),
        te.TaskCancelled(task_id=p.task_id, reason=reason),
    ]


# ---------------------------------------------------------------- outcomes


def _fail(vm: Vm, command: Fail) -> list[Event]:
    p = vm.pending
    if p is None or p.task_id != command.task_id:
        return []
    if command.cancelled and p.cancel_requested:
        return _cancelled(vm, p, CANCELLED, command.state)
    if p.operation == "migrate":
        return vm_migration.failed(vm, command)
    after = command.state or _STATE_AFTER_FAILURE.get(p.operation) or p.state_before or vm.state
    if p.operation == "start" and p.state_before == "error" and command.state is None:
        after = "error"  # a start that failed repaired nothing (the host may have no domain)
    return [
        ve.VmOperationFailed(
            vm_id=vm.vm_id, operation=p.operation, reason=command.reason, state=after
        ),
        te.TaskFailed(task_id=command.task_id, error=command.reason),
    ]


# The state each power operation must end in, and the event recording it.
_POWER_OUTCOME: dict[str, ve.VmState] = {
    "start": "running",
    "stop": "stopped",
    "shutdown": "stopped",
    "reboot": "running",
    "pause": "paused",
    "resume": "running",
}


def _complete(vm: Vm, command: Complete) -> list[Event]:
    if command.host_id != vm.host_id:
        raise InvalidState(f"vm {vm.vm_id} is not on host {command.host_id}")
    p = vm.pending
    if p is None or p.task_id != command.task_id:
        # A late answer for a task already closed (e.g. after its deadline): the host's
        # word about the VM's state still counts as an observation.
        gone = command.state == "deleted"  # e.g. a migration's source answering too late
        return decide(
            vm,
            Observe(
                host_id=command.host_id,
                state="error" if gone else command.state,
                reason="the host no longer has the VM (answer after its task had ended)"
                if gone
                else "reported after its task had ended",
            ),
        )
    op = p.operation
    done = te.TaskSucceeded(task_id=command.task_id, message=command.note)
    host = command.host_id
    if op in ("create", "ha_restart"):  # an HA restart defines the VM on its new host
        return _created(vm, command, done)
    if op == "migrate":
        return vm_migration.completed(vm, command)
    if op == "delete":
        return [ve.VmDeleted(vm_id=vm.vm_id, host_id=host), done]
    if op in _POWER_OUTCOME:
        want = _POWER_OUTCOME[op]
        if command.state != want:
            return _fail(
                vm,
                Fail(
                    task_id=command.task_id,
                    state=command.state,
                    reason=f"host reports the VM {command.state} after {op}",
                ),
            )
        event: Event
        match op:
            case "start":
                event = ve.VmStarted(vm_id=vm.vm_id, host_id=host)
            case "stop" | "shutdown":
                forced = command.forced or op == "stop"
                event = ve.VmStopped(vm_id=vm.vm_id, host_id=host, forced=forced)
            case "reboot":
                event = ve.VmRebooted(vm_id=vm.vm_id, host_id=host)
            case "pause":
                event = ve.VmPaused(vm_id=vm.vm_id, host_id=host)
            case _:
                event = ve.VmResumed(vm_id=vm.vm_id, host_id=host)
        return [event, done]
    events = vm_devices.outcome(vm, p, command)
    if events is None:
        raise InvalidState(f"unknown operation {op}")
    return events


def _created(vm: Vm, command: Complete, done: Event) -> list[Event]:
    events: list[Event] = [ve.VmDefined(vm_id=vm.vm_id, host_id=command.host_id)]
    if command.state == "running":
        events.append(ve.VmStarted(vm_id=vm.vm_id, host_id=command.host_id))
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


def decider(command: Command) -> Callable[[Vm | None], list[Event]]:
    """``decide`` bound to one command, as the command handler wants it."""
    return lambda vm: decide(vm, command)
