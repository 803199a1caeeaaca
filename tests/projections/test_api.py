"""The read endpoints of docs/api.md over HTTP: paging, sorting, filtering, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from events import host, task, vm
from events.settings import Settings
from projections.batch import apply_batch
from tests.projections.factory import Stream
from tests.projections.webapp import client

Client = TestClient[web.Request, web.Application]
STATES = ["running", "stopped", "error"]
N = 120


def vm_id(i: int) -> str:
    return f"vm-{i:04d}"


async def populate(conn: psycopg.AsyncConnection[Any], s: Stream) -> None:
    batch = []
    for n in range(3):
        batch += s.msg(
            "host",
            f"h{n}",
            [
                host.HostEnrolled(
                    host_id=f"h{n}",
                    name=f"hv-{n}",
                    uri=f"qemu+tcp://hv-{n}/system",
                    cpus=8,
                    memory_mib=16384,
                    cpu_overcommit=2.0,
                )
            ],
            actor="agent:h",
        )
    batch += s.msg("host", "h2", [host.HostDisconnected(host_id="h2")])
    for i in range(N):
        v, t, h = vm_id(i), f"task-{i:04d}", f"h{i % 2}"
        batch += s.msg(
            "vm",
            v,
            [
                vm.VmCreated(
                    vm_id=v,
                    name=f"{'web' if i % 2 else 'db'}-{i:03d}",
                    vcpus=1 + i % 4,
                    memory_mib=512,
                ),
                task.TaskQueued(task_id=t, operation="vm.create", target_kind="vm", target_id=v),
            ],
            task_id=t,
        )
        batch += s.msg("vm", v, [vm.VmPlaced(vm_id=v, host_id=h)], task_id=t)
        batch += s.msg(
            "host",
            h,
            [host.HostCapacityReserved(host_id=h, vm_id=v, vcpus=1 + i % 4, memory_mib=512)],
            task_id=t,
        )
        state = STATES[i % 3]
        if state == "error":
            batch += s.msg(
                "vm",
                v,
                [
                    vm.VmOperationFailed(
                        vm_id=v, operation="create", reason="define failed", state="error"
                    ),
                    task.TaskFailed(task_id=t, error="define failed"),
                ],
                task_id=t,
            )
        else:
            evs: list[Any] = [vm.VmDefined(vm_id=v, host_id=h)]
            if state == "running":
                evs.append(vm.VmStarted(vm_id=v, host_id=h))
            batch += s.msg("vm", v, [*evs, task.TaskSucceeded(task_id=t)], task_id=t)
    batch += s.msg("vm", vm_id(0), [vm.VmDeleted(vm_id=vm_id(0), host_id="h0")])
    await apply_batch(conn, batch)


@pytest.fixture
async def http(conn: psycopg.AsyncConnection[Any], pg_url: str) -> AsyncIterator[Client]:
    await populate(conn, Stream())
    async with client(Settings(database_url=pg_url, read_wait_max_s=0.5)) as c:
        yield c


async def get(c: Client, path: str, status: int = 200) -> Any:
    resp = await c.get("/api/v1" + path)
    body = await resp.json(content_type=None)
    assert resp.status == status, body
    if status >= 400:
        assert resp.content_type == "application/problem+json"
    return body


async def walk(c: Client, path: str, limit: int) -> list[dict[str, Any]]:
    sep = "&" if "?" in path else "?"
    items: list[dict[str, Any]] = []
    page = await get(c, f"{path}{sep}limit={limit}")
    total = page["total"]
    items += page["items"]
    while page["next_cursor"]:
        assert len(page["items"]) == limit
        page = await get(c, f"{path}{sep}limit={limit}&cursor={page['next_cursor']}")
        assert page["total"] == total
        items += page["items"]
    assert len(items) == total
    return items


async def test_vm_list_pages_by_name_and_hides_deleted(http: Client) -> None:
    items = await walk(http, "/vms", 25)
    names = [i["name"] for i in items]
    assert len(items) == N - 1 and names == sorted(names)
    assert vm_id(0) not in {i["id"] for i in items}
    first = items[0]
    assert set(first) >= {
        "id",
        "name",
        "state",
        "host_id",
        "host_name",
        "vcpus",
        "memory_mib",
        "description",
        "error",
        "task_id",
        "created_at",
        "updated_at",
        "seq",
    }
    assert first["created_at"].endswith("Z") and first["host_name"].startswith("hv-")


@pytest.mark.parametrize("sort", ["-name", "state", "created_at", "-updated_at", "-vcpus"])
async def test_vm_list_sorts_stably_across_pages(http: Client, sort: str) -> None:
    items = await walk(http, f"/vms?sort={sort}", 17)
    key = sort.lstrip("-")
    pairs = [(i[key], i["id"]) for i in items]
    assert pairs == sorted(pairs, reverse=sort.startswith("-"))
    assert len({i["id"] for i in items}) == N - 1


async def test_vm_list_filters(http: Client) -> None:
    running = await walk(http, "/vms?state=running", 10)
    assert running and {i["state"] for i in running} == {"running"}
    both = await get(http, "/vms?state=running,error&limit=500")
    assert {i["state"] for i in both["items"]} == {"running", "error"}
    deleted = await get(http, "/vms?state=deleted")
    assert [i["id"] for i in deleted["items"]] == [vm_id(0)]
    on_h1 = await walk(http, "/vms?host_id=h1", 50)
    assert on_h1 and {i["host_id"] for i in on_h1} == {"h1"}
    web_ = await walk(http, "/vms?q=WEB-1", 5)
    assert web_ and all(i["name"].startswith("web-1") for i in web_)
    by_id = await get(http, f"/vms?q={vm_id(7)}")
    assert [i["id"] for i in by_id["items"]] == [vm_id(7)]
    literal = await get(http, "/vms?q=%25")
    assert literal["total"] == 0


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=x", "sort=colour", "state=flying", "cursor=@@@", "min_seq=-1"],
)
async def test_bad_parameters_are_400(http: Client, query: str) -> None:
    body = await get(http, f"/vms?{query}", 400)
    assert body["type"] == "urn:limiquantix:problem:invalid-parameter"


async def test_cursor_of_another_sort_is_rejected(http: Client) -> None:
    page = await get(http, "/vms?limit=2&sort=name")
    await get(http, f"/vms?limit=2&sort=state&cursor={page['next_cursor']}", 400)


async def test_items_and_404(http: Client) -> None:
    v = await get(http, f"/vms/{vm_id(3)}")
    assert v["id"] == vm_id(3) and v["task_id"] == "task-0003"
    assert (await get(http, f"/vms/{vm_id(0)}"))["state"] == "deleted"
    for path in (
        "/vms/nope",
        "/hosts/nope",
        "/tasks/nope",
        "/vms/nope/events",
        "/tasks/nope/events",
    ):
        body = await get(http, path, 404)
        assert body["type"] == "urn:limiquantix:problem:not-found"
    h = await get(http, "/hosts/h0")
    assert h["vm_count"] == N // 2 - 1 + 1 and h["labels"] == {}
    assert h["allocated_vcpus"] == sum(1 + i % 4 for i in range(0, N, 2))


async def test_hosts_list(http: Client) -> None:
    hosts = await get(http, "/hosts")
    assert [h["name"] for h in hosts["items"]] == ["hv-0", "hv-1", "hv-2"]
    assert hosts["total"] == 3
    down = await get(http, "/hosts?state=disconnected")
    assert [h["id"] for h in down["items"]] == ["h2"]
    assert (await get(http, "/hosts?sort=-vm_count&limit=1"))["items"][0]["id"] == "h1"
    await get(http, "/hosts?state=running", 400)


async def test_tasks_newest_first_and_filters(http: Client) -> None:
    items = await walk(http, "/tasks", 30)
    assert len(items) == N
    stamps = [(t["created_at"], t["id"]) for t in items]
    assert stamps == sorted(stamps, reverse=True)
    failed = await walk(http, "/tasks?state=failed", 7)
    assert failed and {t["state"] for t in failed} == {"failed"}
    assert all(t["error"] == "define failed" for t in failed)
    one = await get(http, f"/tasks?target_id={vm_id(5)}")
    assert [t["id"] for t in one["items"]] == ["task-0005"]
    t = await get(http, "/tasks/task-0004")
    assert t["target_name"] == "db-004" and t["state"] == "succeeded" and t["progress"] == 100


async def test_event_listings(http: Client) -> None:
    evs = await walk(http, f"/vms/{vm_id(3)}/events", 2)
    assert [e["type"] for e in evs] == [  # task events ride on the VM's subject
        "vm.created",
        "task.queued",
        "vm.placed",
        "vm.defined",
        "vm.started",
        "task.succeeded",
    ]
    assert all(e["aggregate_id"] == vm_id(3) for e in evs)
    task_evs = await get(http, "/tasks/task-0003/events")
    assert [e["type"] for e in task_evs["items"]] == [
        "vm.created",
        "task.queued",
        "vm.placed",
        "host.capacity_reserved",
        "vm.defined",
        "vm.started",
        "task.succeeded",
    ]
    host_evs = await get(http, "/hosts/h2/events")
    assert [e["type"] for e in host_evs["items"]] == ["host.enrolled", "host.disconnected"]
    all_evs = await walk(http, "/events", 200)
    seqs = [(e["seq"], e["index"]) for e in all_evs]
    assert seqs == sorted(seqs)
    after = await get(http, f"/events?after_seq={all_evs[-3]['seq'] - 1}")
    assert after["items"][0]["seq"] == all_evs[-3]["seq"]
    hosts_only = await walk(http, "/events?kind=host", 100)
    assert {e["aggregate_kind"] for e in hosts_only} == {"host"}
    # the audit search finds an entity by the name operators see, not only by its id
    by_vm_name = await walk(http, "/events?q=web-003", 100)
    assert by_vm_name and {e["aggregate_id"] for e in by_vm_name} == {vm_id(3)}
    by_host_name = await walk(http, "/events?q=hv-2", 100)
    assert {e["aggregate_id"] for e in by_host_name} == {"h2"}
    e = all_evs[0]
    assert set(e) == {
        "seq",
        "index",
        "event_id",
        "type",
        "schema_version",
        "aggregate_kind",
        "aggregate_id",
        "occurred_at",
        "actor",
        "correlation_id",
        "causation_id",
        "traceparent",
        "data",
        "changes",
        "hash",
    }
    assert e["data"]["type"] == e["type"]


async def test_stats_and_search(http: Client) -> None:
    st = await get(http, "/stats")
    assert st["vms"]["total"] == N - 1
    assert st["vms"]["by_state"] == {"running": 39, "stopped": 40, "error": 40, "deleted": 1}
    assert st["hosts"] == {"total": 3, "by_state": {"connected": 2, "disconnected": 1}}
    assert st["cpu"]["capacity"] == 2 * 8 * 2
    assert st["cpu"]["allocated"] == sum(1 + i % 4 for i in range(N))
    assert st["memory_mib"] == {"capacity": 2 * 16384, "allocated": N * 512}
    assert st["seq"] > 0
    found = await get(http, "/search?q=hv-1")
    assert found["items"] == [{"kind": "host", "id": "h1", "name": "hv-1", "state": "connected"}]
    found = await get(http, "/search?q=db-00&limit=3")
    assert [i["name"] for i in found["items"]] == ["db-002", "db-004", "db-006"]
    await get(http, "/search", 400)
