"""Checks shared by every VM decision: one operation at a time, templates stay still,
and the ``task.queued`` that opens each operation's task."""

from __future__ import annotations

from collections.abc import Collection

from controlplane.domain.errors import InvalidState, OperationInProgress
from controlplane.domain.vm_commands import Create, Request
from controlplane.domain.vm_state import Vm
from events import task as te
from events.base import Event

KIND = "vm"

MAX_DISKS = 16
MAX_NICS = 16


def task_queued(command: Request | Create, operation: str, vm_id: str, name: str) -> Event:
    return te.TaskQueued(
        task_id=command.task_id,
        operation=f"vm.{operation}",
        target_kind=KIND,
        target_id=vm_id,
        description=name,
        idempotency_key=command.idempotency_key,
    )


def require_idle(vm: Vm) -> None:
    if vm.pending is not None:
        raise OperationInProgress(vm.pending.task_id, vm.pending.operation)


def require_vm(vm: Vm, what: str) -> None:
    """Templates only get cloned, converted back or deleted."""
    if vm.template:
        raise InvalidState(f"{vm.name} is a template: it cannot {what}", slug="is-template")


def require_state(vm: Vm, allowed: Collection[str], what: str) -> None:
    if vm.state not in allowed or vm.host_id is None:
        raise InvalidState(f"vm {vm.name} cannot {what} while {vm.state}")


def is_current(vm: Vm, task_id: str) -> bool:
    return vm.pending is not None and vm.pending.task_id == task_id
