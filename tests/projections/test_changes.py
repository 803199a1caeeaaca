"""Read-your-writes (``?min_seq=``) and the live change feed over a real LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from events import host, task, vm
from events.settings import Settings
from projections import schema
from projections.batch import apply_batch
from tests.projections.factory import Stream
from tests.projections.webapp import client

Client = TestClient[web.Request, web.Application]


class Env:
    def __init__(self, conn: psycopg.AsyncConnection[Any], http: Client) -> None:
        self.conn = conn
        self.http = http
        self.s = Stream()

    async def enrol(self, host_id: str) -> int:
        await apply_batch(
            self.conn,
            self.s.msg(
                "host",
                host_id,
                [
                    host.HostEnrolled(
                        host_id=host_id, name=host_id, uri="qemu:///system", cpus=4, memory_mib=4096
                    )
                ],
            ),
        )
        return self.s.seq


@pytest.fixture
async def env(conn: psycopg.AsyncConnection[Any], pg_url: str) -> AsyncIterator[Env]:
    async with client(Settings(database_url=pg_url, read_wait_max_s=1.0)) as c:
        yield Env(conn, c)


async def test_min_seq_waits_for_the_projector(env: Env) -> None:
    target = env.s.seq + env.s.gap

    async def later() -> None:
        await asyncio.sleep(0.2)
        await env.enrol("h-late")

    writer = asyncio.create_task(later())
    resp = await env.http.get(f"/api/v1/hosts/h-late?min_seq={target}")
    await writer
    assert resp.status == 200
    assert (await resp.json())["seq"] == target


async def test_min_seq_already_reached_answers_at_once(env: Env) -> None:
    seq = await env.enrol("h1")
    resp = await env.http.get(f"/api/v1/hosts?min_seq={seq}")
    assert resp.status == 200 and (await resp.json())["total"] == 1


async def test_min_seq_past_the_bound_is_504(env: Env) -> None:
    resp = await env.http.get("/api/v1/vms?min_seq=1000000")
    assert resp.status == 504
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["type"] == "urn:limiquantix:problem:read-timeout"


async def next_json(ws: Any) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5.0)
    assert msg.type == WSMsgType.TEXT, msg
    data: dict[str, Any] = msg.json()
    return data


async def test_websocket_hello_then_live_changes(env: Env) -> None:
    first = await env.enrol("h1")
    # the API has seen the enrolment's notification (else its hello may name the sequence
    # before it, then send the change: also right, but not what this test pins down)
    assert (await env.http.get(f"/api/v1/hosts?min_seq={first}")).status == 200
    async with env.http.ws_connect("/api/v1/changes") as ws:
        assert await next_json(ws) == {"type": "hello", "seq": first}
        t = "t1"
        await apply_batch(
            env.conn,
            env.s.msg(
                "vm",
                "v1",
                [
                    vm.VmCreated(vm_id="v1", name="one", vcpus=1, memory_mib=256),
                    task.TaskQueued(
                        task_id=t, operation="vm.create", target_kind="vm", target_id="v1"
                    ),
                ],
                task_id=t,
            ),
        )
        got = await next_json(ws)
        assert got["type"] == "changes" and got["seq"] == env.s.seq
        assert sorted((c["kind"], c["id"], c["seq"]) for c in got["changes"]) == [
            ("task", "t1", env.s.seq),
            ("vm", "v1", env.s.seq),
        ]


async def test_websocket_catch_up_since(env: Env) -> None:
    first = await env.enrol("h1")
    await env.enrol("h2")
    await apply_batch(env.conn, env.s.msg("host", "h1", [host.HostDisconnected(host_id="h1")]))
    last = env.s.seq
    await asyncio.sleep(0.2)  # let the listener see the last commit
    async with env.http.ws_connect(f"/api/v1/changes?since={first}") as ws:
        assert await next_json(ws) == {"type": "hello", "seq": last}
        got = await next_json(ws)
        assert got == {
            "type": "changes",
            "seq": last,
            "changes": [
                {"kind": "host", "id": "h2", "seq": first + env.s.gap},
                {"kind": "host", "id": "h1", "seq": last},
            ],
        }
        # and live changes keep coming after the catch-up
        await apply_batch(env.conn, env.s.msg("host", "h2", [host.HostConnected(host_id="h2")]))
        got = await next_json(ws)
        assert got["changes"] == [{"kind": "host", "id": "h2", "seq": env.s.seq}]


async def test_websocket_overflow_becomes_resync(env: Env) -> None:
    async with env.http.ws_connect("/api/v1/changes") as ws:
        await next_json(ws)
        batch = []
        for i in range(300):
            batch += env.s.msg(
                "host",
                f"host-{i:03d}",
                [
                    host.HostEnrolled(
                        host_id=f"host-{i:03d}", name=f"h{i}", uri="u", cpus=1, memory_mib=1
                    )
                ],
            )
        await apply_batch(env.conn, batch)
        assert await next_json(ws) == {"type": "resync", "seq": env.s.seq}


async def test_readiness_reports_checkpoint(env: Env) -> None:
    from projections.api import readiness

    seq = await env.enrol("h1")
    assert await readiness(env.http.app) == {"postgres": True, "checkpoint": seq}


async def test_api_creates_missing_read_model(pg_url: str) -> None:
    async with client(Settings(database_url=pg_url, db_schema="lq_other")) as c:
        resp = await c.get("/api/v1/vms")
        assert resp.status == 200
        assert (await resp.json()) == {"items": [], "next_cursor": None, "total": 0}
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        assert await schema.version(conn, "lq_other") == schema.VERSION
