"""Time travel from the audit log equals what the live read model showed at that moment."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from events import host, task, vm
from events.base import Event
from events.codec import StoredEvent, decode_batch, encode
from events.evolution import UnknownEvent
from events.settings import Settings
from projections import history
from projections.batch import apply_batch
from tests.projections.factory import Stream
from tests.projections.webapp import client

Conn = psycopg.AsyncConnection[Any]


async def _row(conn: Conn, table: str, ident: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT * FROM {table} WHERE id = %s", [ident])
        found = await cur.fetchone()
    await conn.commit()
    return found


def _unknown(s: Stream, vm_id: str) -> list[StoredEvent]:
    """A message from a newer writer: a type this reader does not know."""
    (se,) = s.msg("vm", vm_id, [vm.VmStartRequested(vm_id=vm_id)])
    raw = encode([se.envelope]).replace(b'"vm.start_requested"', b'"vm.teleported"')
    (env,) = decode_batch(raw)
    assert isinstance(env.event, UnknownEvent)
    return [StoredEvent(seq=se.seq, index=0, envelope=env)]


class Script:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.s = Stream()
        self.snapshots: dict[int, dict[str, Any]] = {}

    async def msg(self, kind: str, ident: str, *events: Event, task_id: str = "t1") -> None:
        await self.apply(self.s.msg(kind, ident, list(events), task_id=task_id))

    async def apply(self, batch: list[StoredEvent]) -> None:
        await apply_batch(self.conn, batch)
        self.snapshots[batch[-1].seq] = {
            "vm": await _row(self.conn, "vms", "v1"),
            "host": await _row(self.conn, "hosts", "h1"),
            "task": await _row(self.conn, "tasks", "t1"),
        }


async def _play(conn: Conn) -> Script:
    sc = Script(conn)
    enrol = host.HostEnrolled(
        host_id="h1", name="hv-1", uri="qemu:///system", cpus=8, memory_mib=8192
    )
    await sc.msg("host", "h1", enrol)
    await sc.msg(
        "vm",
        "v1",
        vm.VmCreated(vm_id="v1", name="web-1", vcpus=2, memory_mib=1024, start=True),
        task.TaskQueued(task_id="t1", operation="vm.create", target_kind="vm", target_id="v1"),
    )
    await sc.msg(
        "host", "h1", host.HostCapacityReserved(host_id="h1", vm_id="v1", vcpus=2, memory_mib=1024)
    )
    await sc.msg(
        "vm",
        "v1",
        vm.VmPlaced(vm_id="v1", host_id="h1"),
        task.TaskRunning(task_id="t1", host_id="h1"),
    )
    await sc.msg(
        "vm",
        "v1",
        vm.VmDefined(vm_id="v1", host_id="h1"),
        vm.VmStarted(vm_id="v1", host_id="h1"),
        task.TaskSucceeded(task_id="t1"),
    )
    await sc.apply(_unknown(sc.s, "v1"))
    await sc.msg(
        "host",
        "h1",
        host.HostEnrolled(
            host_id="h1", name="hv-renamed", uri="qemu:///system", cpus=8, memory_mib=8192
        ),
    )
    await sc.msg("vm", "v1", vm.VmStopRequested(vm_id="v1"), task_id="t2")
    await sc.msg("vm", "v1", vm.VmStopped(vm_id="v1", host_id="h1"), task_id="t2")
    await sc.msg("host", "h1", host.HostCapacityReleased(host_id="h1", vm_id="v1"))
    return sc


async def test_as_of_every_sequence_equals_the_live_row_then(conn: Conn) -> None:
    sc = await _play(conn)
    for seq, then in sc.snapshots.items():
        for kind in ("vm", "host", "task"):
            ident = {"vm": "v1", "host": "h1", "task": "t1"}[kind]
            past = await history.as_of(conn, kind, ident, history.Point(seq=seq))
            assert past == then[kind], (seq, kind)


async def test_unknown_type_is_audited_and_ignored(conn: Conn) -> None:
    await _play(conn)
    rows = await history.entity_events(conn, "vm", "v1", None)
    assert [r["type"] for r in rows].count("vm.teleported") == 1
    assert (await _row(conn, "vms", "v1") or {})["state"] == "stopped"


async def test_diff_between_two_points(conn: Conn) -> None:
    sc = await _play(conn)
    seqs = sorted(sc.snapshots)
    out = await history.diff(
        conn, "vm", "v1", history.Point(seq=seqs[1]), history.Point(seq=seqs[-1])
    )
    assert out["from"]["state"] == "pending" and out["to"]["state"] == "stopped"
    assert out["changes"]["state"] == ["pending", "stopped"]
    assert out["changes"]["host_name"] == [None, "hv-renamed"]
    assert out["events"][0]["type"] == "vm.placed"


async def test_http_as_of_diff_filters_and_trace(conn: Conn, pg_url: str) -> None:
    sc = await _play(conn)
    first_vm_seq = sorted(sc.snapshots)[1]
    async with client(Settings(database_url=pg_url, read_wait_max_s=0.5)) as c:
        resp = await c.get(f"/api/v1/vms/v1?as_of={first_vm_seq}")
        assert resp.status == 200
        assert (await resp.json())["state"] == "pending"
        resp = await c.get("/api/v1/vms/v1?as_of=2000-01-01T00:00:00Z")
        assert resp.status == 404
        resp = await c.get("/api/v1/vms/v1?as_of=yesterday")
        assert resp.status == 400
        resp = await c.get(f"/api/v1/hosts/h1/diff?from={first_vm_seq}")
        body = await resp.json()
        assert body["changes"]["name"] == ["hv-1", "hv-renamed"]
        resp = await c.get("/api/v1/events?type=vm.&actor=user:alice&order=desc&limit=2")
        items = (await resp.json())["items"]
        assert [i["type"] for i in items] == ["vm.stopped", "vm.stop_requested"]
        resp = await c.get("/api/v1/vms/v1/events?type=vm.teleported")
        assert [i["data"]["type"] for i in (await resp.json())["items"]] == ["vm.teleported"]
        resp = await c.get("/api/v1/tasks/t1/trace")
        trace = await resp.json()
        assert trace["task"]["state"] == "succeeded" and trace["state"]["id"] == "v1"
        assert trace["events"] >= 6 and trace["requests"]
