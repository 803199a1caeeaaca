"""Host decide/evolve as tables, and placement ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlplane import placement
from controlplane.domain import host as hd
from controlplane.domain.errors import InsufficientCapacity, UnknownAggregate
from events.base import Event, Meta, event_type
from events.codec import wrap

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ENROLL = hd.Enroll(
    host_id="h1",
    name="sim-1",
    uri="test:///default",
    cpus=4,
    memory_mib=4096,
    cpu_overcommit=2.0,
    memory_overcommit=1.0,
)


def fold(events: list[Event], host_id: str = "h1") -> hd.Host | None:
    state: hd.Host | None = None
    for env in wrap("host", host_id, events, Meta(actor="t", occurred_at=T0)):
        state = hd.evolve(state, env)
    return state


def given(*steps: hd.Command) -> list[Event]:
    out: list[Event] = []
    for cmd in steps:
        out += hd.decide(fold(out), cmd)
    return out


R1 = hd.Reserve(vm_id="v1", vcpus=4, memory_mib=2048)
R2 = hd.Reserve(vm_id="v2", vcpus=4, memory_mib=2048)


@pytest.mark.parametrize(
    ("history", "command", "expected"),
    [
        ((), ENROLL, ["host.enrolled"]),
        ((ENROLL,), ENROLL, []),
        (
            (ENROLL,),
            hd.Enroll(**{**{f: getattr(ENROLL, f) for f in ENROLL.__struct_fields__}, "cpus": 8}),
            ["host.facts_updated"],
        ),
        ((ENROLL, hd.MarkDisconnected(reason="x")), ENROLL, ["host.connected"]),
        ((ENROLL,), R1, ["host.capacity_reserved"]),
        ((ENROLL, R1), R1, []),  # same VM twice: one reservation
        ((ENROLL, R1), R2, ["host.capacity_reserved"]),  # 8 vCPUs = 4 cpus x 2.0
        ((ENROLL, R1), hd.Release(vm_id="v1"), ["host.capacity_released"]),
        ((ENROLL,), hd.Release(vm_id="v1"), []),
        ((ENROLL,), hd.MarkDisconnected(reason="silent"), ["host.disconnected"]),
        ((ENROLL,), hd.MarkConnected(), []),
    ],
)
def test_decide(history: tuple[hd.Command, ...], command: hd.Command, expected: list[str]) -> None:
    assert [event_type(e) for e in hd.decide(fold(given(*history)), command)] == expected


@pytest.mark.parametrize(
    ("history", "command"),
    [
        ((ENROLL, R1, R2), hd.Reserve(vm_id="v3", vcpus=1, memory_mib=1)),
        ((ENROLL,), hd.Reserve(vm_id="v3", vcpus=1, memory_mib=5000)),
        ((ENROLL, hd.MarkDisconnected(reason="x")), R1),
    ],
)
def test_reservation_refused(history: tuple[hd.Command, ...], command: hd.Command) -> None:
    with pytest.raises(InsufficientCapacity):
        hd.decide(fold(given(*history)), command)


def test_unknown_host() -> None:
    with pytest.raises(UnknownAggregate):
        hd.decide(None, R1)


def test_allocation_follows_reservations() -> None:
    host = fold(given(ENROLL, R1, R2, hd.Release(vm_id="v1")))
    assert host is not None
    assert (host.allocated_vcpus, host.allocated_memory_mib) == (4, 2048)


def test_placement_spreads_and_explains() -> None:
    big = fold(given(ENROLL))
    small = fold(
        given(
            hd.Enroll(
                host_id="h2",
                name="sim-2",
                uri="u",
                cpus=2,
                memory_mib=1024,
                cpu_overcommit=1.0,
                memory_overcommit=1.0,
            )
        ),
        "h2",
    )
    down = fold(
        given(
            hd.Enroll(
                host_id="h3",
                name="sim-3",
                uri="u",
                cpus=64,
                memory_mib=65536,
                cpu_overcommit=1.0,
                memory_overcommit=1.0,
            ),
            hd.MarkDisconnected(reason="x"),
        ),
        "h3",
    )
    assert big and small and down
    reasons: list[str] = []
    ranked = placement.rank([small, big, down], 2, 1024, reasons)
    assert [h.host_id for h in ranked] == ["h1", "h2"]
    assert reasons == ["host sim-3 is disconnected"]
    assert placement.rank([small], 4, 512) == []


def test_resize_of_a_reservation_grows_within_capacity_and_always_shrinks() -> None:
    base = (ENROLL, hd.Reserve(vm_id="v1", vcpus=2, memory_mib=1024))
    grown = fold(given(*base, hd.Resize(vm_id="v1", vcpus=6, memory_mib=3072)))
    assert grown is not None and grown.reservations["v1"] == hd.Reservation(6, 3072)
    assert (grown.allocated_vcpus, grown.allocated_memory_mib) == (6, 3072)
    with pytest.raises(InsufficientCapacity):
        hd.decide(fold(given(*base)), hd.Resize(vm_id="v1", vcpus=2, memory_mib=5000))
    with pytest.raises(InsufficientCapacity):
        hd.decide(fold(given(*base)), hd.Resize(vm_id="v1", vcpus=9, memory_mib=1024))
    shrunk = fold(given(*base, hd.Resize(vm_id="v1", vcpus=1, memory_mib=512)))
    assert shrunk is not None and shrunk.reservations["v1"] == hd.Reservation(1, 512)
    same = hd.decide(fold(given(*base)), hd.Resize(vm_id="v1", vcpus=2, memory_mib=1024))
    assert same == []
    disconnected = (*base, hd.MarkDisconnected(reason="gone"))
    shrink_anyway = hd.decide(
        fold(given(*disconnected)), hd.Resize(vm_id="v1", vcpus=1, memory_mib=1)
    )
    assert [event_type(e) for e in shrink_anyway] == ["host.capacity_reserved"]
    with pytest.raises(InsufficientCapacity):
        hd.decide(fold(given(*disconnected)), hd.Resize(vm_id="v1", vcpus=3, memory_mib=1024))
