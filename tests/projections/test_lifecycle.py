"""Fold rules of the full VM lifecycle: spec, power states, disks, NICs, snapshots, resize,
templates; the same rows from any batch cut and from the audit log (as of a past point)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from events import vm
from events.base import Event, event_type
from projections import history, schema, vm_devices
from projections.batch import apply_batch
from tests.projections.factory import Message, Stream, full_lifecycle

Conn = psycopg.AsyncConnection[Any]
V, H = "v1", "h1"


async def vm_row(conn: Conn, ident: str = V) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM vms WHERE id = %s", [ident])
        found = await cur.fetchone()
    await conn.commit()
    assert found is not None
    return found


class Played:
    """The lifecycle script applied one message at a time, with the row after each."""

    def __init__(self) -> None:
        self.s = Stream()
        self.rows: list[tuple[list[Event], int, dict[str, Any]]] = []

    def after(self, wanted: str) -> dict[str, Any]:
        """The row right after the (first) message holding an event of type ``wanted``."""
        for events, _, row in self.rows:
            if any(event_type(e) == wanted for e in events):
                return row
        raise AssertionError(f"no {wanted} in the script")


async def play(conn: Conn, script: list[Message]) -> Played:
    p = Played()
    for events, t in script:
        batch = p.s.msg("vm", V, events, task_id=t)
        await apply_batch(conn, batch)
        p.rows.append((events, batch[-1].seq, await vm_row(conn)))
    return p


@pytest.fixture
async def played(conn: Conn) -> Played:
    return await play(conn, full_lifecycle(V, H))


async def test_created_row_carries_the_spec(played: Played) -> None:
    r = played.after("vm.created")
    assert (r["firmware"], r["machine"], r["boot_order"]) == ("uefi", "q35", ["hd", "network"])
    assert (r["max_vcpus"], r["max_memory_mib"]) == (8, 8192)
    assert r["has_cloud_init"] is True and r["kernel_boot"] is False
    assert r["template"] is False and r["clone_of"] is None
    assert r["disks"] == [
        {
            "disk_id": "disk0",
            "size_gib": 10,
            "bus": "virtio",
            "device": "disk",
            "pool_id": "default",
            "volume": "",
        },
        {
            "disk_id": "disk1",
            "size_gib": 20,
            "bus": "sata",
            "device": "disk",
            "pool_id": "default",
            "volume": "",
        },
    ]
    assert r["nics"] == [
        {
            "nic_id": "nic0",
            "mac": "52:54:00:00:00:01",
            "network_id": "default",
            "model": "virtio",
            "ip": None,
        }
    ]
    assert (r["snapshots"], r["snapshot_count"], r["current_snapshot_id"]) == ([], 0, None)


async def test_clone_and_direct_kernel_boot(conn: Conn) -> None:
    created = vm.VmCreated(
        vm_id="c1",
        name="clone",
        vcpus=1,
        memory_mib=256,
        clone_of=vm.CloneSource(vm_id=V, linked=True),
        kernel="/boot/vmlinuz",
        template=True,
    )
    await apply_batch(conn, Stream().msg("vm", "c1", [created]))
    r = await vm_row(conn, "c1")
    assert r["clone_of"] == {"vm_id": V, "linked": True}
    assert r["kernel_boot"] is True and r["template"] is True and r["has_cloud_init"] is False
    assert (r["firmware"], r["machine"], r["boot_order"], r["disks"]) == ("bios", "pc", ["hd"], [])
    async with conn.cursor() as cur:  # absent JSON is SQL NULL, not JSON null
        await cur.execute("SELECT count(*) FROM vms WHERE clone_of IS NULL")
        assert await cur.fetchone() == (0,)


STATES = [
    ("vm.snapshot_requested", "running"),
    ("vm.reboot_requested", "running"),
    ("vm.rebooted", "running"),
    ("vm.pause_requested", "running"),
    ("vm.paused", "paused"),
    ("vm.resume_requested", "paused"),
    ("vm.resumed", "running"),
    ("vm.stop_requested", "stopping"),  # the graceful shutdown
    ("vm.stopped", "stopped"),
    ("vm.snapshot_reverted", "running"),
    ("vm.converted_to_template", "stopped"),
    ("vm.cancel_requested", "starting"),
    ("vm.deleted", "deleted"),
]


@pytest.mark.parametrize(("wanted", "state"), STATES)
async def test_power_states(played: Played, wanted: str, state: str) -> None:
    assert played.after(wanted)["state"] == state


def _domain_view(state: Any) -> dict[str, Any]:
    """What the VM aggregate knows, in the read model's shapes."""
    return {
        "state": state.state,
        "template": state.template,
        "vcpus": state.vcpus,
        "memory_mib": state.memory_mib,
        "max_vcpus": state.max_vcpus,
        "max_memory_mib": state.max_memory_mib,
        "disks": [vm_devices.disk(d) for d in state.disks],
        "nics": [vm_devices.nic(n, state.nic_ips.get(n.nic_id)) for n in state.nics],
        "snapshots": [(x.snapshot_id, x.parent_id) for x in state.snapshots],
        "current_snapshot_id": state.current_snapshot_id,
    }


async def test_rows_agree_with_the_domain_after_every_message(conn: Conn) -> None:
    """The read model says what the VM aggregate's own ``evolve`` says: state, size,
    template flag, devices, addresses and the snapshot tree."""
    from controlplane.domain import vm as domain

    s = Stream()
    state: Any = None
    for events, t in full_lifecycle(V, H):
        batch = s.msg("vm", V, events, task_id=t)
        await apply_batch(conn, batch)
        for se in batch:
            state = domain.evolve(state, se.envelope)
        assert state is not None
        r = await vm_row(conn)
        mine = {k: r[k] for k in _domain_view(state)}
        mine["snapshots"] = [(x["snapshot_id"], x["parent_id"]) for x in r["snapshots"]]
        if state.state == "deleted":  # the aggregate keeps its last tree; the row drops it
            mine["snapshots"], mine["current_snapshot_id"] = (
                _domain_view(state)["snapshots"],
                state.current_snapshot_id,
            )
        assert mine == _domain_view(state), [event_type(e) for e in events]


async def test_requests_clear_the_error(played: Played) -> None:
    failed = [r for events, _, r in played.rows if event_type(events[0]) == "vm.operation_failed"]
    assert failed and failed[0]["error"] == "cancelled"
    assert played.after("vm.delete_requested")["error"] is None


async def test_disks_attach_resize_detach(played: Played) -> None:
    def sizes(r: dict[str, Any]) -> dict[str, int]:
        return {d["disk_id"]: d["size_gib"] for d in r["disks"]}

    assert sizes(played.after("vm.disk_attach_requested")) == {"disk0": 10, "disk1": 20}
    attached = played.after("vm.disk_attached")
    assert sizes(attached) == {"disk0": 10, "disk1": 20, "disk2": 5}
    assert attached["disks"][-1]["pool_id"] == "fast"
    assert sizes(played.after("vm.disk_resized")) == {"disk0": 15, "disk1": 20, "disk2": 5}
    assert sizes(played.after("vm.disk_detach_requested"))["disk1"] == 20
    assert sizes(played.after("vm.disk_detached")) == {"disk0": 15, "disk2": 5}


async def test_nics_address_update_attach_detach(played: Played) -> None:
    def nics(r: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        return {n["nic_id"]: (n["network_id"], n["ip"]) for n in r["nics"]}

    assert nics(played.after("vm.nic_address_observed")) == {"nic0": ("default", "10.0.0.5")}
    assert nics(played.after("vm.resumed")) == {"nic0": ("default", "10.0.0.5")}
    assert nics(played.after("vm.stopped")) == {"nic0": ("default", None)}  # off: no address
    attached = played.after("vm.nic_attached")
    assert nics(attached)["nic1"] == ("lab", None)
    assert (
        attached["nics"][1]["mac"] == "52:54:00:00:00:02"
        and attached["nics"][1]["model"] == "e1000"
    )
    moved = played.after("vm.nic_updated")  # another network: the old address is gone
    assert nics(moved)["nic0"] == ("net2", None)
    assert moved["nics"][0]["mac"] == "52:54:00:00:00:01"
    assert nics(played.after("vm.nic_detached")) == {"nic0": ("net2", None)}


async def test_snapshot_tree_current_revert_and_delete(played: Played) -> None:
    def tree(r: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
        return [(s["snapshot_id"], s["parent_id"], s["current"]) for s in r["snapshots"]]

    first = played.after("vm.snapshot_created")
    assert tree(first) == [("s1", None, True)] and first["current_snapshot_id"] == "s1"
    s1 = first["snapshots"][0]
    assert s1["name"] == "base" and s1["memory"] is True and s1["vm_state"] == "running"
    assert s1["created_at"] == "2025-01-01T12:00:05Z"
    second = [r for events, _, r in played.rows if event_type(events[0]) == "vm.snapshot_created"][
        1
    ]
    assert tree(second) == [("s1", None, False), ("s2", "s1", True)]
    assert second["snapshots"][1]["description"] == "after" and second["snapshot_count"] == 2
    reverted = played.after("vm.snapshot_reverted")
    assert tree(reverted) == [("s1", None, True), ("s2", "s1", False)]
    assert reverted["current_snapshot_id"] == "s1"
    deleted = played.after("vm.snapshot_deleted")  # the child moves up; current was s1
    assert tree(deleted) == [("s2", None, False)]
    assert (deleted["snapshot_count"], deleted["current_snapshot_id"]) == (1, None)
    gone = played.after("vm.deleted")  # snapshots go with the VM; disks stay listed
    assert (gone["snapshots"], gone["snapshot_count"]) == ([], 0)
    assert [d["disk_id"] for d in gone["disks"]] == ["disk0", "disk2"]


async def test_resize_and_template_conversion(played: Played) -> None:
    assert played.after("vm.resize_requested")["vcpus"] == 2
    r = played.after("vm.resized")
    assert (r["vcpus"], r["memory_mib"]) == (4, 4096)
    assert played.after("vm.converted_to_template")["template"] is True
    assert played.after("vm.converted_to_vm")["template"] is False


async def test_every_row_tracks_seq_and_task(played: Played) -> None:
    for events, seq, r in played.rows:
        assert r["seq"] == seq, [event_type(e) for e in events]


async def test_as_of_every_point_equals_the_live_row_then(conn: Conn, played: Played) -> None:
    for _, seq, then in played.rows:
        past = await history.as_of(conn, "vm", V, history.Point(seq=seq))
        assert past == then, seq


async def test_batch_cuts_give_the_same_rows(pg_url: str) -> None:
    s = Stream()
    stream = [
        se
        for events, t in [*full_lifecycle("a", H, name="a"), *full_lifecycle("b", H, name="b")]
        for se in s.msg("vm", "a" if events[0].vm_id == "a" else "b", events, task_id=t)  # type: ignore[attr-defined]
    ]
    results = []
    for cut in (1, 7, len(stream)):
        async with await psycopg.AsyncConnection.connect(pg_url) as c:
            name = f"lcut{cut}"
            await schema.create(c, name)
            await schema.use_schema(c, name)
            i = 0
            while i < len(stream):
                j = min(i + cut, len(stream))
                while j < len(stream) and stream[j].seq == stream[j - 1].seq:
                    j += 1
                await apply_batch(c, stream[i:j])
                i = j
            cur = await c.execute("SELECT to_jsonb(t) FROM vms t ORDER BY id")
            results.append([r[0] for r in await cur.fetchall()])
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 2
