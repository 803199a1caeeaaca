"""Shared givens for the VM domain tables: a VM folded from the events of commands."""

from __future__ import annotations

from datetime import UTC, datetime

from controlplane.domain import vm as vd
from events import vm as ve
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


def state(*steps: vd.Command) -> vd.Vm:
    vm = fold(given(*steps))
    assert vm is not None
    return vm


def types(events: list[Event]) -> list[str]:
    return [event_type(e) for e in events]


DISKS = (
    ve.DiskSpec(disk_id="disk0", size_gib=10),
    ve.DiskSpec(disk_id="disk1", size_gib=20, bus="scsi"),
)
NICS = (ve.NicSpec(nic_id="nic0", mac="52:54:00:00:00:01"),)
SPEC = vd.Create(
    vm_id=VM,
    task_id="t1",
    name="web-1",
    vcpus=2,
    memory_mib=1024,
    disks=DISKS,
    nics=NICS,
    max_vcpus=4,
    max_memory_mib=4096,
)
PLACE = vd.Place(task_id="t1", host_id=HOST, at=T0)
STOPPED = (SPEC, PLACE, vd.Complete(task_id="t1", host_id=HOST, state="stopped"))
RUNNING = (
    *STOPPED,
    vd.Start(task_id="t2"),
    vd.Complete(task_id="t2", host_id=HOST, state="running"),
)
PAUSED = (*RUNNING, vd.Pause(task_id="t3"), vd.Complete(task_id="t3", host_id=HOST, state="paused"))
TEMPLATE = (*STOPPED, vd.ConvertToTemplate(task_id="t9"))


def done(task_id: str, vm_state: ve.VmState = "running", **kw: object) -> vd.Complete:
    return vd.Complete(task_id=task_id, host_id=HOST, state=vm_state, **kw)  # type: ignore[arg-type]
