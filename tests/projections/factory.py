"""Builders for stored events, so read-model tests state streams as short scripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from events import host, task, vm
from events.base import Event, Meta, new_id, utcnow
from events.codec import StoredEvent, wrap
from events.store import EventStore

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Stream:
    """Stored events with sparse, increasing stream sequences (as JetStream gives them)."""

    def __init__(self, start: int = 0, gap: int = 2) -> None:
        self.seq = start
        self.gap = gap
        self.clock = T0

    def msg(
        self,
        kind: str,
        aggregate_id: str,
        events: Sequence[Event],
        *,
        actor: str = "user:alice",
        task_id: str | None = None,
    ) -> list[StoredEvent]:
        """The events of one message (one decision)."""
        self.seq += self.gap
        self.clock += timedelta(seconds=1)
        meta = Meta(actor=actor, occurred_at=self.clock, correlation_id=task_id)
        envs = wrap(kind, aggregate_id, events, meta)
        return [StoredEvent(seq=self.seq, index=i, envelope=e) for i, e in enumerate(envs)]


def vm_id() -> str:
    return new_id()


class Writer:
    """Appends realistic decisions to a real event store, tracking expected versions."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.versions: dict[tuple[str, str], int] = {}
        self.events = 0
        self.sizes: dict[int, int] = {}  # stream sequence -> events in that message

    async def append(
        self,
        kind: str,
        ident: str,
        events: Sequence[Event],
        *,
        task_id: str | None = None,
        actor: str = "user:alice",
    ) -> int:
        meta = Meta(actor=actor, occurred_at=utcnow(), correlation_id=task_id)
        result = await self.store.append(
            kind, ident, wrap(kind, ident, events, meta), self.versions.get((kind, ident), 0)
        )
        self.versions[(kind, ident)] = result.seq
        self.events += len(events)
        self.sizes[result.seq] = len(events)
        return result.seq

    async def enrol(self, host_id: str) -> int:
        return await self.append(
            "host",
            host_id,
            [
                host.HostEnrolled(
                    host_id=host_id,
                    name=f"hv-{host_id}",
                    uri="qemu:///system",
                    cpus=64,
                    memory_mib=262144,
                )
            ],
            actor=f"agent:{host_id}",
        )

    async def vm_lifecycle(
        self, host_id: str, name: str, *, stop: bool = False, reserve: bool = True
    ) -> int:
        """Create, place, define and start a VM (and stop it): the messages a create makes."""
        v, t = new_id(), new_id()
        await self.append(
            "vm",
            v,
            [
                vm.VmCreated(vm_id=v, name=name, vcpus=2, memory_mib=1024, start=True),
                task.TaskQueued(task_id=t, operation="vm.create", target_kind="vm", target_id=v),
            ],
            task_id=t,
        )
        if reserve:  # concurrent writers skip it: they would race on the host's subject
            await self.append(
                "host",
                host_id,
                [host.HostCapacityReserved(host_id=host_id, vm_id=v, vcpus=2, memory_mib=1024)],
                task_id=t,
            )
        await self.append(
            "vm",
            v,
            [vm.VmPlaced(vm_id=v, host_id=host_id), task.TaskRunning(task_id=t, host_id=host_id)],
            task_id=t,
        )
        await self.append(
            "vm",
            v,
            [
                vm.VmDefined(vm_id=v, host_id=host_id),
                vm.VmStarted(vm_id=v, host_id=host_id),
                task.TaskSucceeded(task_id=t),
            ],
            task_id=t,
        )
        if stop:
            t2 = new_id()
            await self.append(
                "vm",
                v,
                [
                    vm.VmStopRequested(vm_id=v),
                    task.TaskQueued(task_id=t2, operation="vm.stop", target_kind="vm", target_id=v),
                ],
                task_id=t2,
            )
            return await self.append(
                "vm",
                v,
                [vm.VmStopped(vm_id=v, host_id=host_id), task.TaskSucceeded(task_id=t2)],
                task_id=t2,
            )
        return self.versions[("vm", v)]
