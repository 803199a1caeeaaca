"""Builders for stored events, so read-model tests state streams as short scripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from events import host, task, vm
from events.base import Event, Meta, event_type, new_id, utcnow
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

    async def full_vm_lifecycle(self, host_id: str, name: str, *, upto: int | None = None) -> int:
        """Append ``full_lifecycle`` (its first ``upto`` messages) for a new VM."""
        v = new_id()
        seq = 0
        for events, t in full_lifecycle(v, host_id, name=name)[:upto]:
            seq = await self.append("vm", v, events, task_id=t)
        return seq


# ---------------------------------------------------------------- the full VM lifecycle

Message = tuple[list[Event], str]
"""The events of one decision and its task (correlation) id."""

DISK0 = vm.DiskSpec(disk_id="disk0", size_gib=10)
DISK1 = vm.DiskSpec(disk_id="disk1", size_gib=20, bus="sata")
NIC0 = vm.NicSpec(nic_id="nic0", mac="52:54:00:00:00:01")


def _op(v: str, t: str, operation: str, *events: Event) -> Message:
    queued = task.TaskQueued(task_id=t, operation=f"vm.{operation}", target_kind="vm", target_id=v)
    return [*events, queued], t


def _done(t: str, *events: Event) -> Message:
    return [*events, task.TaskSucceeded(task_id=t)], t


def full_lifecycle(v: str, h: str, *, name: str = "app-1") -> list[Message]:
    """Every kind of VM event, in an order the domain accepts: create with a full spec,
    snapshots, power, devices, resize, template conversion, cancel, delete."""
    n = iter(range(1000))

    def t() -> str:
        return f"{v}-t{next(n)}"

    out: list[Message] = []
    t1 = t()
    created = vm.VmCreated(
        vm_id=v,
        name=name,
        vcpus=2,
        memory_mib=2048,
        start=True,
        disks=(DISK0, DISK1),
        nics=(NIC0,),
        firmware="uefi",
        machine="q35",
        boot_order=("hd", "network"),
        max_vcpus=8,
        max_memory_mib=8192,
        cloud_init=vm.CloudInit(user_data="#cloud-config\n"),
    )
    out.append(_op(v, t1, "create", created))
    out.append(([vm.VmPlaced(vm_id=v, host_id=h), task.TaskRunning(task_id=t1, host_id=h)], t1))
    out.append(_done(t1, vm.VmDefined(vm_id=v, host_id=h), vm.VmStarted(vm_id=v, host_id=h)))
    s1 = t()
    out.append(
        _op(
            v,
            s1,
            "snapshot",
            vm.SnapshotRequested(vm_id=v, snapshot_id="s1", name="base", memory=True),
        )
    )
    out.append(
        _done(
            s1,
            vm.SnapshotCreated(
                vm_id=v, snapshot_id="s1", name="base", memory=True, vm_state="running"
            ),
        )
    )
    out.append(([vm.NicAddressObserved(vm_id=v, nic_id="nic0", ip="10.0.0.5")], s1))
    power: list[tuple[Event, Event]] = [
        (vm.VmRebootRequested(vm_id=v), vm.VmRebooted(vm_id=v, host_id=h)),
        (vm.VmPauseRequested(vm_id=v), vm.VmPaused(vm_id=v, host_id=h)),
        (vm.VmResumeRequested(vm_id=v), vm.VmResumed(vm_id=v, host_id=h)),
        (
            vm.VmStopRequested(vm_id=v, force=False, timeout_s=120),
            vm.VmStopped(vm_id=v, host_id=h),
        ),
    ]
    for requested, done in power:
        tid = t()
        word = event_type(requested).split(".")[1].removesuffix("_requested")
        out.append(_op(v, tid, "shutdown" if word == "stop" else word, requested))
        out.append(_done(tid, done))
    s2 = t()
    out.append(_op(v, s2, "snapshot", vm.SnapshotRequested(vm_id=v, snapshot_id="s2", name="two")))
    out.append(
        _done(
            s2,
            vm.SnapshotCreated(
                vm_id=v, snapshot_id="s2", name="two", parent_id="s1", description="after"
            ),
        )
    )
    disk2 = vm.DiskSpec(disk_id="disk2", size_gib=5, pool_id="fast")
    nic1 = vm.NicSpec(nic_id="nic1", mac="52:54:00:00:00:02", network_id="lab", model="e1000")
    parts: list[tuple[str, Event, Event]] = [
        (
            "attach_disk",
            vm.DiskAttachRequested(vm_id=v, disk=disk2),
            vm.DiskAttached(vm_id=v, disk=disk2),
        ),
        (
            "resize_disk",
            vm.DiskResizeRequested(vm_id=v, disk_id="disk0", size_gib=15),
            vm.DiskResized(vm_id=v, disk_id="disk0", size_gib=15),
        ),
        ("attach_nic", vm.NicAttachRequested(vm_id=v, nic=nic1), vm.NicAttached(vm_id=v, nic=nic1)),
        (
            "update_nic",
            vm.NicUpdateRequested(vm_id=v, nic_id="nic0", network_id="net2"),
            vm.NicUpdated(vm_id=v, nic_id="nic0", network_id="net2"),
        ),
        (
            "revert",
            vm.SnapshotRevertRequested(vm_id=v, snapshot_id="s1"),
            vm.SnapshotReverted(vm_id=v, snapshot_id="s1", state="running"),
        ),
        ("stop", vm.VmStopRequested(vm_id=v), vm.VmStopped(vm_id=v, host_id=h, forced=True)),
        (
            "delete_snapshot",
            vm.SnapshotDeleteRequested(vm_id=v, snapshot_id="s1"),
            vm.SnapshotDeleted(vm_id=v, snapshot_id="s1"),
        ),
        (
            "resize",
            vm.ResizeRequested(vm_id=v, vcpus=4, memory_mib=4096),
            vm.Resized(vm_id=v, vcpus=4, memory_mib=4096),
        ),
        (
            "detach_disk",
            vm.DiskDetachRequested(vm_id=v, disk_id="disk1", delete_volume=True),
            vm.DiskDetached(vm_id=v, disk_id="disk1"),
        ),
        (
            "detach_nic",
            vm.NicDetachRequested(vm_id=v, nic_id="nic1"),
            vm.NicDetached(vm_id=v, nic_id="nic1"),
        ),
    ]
    for operation, requested, done in parts:
        tid = t()
        out.append(_op(v, tid, operation, requested))
        out.append(_done(tid, done))
    out.append(([vm.VmConvertedToTemplate(vm_id=v)], t()))
    out.append(([vm.VmConvertedToVm(vm_id=v)], t()))
    tid = t()
    out.append(_op(v, tid, "start", vm.VmStartRequested(vm_id=v)))
    out.append(([vm.VmCancelRequested(vm_id=v, task_id=tid, reason="changed my mind")], tid))
    out.append(
        (
            [
                vm.VmOperationFailed(
                    vm_id=v, operation="start", reason="cancelled", state="stopped"
                ),
                task.TaskCancelled(task_id=tid, reason="changed my mind"),
            ],
            tid,
        )
    )
    tid = t()
    out.append(_op(v, tid, "delete", vm.VmDeleteRequested(vm_id=v, keep_disks=True)))
    out.append(_done(tid, vm.VmDeleted(vm_id=v, host_id=h)))
    return out
