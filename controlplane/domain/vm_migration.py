"""The VM aggregate's decisions about moving between hosts (pure).

A migration is one task (``vm.migrate``) through these steps, each a decision on the VM:

1. ``Migrate`` → ``vm.migration_requested`` + ``task.queued``: only a running or stopped
   VM without another task, never a template pinned to its host's volumes.
2. ``StartMigration`` (the migration process reserved capacity on the destination) →
   ``vm.migration_started`` + ``task.running``; the VM shows ``migrating``.
3. (handoff mode) ``MigrationTargetReady`` (the destination defined/started it) →
   ``vm.migration_target_ready`` + ``task.progressed`` 50 %.
4. The source's ``OrderDone`` (``Complete``) → ``vm.migrated {from, to}`` +
   ``task.succeeded``: the VM's host changes in this one event.

Any failure (``Fail``: an order failed, a deadline passed, no destination) →
``vm.migration_failed`` + ``task.failed``; the VM stays on its source in the state it had,
and the process rolls the destination back.
"""

from __future__ import annotations

from controlplane.domain.errors import InvalidState
from controlplane.domain.vm_commands import (
    Complete,
    Fail,
    Migrate,
    MigrationTargetReady,
    StartMigration,
)
from controlplane.domain.vm_rules import require_idle, require_vm, task_queued
from controlplane.domain.vm_state import Vm
from events import task as te
from events import vm as ve
from events.base import Event

MIGRATABLE = ("running", "stopped")


def request(vm: Vm, command: Migrate) -> list[Event]:
    require_idle(vm)
    require_vm(vm, "be migrated")
    if vm.host_id is None or vm.state not in MIGRATABLE:
        raise InvalidState(
            f"vm {vm.name} cannot be migrated while {vm.state} (running or stopped only)"
        )
    if command.host_id is not None and command.host_id == vm.host_id:
        raise InvalidState(f"vm {vm.name} is already on host {command.host_id}")
    return [
        ve.VmMigrationRequested(
            vm_id=vm.vm_id,
            from_host_id=vm.host_id,
            host_id=command.host_id,
            reason=command.reason,
        ),
        task_queued(command, "migrate", vm.vm_id, vm.name),
    ]


def _current(vm: Vm, task_id: str) -> bool:
    p = vm.pending
    return p is not None and p.task_id == task_id and p.operation == "migrate"


def start(vm: Vm, command: StartMigration) -> list[Event]:
    if not _current(vm, command.task_id) or vm.migration is not None or vm.host_id is None:
        return []
    if command.to_host_id == vm.host_id:
        raise InvalidState(f"vm {vm.name} is already on host {command.to_host_id}")
    return [
        ve.VmMigrationStarted(
            vm_id=vm.vm_id,
            from_host_id=vm.host_id,
            to_host_id=command.to_host_id,
            mode=command.mode,
            live=vm.state == "running",
            decision=command.decision,
        ),
        te.TaskRunning(task_id=command.task_id, host_id=command.to_host_id),
    ]


def target_ready(vm: Vm, command: MigrationTargetReady) -> list[Event]:
    m = vm.migration
    if not _current(vm, command.task_id) or m is None or m.target_ready:
        return []
    if command.host_id != m.to_host_id:
        raise InvalidState(f"vm {vm.vm_id} is not migrating to host {command.host_id}")
    want = "running" if m.live else "stopped"
    if command.state != want:
        return failed(
            vm,
            Fail(
                task_id=command.task_id,
                reason=f"the destination reports the VM {command.state}, not {want}",
            ),
        )
    return [
        ve.VmMigrationTargetReady(vm_id=vm.vm_id, to_host_id=m.to_host_id, state=command.state),
        te.TaskProgressed(
            task_id=command.task_id, percent=50, message=f"{want} on the destination"
        ),
    ]


def completed(vm: Vm, command: Complete) -> list[Event]:
    """The source finished its part (handoff: destroyed+undefined; p2p: migrated)."""
    m = vm.migration
    p = vm.pending
    if m is None or p is None:
        raise InvalidState(f"vm {vm.vm_id} has no migration under way")
    if m.mode == "handoff" and not m.target_ready:
        raise InvalidState(f"vm {vm.vm_id}: the source answered before the destination")
    return [
        ve.VmMigrated(
            vm_id=vm.vm_id,
            from_host_id=m.from_host_id,
            to_host_id=m.to_host_id,
            state="running" if m.live else "stopped",
        ),
        te.TaskSucceeded(task_id=command.task_id, message=command.note),
    ]


def failed(vm: Vm, command: Fail) -> list[Event]:
    """Roll back to the source: the VM is still there in the state it had before."""
    p = vm.pending
    if p is None or p.task_id != command.task_id:
        return []
    m = vm.migration
    before: ve.VmState = p.state_before if p.state_before in MIGRATABLE else "running"
    if m is not None:
        before = "running" if m.live else "stopped"
    return [
        ve.VmMigrationFailed(
            vm_id=vm.vm_id,
            from_host_id=vm.host_id or "",
            to_host_id=m.to_host_id if m else None,
            reason=command.reason,
            state=before,
        ),
        te.TaskFailed(task_id=command.task_id, error=command.reason),
    ]
