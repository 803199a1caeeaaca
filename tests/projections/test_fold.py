"""Fold rules of the read model, one event type at a time, through ``apply_batch``."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from events import host, task, vm
from events.base import Event, new_id
from events.codec import StoredEvent
from projections import schema
from projections.batch import CheckpointRewound, apply_batch, notify_payload
from projections.schema import checkpoint
from projections.tables import Change
from tests.projections.factory import Stream

Conn = psycopg.AsyncConnection[Any]


async def row(conn: Conn, table: str, ident: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT * FROM {table} WHERE id = %s", [ident])
        found = await cur.fetchone()
    await conn.commit()
    assert found is not None, f"no {table} row {ident}"
    return found


async def count(conn: Conn, sql: str) -> int:
    cur = await conn.execute(sql)
    found = await cur.fetchone()
    await conn.commit()
    assert found is not None
    return int(found[0])


class World:
    """A host and a VM placed on it, applied one message at a time."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.s = Stream()
        self.host_id = new_id()
        self.vm_id = new_id()
        self.task_id = new_id()

    async def apply(self, kind: str, ident: str, *events: Event, **kw: Any) -> list[Change]:
        return await apply_batch(self.conn, self.s.msg(kind, ident, events, **kw))

    async def vm(self, *events: Event, task_id: str | None = None) -> list[Change]:
        return await self.apply("vm", self.vm_id, *events, task_id=task_id or self.task_id)

    async def host(self, *events: Event) -> list[Change]:
        return await self.apply("host", self.host_id, *events, actor="agent:h1")

    async def setup(self) -> None:
        await self.host(
            host.HostEnrolled(
                host_id=self.host_id,
                name="hv-1",
                uri="qemu+tcp://hv-1/system",
                cpus=16,
                memory_mib=65536,
                labels={"rack": "a"},
            )
        )
        await self.vm(
            vm.VmCreated(
                vm_id=self.vm_id,
                name="web-1",
                vcpus=2,
                memory_mib=2048,
                start=True,
                description="front",
            ),
            task.TaskQueued(
                task_id=self.task_id, operation="vm.create", target_kind="vm", target_id=self.vm_id
            ),
        )


@pytest.fixture
async def world(conn: Conn) -> World:
    w = World(conn)
    await w.setup()
    return w


async def test_vm_created_makes_pending_row_and_queued_task(world: World) -> None:
    r = await row(world.conn, "vms", world.vm_id)
    assert r["name"] == "web-1" and r["state"] == "pending" and r["vcpus"] == 2
    assert r["memory_mib"] == 2048 and r["description"] == "front" and r["start"] is True
    assert r["task_id"] == world.task_id and r["seq"] == world.s.seq
    assert r["created_at"] == r["updated_at"] == world.s.clock
    t = await row(world.conn, "tasks", world.task_id)
    assert t["state"] == "queued" and t["operation"] == "vm.create"
    assert t["target_name"] == "web-1" and t["actor"] == "user:alice"
    assert t["created_at"] == world.s.clock and t["progress"] == 0


async def test_vm_lifecycle_states(world: World) -> None:
    w, v, h = world, world.vm_id, world.host_id
    steps: list[tuple[Event, str]] = [
        (vm.VmPlaced(vm_id=v, host_id=h), "pending"),
        (vm.VmDefined(vm_id=v, host_id=h), "stopped"),
        (vm.VmStartRequested(vm_id=v), "starting"),
        (vm.VmStarted(vm_id=v, host_id=h), "running"),
        (vm.VmStopRequested(vm_id=v), "stopping"),
        (vm.VmStopped(vm_id=v, host_id=h), "stopped"),
        (vm.VmStateObserved(vm_id=v, host_id=h, state="paused", reason="virsh"), "paused"),
        (vm.VmDeleteRequested(vm_id=v), "paused"),
        (vm.VmDeleted(vm_id=v, host_id=h), "deleted"),
    ]
    for event, state in steps:
        changes = await w.vm(event)
        r = await row(w.conn, "vms", v)
        assert r["state"] == state, event
        assert r["seq"] == w.s.seq and r["updated_at"] == w.s.clock
        assert Change("vm", v, w.s.seq) in changes
    r = await row(w.conn, "vms", v)
    assert r["host_id"] == h and r["host_name"] == "hv-1"


async def test_vm_failures_set_state_and_error(world: World) -> None:
    w, v = world, world.vm_id
    await w.vm(vm.VmPlacementFailed(vm_id=v, reason="no host has 2 vCPUs free"))
    r = await row(w.conn, "vms", v)
    assert (r["state"], r["error"]) == ("error", "no host has 2 vCPUs free")
    other = new_id()
    await w.vm(vm.VmStartRequested(vm_id=v), task_id=other)
    r = await row(w.conn, "vms", v)
    assert r["error"] is None and r["task_id"] == other
    await w.vm(vm.VmOperationFailed(vm_id=v, operation="start", reason="boom", state="stopped"))
    r = await row(w.conn, "vms", v)
    assert (r["state"], r["error"]) == ("stopped", "boom")


async def test_host_enrolled_connected_disconnected_facts(world: World) -> None:
    w, h = world, world.host_id
    r = await row(w.conn, "hosts", h)
    assert r["state"] == "connected" and r["labels"] == {"rack": "a"} and r["cpus"] == 16
    assert r["cpu_overcommit"] == 4.0 and r["vm_count"] == 0
    await w.host(host.HostDisconnected(host_id=h, reason="heartbeat lost"))
    r = await row(w.conn, "hosts", h)
    assert (r["state"], r["reason"]) == ("disconnected", "heartbeat lost")
    await w.host(host.HostConnected(host_id=h))
    await w.host(
        host.HostFactsUpdated(host_id=h, uri="qemu+tls://hv-1/system", cpus=32, memory_mib=131072)
    )
    r = await row(w.conn, "hosts", h)
    assert r["state"] == "connected" and r["cpus"] == 32 and r["uri"].startswith("qemu+tls")
    assert r["memory_mib"] == 131072 and r["seq"] == w.s.seq


async def test_capacity_reservations_are_exact_and_idempotent(world: World) -> None:
    w, h = world, world.host_id
    a, b = new_id(), new_id()
    await w.host(host.HostCapacityReserved(host_id=h, vm_id=a, vcpus=2, memory_mib=2048))
    await w.host(host.HostCapacityReserved(host_id=h, vm_id=b, vcpus=4, memory_mib=4096))
    # reserving again replaces the old amounts
    await w.host(host.HostCapacityReserved(host_id=h, vm_id=a, vcpus=1, memory_mib=1024))
    r = await row(w.conn, "hosts", h)
    assert (r["allocated_vcpus"], r["allocated_memory_mib"], r["vm_count"]) == (5, 5120, 2)
    await w.host(host.HostCapacityReleased(host_id=h, vm_id=a))
    await w.host(host.HostCapacityReleased(host_id=h, vm_id=a))  # nothing left to release
    r = await row(w.conn, "hosts", h)
    assert (r["allocated_vcpus"], r["allocated_memory_mib"], r["vm_count"]) == (4, 4096, 1)
    assert await count(w.conn, "SELECT count(*) FROM reservations") == 1


async def test_host_rename_follows_into_vms(world: World) -> None:
    w, h = world, world.host_id
    await w.vm(vm.VmPlaced(vm_id=w.vm_id, host_id=h))
    await w.host(
        host.HostEnrolled(host_id=h, name="hv-1b", uri="qemu:///system", cpus=16, memory_mib=65536)
    )
    assert (await row(w.conn, "vms", w.vm_id))["host_name"] == "hv-1b"


async def test_task_lifecycle(world: World) -> None:
    w, t, h = world, world.task_id, world.host_id
    await w.vm(task.TaskRunning(task_id=t, host_id=h))
    r = await row(w.conn, "tasks", t)
    assert r["state"] == "running" and r["started_at"] == w.s.clock and r["host_id"] == h
    await w.vm(task.TaskProgressed(task_id=t, percent=140, message="copying"))
    r = await row(w.conn, "tasks", t)
    assert (r["progress"], r["message"]) == (100, "copying")
    await w.vm(task.TaskSucceeded(task_id=t, message="done"))
    r = await row(w.conn, "tasks", t)
    assert (r["state"], r["message"], r["finished_at"]) == ("succeeded", "done", w.s.clock)


@pytest.mark.parametrize(
    ("event", "state", "column", "value"),
    [
        (task.TaskFailed(task_id="T", error="disk full"), "failed", "error", "disk full"),
        (task.TaskCancelled(task_id="T", reason="by user"), "cancelled", "message", "by user"),
    ],
)
async def test_task_ends(conn: Conn, event: Event, state: str, column: str, value: str) -> None:
    s = Stream()
    queued = task.TaskQueued(task_id="T", operation="vm.stop", target_kind="vm", target_id="x")
    await apply_batch(conn, s.msg("vm", "x", [queued], task_id="T"))
    await apply_batch(conn, s.msg("vm", "x", [event], task_id="T"))
    r = await row(conn, "tasks", "T")
    assert r["state"] == state and r[column] == value and r["finished_at"] == s.clock
    assert r["target_name"] is None  # the VM is unknown to this read model


async def test_same_batch_twice_applies_once(conn: Conn) -> None:
    w = World(conn)
    await w.setup()
    batch = w.s.msg(
        "host",
        w.host_id,
        [host.HostCapacityReserved(host_id=w.host_id, vm_id="v", vcpus=3, memory_mib=300)],
    )
    first = await apply_batch(conn, batch)
    again = await apply_batch(conn, batch)
    assert first and again == []
    r = await row(conn, "hosts", w.host_id)
    assert (r["allocated_vcpus"], r["vm_count"]) == (3, 1)
    assert await count(conn, "SELECT count(*) FROM events") == 4


async def test_checkpoint_moves_in_the_same_transaction(conn: Conn) -> None:
    s = Stream()
    good = s.msg(
        "host", "h", [host.HostEnrolled(host_id="h", name="h", uri="u", cpus=1, memory_mib=1)]
    )
    await apply_batch(conn, good)
    assert await checkpoint(conn) == s.seq
    await conn.commit()
    # a batch that fails half-way (duplicate audit key) leaves nothing behind
    dup = StoredEvent(seq=s.seq + 5, index=0, envelope=good[0].envelope)
    bad = [*s.msg("host", "h", [host.HostDisconnected(host_id="h")]), dup, dup]
    with pytest.raises(psycopg.errors.UniqueViolation):
        await apply_batch(conn, bad)
    await conn.rollback()
    assert await count(conn, "SELECT seq FROM checkpoint") == good[0].seq
    assert (await row(conn, "hosts", "h"))["state"] == "connected"
    assert await count(conn, "SELECT count(*) FROM events") == 1


async def test_rewound_checkpoint_is_reported(conn: Conn) -> None:
    s = Stream()
    batch = s.msg("host", "h", [host.HostConnected(host_id="h")])
    with pytest.raises(CheckpointRewound) as info:
        await apply_batch(conn, batch, expected=100)
    assert info.value.checkpoint == 0


class VmTeleported(Event, frozen=True, kw_only=True, tag="vm.teleported"):
    """A type from a newer LimiQuantix that this read model does not know."""

    vm_id: str
    vcpus: int


async def test_unknown_event_types_are_audited_only(world: World) -> None:
    w = world
    before = await row(w.conn, "vms", w.vm_id)
    changes = await w.vm(VmTeleported(vm_id=w.vm_id, vcpus=64))
    assert changes == []
    assert await row(w.conn, "vms", w.vm_id) == before
    assert await checkpoint(w.conn) == w.s.seq
    async with w.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM events WHERE type = 'vm.teleported'")
        ev = await cur.fetchone()
    assert ev is not None and ev["data"] == {"type": "vm.teleported", "vm_id": w.vm_id, "vcpus": 64}
    assert ev["aggregate_id"] == w.vm_id and ev["correlation_id"] == w.task_id


async def test_audit_row_keeps_the_envelope(world: World) -> None:
    async with world.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM events WHERE type = 'task.queued'")
        ev = await cur.fetchone()
    assert ev is not None
    assert ev["index"] == 1 and ev["aggregate_kind"] == "vm" and ev["actor"] == "user:alice"
    assert ev["schema_version"] == 1 and ev["data"]["task_id"] == world.task_id
    assert ev["occurred_at"] == world.s.clock


async def test_batch_boundaries_do_not_change_the_result(pg_url: str) -> None:
    s = Stream()
    h, v, t = "h", "v", "t"
    stream = [
        *s.msg(
            "host", h, [host.HostEnrolled(host_id=h, name="hv", uri="u", cpus=4, memory_mib=4096)]
        ),
        *s.msg(
            "vm",
            v,
            [
                task.TaskQueued(task_id=t, operation="vm.create", target_kind="vm", target_id=v),
                vm.VmCreated(vm_id=v, name="db", vcpus=1, memory_mib=512),
            ],
            task_id=t,
        ),
        *s.msg("vm", v, [vm.VmPlaced(vm_id=v, host_id=h)], task_id=t),
        *s.msg(
            "host",
            h,
            [host.HostCapacityReserved(host_id=h, vm_id=v, vcpus=1, memory_mib=512)],
            task_id=t,
        ),
        *s.msg(
            "vm", v, [vm.VmDefined(vm_id=v, host_id=h), task.TaskSucceeded(task_id=t)], task_id=t
        ),
    ]
    results = []
    for cut in (1, 3, len(stream)):
        async with await psycopg.AsyncConnection.connect(pg_url) as c:
            name = f"cut{cut}"
            await schema.create(c, name)
            await schema.use_schema(c, name)
            i = 0
            while i < len(stream):
                j = min(i + cut, len(stream))
                while j < len(stream) and stream[j].seq == stream[j - 1].seq:
                    j += 1
                await apply_batch(c, stream[i:j])
                i = j
            got = {}
            for table in ("vms", "hosts", "tasks"):
                cur = await c.execute(f"SELECT to_jsonb(t) FROM {table} t ORDER BY id")
                got[table] = [r[0] for r in await cur.fetchall()]
            results.append(got)
    assert results[0] == results[1] == results[2]
    assert results[0]["tasks"][0]["target_name"] == "db"


def test_notify_payload_overflows_to_resync() -> None:
    small = notify_payload(7, [Change("vm", "a", 7)])
    assert small == '{"seq":7,"changes":[{"kind":"vm","id":"a","seq":7}]}'
    big = notify_payload(9, [Change("vm", new_id(), 9) for _ in range(200)])
    assert big == '{"seq":9,"overflow":true}'
