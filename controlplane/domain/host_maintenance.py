"""Maintenance mode, labels and cluster membership of the host aggregate (pure).

Entering maintenance is a task on the host (``host.enter_maintenance``): the host stops
taking VMs at once (``Reserve`` refuses any host that is not ``connected``), the VMs it
must move away are listed in ``host.maintenance_entered``, and each one's migration is
recorded as ``host.evacuation_progressed`` (started, migrated, failed) with
``task.progressed`` — the per-VM progress. When the last one ended: ``host.evacuated`` and
the task succeeds, or fails naming the VMs that could not move (the host stays in
maintenance either way; leaving it is ``ExitMaintenance``). Whether the VMs fit elsewhere
is checked before the command is decided (``controlplane.evacuation.plan``).

Removal (``Remove``) is the end of the aggregate: ``host.removed`` folds to no host, so its
reservations go with it (nothing is released twice) and a later enrolment starts afresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from controlplane.domain.errors import InvalidState
from events import host as he
from events import task as te
from events.base import Event
from events.codec import Envelope

if TYPE_CHECKING:
    from controlplane.domain.host import Host

KIND = "host"


class Evacuation(msgspec.Struct, frozen=True, kw_only=True):
    """An enter-maintenance task moving VMs away: who is still to go, who could not."""

    task_id: str
    total: int
    remaining: tuple[str, ...] = ()
    started: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class EnterMaintenance(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    migrating: tuple[str, ...] = ()
    staying: tuple[str, ...] = ()
    idempotency_key: str = ""


class ExitMaintenance(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    idempotency_key: str = ""


class EvacuationProgress(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    vm_id: str
    migration_task_id: str
    outcome: Literal["started", "migrated", "failed"]
    message: str = ""


class SetLabels(msgspec.Struct, frozen=True, kw_only=True):
    labels: dict[str, str]


class SetCluster(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: str | None


class Remove(msgspec.Struct, frozen=True, kw_only=True):
    """Take the host out of the inventory. ``vm_ids``: the VMs still assigned to it (or
    holding capacity on it), looked up by the caller; any refuses the removal."""

    force: bool = False
    vm_ids: tuple[str, ...] = ()


Command = EnterMaintenance | ExitMaintenance | EvacuationProgress | SetLabels | SetCluster | Remove


def _queued(task_id: str, op: str, host: Host, key: str) -> te.TaskQueued:
    return te.TaskQueued(
        task_id=task_id,
        operation=f"host.{op}",
        target_kind=KIND,
        target_id=host.host_id,
        description=host.name,
        idempotency_key=key,
    )


def decide(host: Host, command: Command) -> list[Event]:
    match command:
        case EnterMaintenance():
            if host.state == "maintenance":
                raise InvalidState(f"host {host.name} is already in maintenance")
            if host.state != "connected":
                raise InvalidState(f"host {host.name} is {host.state}: it cannot enter maintenance")
            events: list[Event] = [
                he.HostMaintenanceEntered(
                    host_id=host.host_id, migrating=command.migrating, staying=command.staying
                ),
                _queued(command.task_id, "enter_maintenance", host, command.idempotency_key),
                te.TaskRunning(task_id=command.task_id, host_id=host.host_id),
            ]
            if not command.migrating:
                events += [
                    he.HostEvacuated(host_id=host.host_id),
                    te.TaskSucceeded(task_id=command.task_id, message="no VM had to move"),
                ]
            return events
        case ExitMaintenance():
            if host.state != "maintenance":
                raise InvalidState(f"host {host.name} is not in maintenance")
            if host.evacuation is not None:
                raise InvalidState(
                    f"host {host.name} is still moving {len(host.evacuation.remaining)} VMs away"
                )
            return [
                he.HostMaintenanceExited(host_id=host.host_id),
                _queued(command.task_id, "exit_maintenance", host, command.idempotency_key),
                te.TaskSucceeded(task_id=command.task_id),
            ]
        case EvacuationProgress():
            return _progress(host, command)
        case SetLabels():
            if command.labels == host.labels:
                return []
            return [he.HostLabelsUpdated(host_id=host.host_id, labels=dict(command.labels))]
        case SetCluster():
            if command.cluster_id == host.cluster_id:
                return []
            return [he.HostClusterChanged(host_id=host.host_id, cluster_id=command.cluster_id)]
        case Remove():
            return _remove(host, command)
    raise TypeError(f"unknown command {command!r}")


def _remove(host: Host, c: Remove) -> list[Event]:
    """Only an idle host leaves: in maintenance with its evacuation over, or lost (``down``
    or ``disconnected``) when the operator insists; never one with VMs."""
    if c.vm_ids:
        raise InvalidState(
            f"host {host.name} still has {len(c.vm_ids)} VMs: " + ", ".join(c.vm_ids),
            slug="host-has-vms",
        )
    if host.state == "maintenance":
        if host.evacuation is not None:
            raise InvalidState(
                f"host {host.name} is still moving {len(host.evacuation.remaining)} VMs away"
            )
    elif host.state in ("down", "disconnected"):
        if not c.force:
            raise InvalidState(
                f"host {host.name} is {host.state}: put it into maintenance first, or remove "
                "it with force",
                slug="not-in-maintenance",
            )
    else:
        raise InvalidState(
            f"host {host.name} is {host.state}: put it into maintenance first",
            slug="not-in-maintenance",
        )
    return [he.HostRemoved(host_id=host.host_id, name=host.name, forced=c.force)]


def _progress(host: Host, c: EvacuationProgress) -> list[Event]:
    ev = host.evacuation
    if ev is None or ev.task_id != c.task_id or c.vm_id not in ev.remaining:
        return []
    if c.outcome == "started" and c.vm_id in ev.started:
        return []
    progressed = he.HostEvacuationProgressed(
        host_id=host.host_id,
        vm_id=c.vm_id,
        migration_task_id=c.migration_task_id,
        outcome=c.outcome,
        message=c.message,
    )
    if c.outcome == "started":
        return [progressed]
    left = len(ev.remaining) - 1
    failed = (*ev.failed, c.vm_id) if c.outcome == "failed" else ev.failed
    done = ev.total - left
    events: list[Event] = [
        progressed,
        te.TaskProgressed(
            task_id=c.task_id,
            percent=int(100 * done / max(ev.total, 1)),
            message=f"{done} of {ev.total} VMs handled"
            + (f", {len(failed)} could not move" if failed else ""),
        ),
    ]
    if left == 0:
        events.append(he.HostEvacuated(host_id=host.host_id, failed=failed))
        if failed:
            events.append(
                te.TaskFailed(
                    task_id=c.task_id,
                    error=f"{len(failed)} of {ev.total} VMs could not be moved away: "
                    + ", ".join(failed),
                )
            )
        else:
            events.append(te.TaskSucceeded(task_id=c.task_id, message=f"{ev.total} VMs moved"))
    return events


def evolve(host: Host, env: Envelope) -> Host:
    e = env.event
    r = msgspec.structs.replace
    match e:
        case he.HostMaintenanceEntered():
            ev = (
                Evacuation(
                    task_id=env.correlation_id or "",
                    total=len(e.migrating),
                    remaining=e.migrating,
                )
                if e.migrating
                else None
            )
            return r(host, state="maintenance", evacuation=ev)
        case he.HostEvacuationProgressed():
            ev = host.evacuation
            if ev is None:
                return host
            if e.outcome == "started":
                return r(host, evacuation=r(ev, started=(*ev.started, e.vm_id)))
            remaining = tuple(v for v in ev.remaining if v != e.vm_id)
            failed = (*ev.failed, e.vm_id) if e.outcome == "failed" else ev.failed
            return r(host, evacuation=r(ev, remaining=remaining, failed=failed))
        case he.HostEvacuated():
            return r(host, evacuation=None)
        case he.HostMaintenanceExited():
            return r(host, state="connected")
        case he.HostLabelsUpdated():
            return r(host, labels=dict(e.labels))
        case he.HostClusterChanged():
            return r(host, cluster_id=e.cluster_id)
    return host
