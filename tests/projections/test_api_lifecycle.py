"""The read routes of the full VM lifecycle: VM detail fields, ``/vms/{id}/disks|nics|
snapshots`` (live and as of a past point), the ``template`` filter, problems for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from events import task, views, vm
from events.base import event_type
from events.settings import Settings
from projections.batch import apply_batch
from tests.projections.factory import Stream, full_lifecycle
from tests.projections.webapp import client

Client = TestClient[web.Request, web.Application]
V, H = "v1", "h1"


class Seqs:
    """Stream sequence right after the first message holding each event type."""

    def __init__(self) -> None:
        self.after: dict[str, int] = {}


@pytest.fixture
async def seqs() -> Seqs:
    return Seqs()


@pytest.fixture
async def http(
    conn: psycopg.AsyncConnection[Any], pg_url: str, seqs: Seqs
) -> AsyncIterator[Client]:
    s = Stream()
    # v1 lives until it is converted back to a VM (no delete): devices and a snapshot tree
    script = full_lifecycle(V, H, name="app-1")
    upto = next(
        i for i, (evs, _) in enumerate(script) if event_type(evs[0]) == "vm.converted_to_vm"
    )
    for events, t in script[:upto]:
        batch = s.msg("vm", V, events, task_id=t)
        await apply_batch(conn, batch)
        for e in events:
            seqs.after.setdefault(event_type(e), batch[-1].seq)
    for ident, name, template in (("g1", "golden", True), ("p1", "plain", False)):
        created = vm.VmCreated(vm_id=ident, name=name, vcpus=1, memory_mib=128, template=template)
        queued = task.TaskQueued(
            task_id=f"t-{ident}", operation="vm.create", target_kind="vm", target_id=ident
        )
        await apply_batch(conn, s.msg("vm", ident, [created, queued], task_id=f"t-{ident}"))
    async with client(Settings(database_url=pg_url, read_wait_max_s=0.5)) as c:
        yield c


async def get(c: Client, path: str, status: int = 200) -> Any:
    resp = await c.get("/api/v1" + path)
    body = await resp.json(content_type=None)
    assert resp.status == status, body
    if status >= 400:
        assert resp.content_type == "application/problem+json"
    return body


async def test_vm_detail_has_the_spec_devices_and_snapshot_summary(http: Client) -> None:
    body = await get(http, f"/vms/{V}")
    found = msgspec.convert(body, views.VmView, strict=False)  # the published shape
    assert (found.firmware, found.machine, found.boot_order) == ("uefi", "q35", ["hd", "network"])
    assert (found.max_vcpus, found.max_memory_mib, found.vcpus) == (8, 8192, 4)
    assert found.template is True and found.clone_of is None and found.has_cloud_init
    assert [d.disk_id for d in found.disks] == ["disk0", "disk2"]
    assert [(n.nic_id, n.network_id, n.mac) for n in found.nics] == [
        ("nic0", "net2", "52:54:00:00:00:01")
    ]
    assert found.snapshot_count == 1 and found.current_snapshot_id is None
    assert [x.snapshot_id for x in found.snapshots] == ["s2"]


async def test_snapshots_route(http: Client, seqs: Seqs) -> None:
    body = await get(http, f"/vms/{V}/snapshots")
    page = msgspec.convert(body, views.SnapshotPage, strict=False)
    assert page.total == 1 and page.next_cursor is None and page.current_snapshot_id is None
    (s2,) = page.items
    assert (s2.snapshot_id, s2.name, s2.parent_id, s2.current) == ("s2", "two", None, False)
    assert s2.description == "after" and s2.memory is False and s2.vm_state == "stopped"
    # the tree before s1 was deleted, as of that point: s2 under s1, s1 current after revert
    then = await get(http, f"/vms/{V}/snapshots?as_of={seqs.after['vm.snapshot_reverted']}")
    tree = [(x["snapshot_id"], x["parent_id"], x["current"]) for x in then["items"]]
    assert tree == [("s1", None, True), ("s2", "s1", False)]
    assert then["current_snapshot_id"] == "s1" and then["total"] == 2
    assert then["items"][0]["created_at"].endswith("Z")


async def test_disks_and_nics_routes(http: Client, seqs: Seqs) -> None:
    disks = msgspec.convert(await get(http, f"/vms/{V}/disks"), views.DiskPage, strict=False)
    assert [(d.disk_id, d.size_gib, d.pool_id) for d in disks.items] == [
        ("disk0", 15, "default"),
        ("disk2", 5, "fast"),
    ]
    assert disks.total == 2
    nics = msgspec.convert(await get(http, f"/vms/{V}/nics"), views.NicPage, strict=False)
    assert [(n.nic_id, n.ip) for n in nics.items] == [("nic0", None)]
    then = await get(http, f"/vms/{V}/nics?as_of={seqs.after['vm.nic_address_observed']}")
    assert [(n["nic_id"], n["ip"]) for n in then["items"]] == [("nic0", "10.0.0.5")]
    then = await get(http, f"/vms/{V}/disks?as_of={seqs.after['vm.created']}")
    assert [d["disk_id"] for d in then["items"]] == ["disk0", "disk1"]
    assert (await get(http, "/vms/g1/disks"))["items"] == []


@pytest.mark.parametrize("part", ["disks", "nics", "snapshots"])
async def test_parts_of_unknown_vm_and_bad_points(http: Client, part: str) -> None:
    missing = await get(http, f"/vms/nope/{part}", 404)
    assert missing["type"].endswith("not-found")
    await get(http, f"/vms/{V}/{part}?as_of=2000-01-01T00:00:00Z", 404)  # before it existed
    await get(http, f"/vms/{V}/{part}?as_of=yesterday", 400)


async def test_template_filter(http: Client) -> None:
    both = await get(http, "/vms")
    assert sorted(v["id"] for v in both["items"]) == ["g1", "p1", V] and both["total"] == 3
    templates = await get(http, "/vms?template=true")
    assert sorted(v["id"] for v in templates["items"]) == ["g1", V] and templates["total"] == 2
    assert (await get(http, "/vms?template=TRUE"))["total"] == 2
    assert (await get(http, "/vms?template=0"))["total"] == 1
    plain = await get(http, "/vms?template=false&sort=-name")
    assert [v["id"] for v in plain["items"]] == ["p1"] and plain["total"] == 1
    searched = await get(http, "/vms?template=true&q=gold")
    assert [v["id"] for v in searched["items"]] == ["g1"] and searched["total"] == 1
    paged = await get(http, "/vms?template=true&limit=1")
    rest = await get(http, f"/vms?template=true&limit=1&cursor={paged['next_cursor']}")
    assert [paged["items"][0]["name"], rest["items"][0]["name"]] == ["app-1", "golden"]


@pytest.mark.parametrize("value", ["yes", "2", "on", "maybe"])
async def test_bad_template_filter_is_400(http: Client, value: str) -> None:
    body = await get(http, f"/vms?template={value}", 400)
    assert body["type"].endswith("invalid-parameter") and "template" in body["detail"]


async def test_list_rows_leave_the_snapshot_tree_out(http: Client) -> None:
    (row,) = [v for v in (await get(http, "/vms"))["items"] if v["id"] == V]
    assert "snapshots" not in row
    assert row["snapshot_count"] == 1 and row["disks"] and row["nics"]
    page = msgspec.convert(await get(http, "/vms"), views.VmPage, strict=False)
    assert {v.id: v.template for v in page.items} == {"g1": True, "p1": False, V: True}
