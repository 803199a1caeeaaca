"""HA decisions on the VM aggregate: its protection settings and a restart elsewhere.

Pure like the rest of the domain. ``ConfigureHa`` is synchronous (``vm.ha_configured``
with a task that succeeds at once, as a conversion to a template). ``HaRestart`` moves a
VM whose host is down (or fenced it) to a host where capacity is already reserved: it
records ``vm.ha_restarted`` and opens the task ``vm.ha_restart``, which the host's answer
to ``order.define_vm`` completes like a creation (``vm.defined`` + ``vm.started``).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from controlplane.domain.errors import InvalidRequest, InvalidState, UnknownAggregate
from controlplane.domain.vm_rules import KIND, require_idle
from controlplane.domain.vm_state import Vm
from events import ha
from events import task as te
from events.base import Event

MAX_PRIORITY = 1000
# States in which a VM on a lost host is restarted: it was (or was becoming) powered on.
RESTARTABLE = frozenset({"running", "starting", "paused", "error"})


class ConfigureHa(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    enabled: bool
    priority: int = 0
    idempotency_key: str = ""


class HaRestart(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    from_host_id: str
    to_host_id: str
    reason: str = ""
    fenced: bool = False  # its host reported fencing it: a stopped VM is restarted too


class HaRestartFailed(msgspec.Struct, frozen=True, kw_only=True):
    from_host_id: str
    reason: str


Command = ConfigureHa | HaRestart | HaRestartFailed


def decide(vm: Vm | None, command: Command) -> list[Event]:
    if vm is None or vm.state == "deleted":
        raise UnknownAggregate(KIND, vm.vm_id if vm else "")
    match command:
        case ConfigureHa():
            if not 0 <= command.priority <= MAX_PRIORITY:
                raise InvalidRequest(f"priority must be between 0 and {MAX_PRIORITY}")
            if command.enabled and vm.template:
                raise InvalidState(f"{vm.name} is a template: it never runs", slug="is-template")
            if (vm.ha_enabled, vm.ha_priority) == (command.enabled, command.priority):
                return []
            return [
                ha.VmHaConfigured(
                    vm_id=vm.vm_id, enabled=command.enabled, priority=command.priority
                ),
                te.TaskQueued(
                    task_id=command.task_id,
                    operation="vm.set_ha",
                    target_kind=KIND,
                    target_id=vm.vm_id,
                    description=vm.name,
                    idempotency_key=command.idempotency_key,
                ),
                te.TaskSucceeded(task_id=command.task_id),
            ]
        case HaRestart():
            require_idle(vm)
            if vm.host_id != command.from_host_id:
                raise InvalidState(f"vm {vm.name} is no longer on host {command.from_host_id}")
            if not vm.ha_enabled:
                raise InvalidState(f"vm {vm.name} is not HA-protected")
            if vm.state not in RESTARTABLE and not (command.fenced and vm.state == "stopped"):
                raise InvalidState(f"vm {vm.name} is {vm.state}: HA restarts powered-on VMs")
            return [
                ha.VmHaRestarted(
                    vm_id=vm.vm_id,
                    from_host_id=command.from_host_id,
                    to_host_id=command.to_host_id,
                    reason=command.reason,
                ),
                te.TaskQueued(
                    task_id=command.task_id,
                    operation="vm.ha_restart",
                    target_kind=KIND,
                    target_id=vm.vm_id,
                    description=vm.name,
                ),
                te.TaskRunning(task_id=command.task_id, host_id=command.to_host_id),
            ]
        case HaRestartFailed():
            if vm.host_id != command.from_host_id:
                return []
            return [
                ha.VmHaRestartFailed(
                    vm_id=vm.vm_id, from_host_id=command.from_host_id, reason=command.reason
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def decider(command: Command) -> Callable[[Vm | None], list[Event]]:
    return lambda vm: decide(vm, command)
