"""History end to end: before/after values, the hash chain against a forged publish,
and a whole-inventory replay to a past sequence equal to the read model recorded then."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import nats
import psycopg

from events import chain, vm
from events.base import Meta, utcnow
from events.bus import Bus
from events.codec import encode, wrap
from events.subjects import event_subject
from projections import history, rebuild, replay, schema
from tests.integration.conftest import Stack, StackFactory

VM = {"name": "hist-1", "vcpus": 1, "memory_mib": 512, "start": True}


async def _snapshot(stack: Stack, into: str) -> int:
    """Copy the live read model into ``into`` at one consistent checkpoint."""
    live = stack.settings.db_schema
    conn = await psycopg.AsyncConnection.connect(stack.settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute(schema.APPLY_LOCK, [live])  # no projector batch meanwhile
            await conn.execute(f"CREATE SCHEMA {into}")
            for table in rebuild.TABLES:
                await conn.execute(f"CREATE TABLE {into}.{table} AS SELECT * FROM {live}.{table}")
            cur = await conn.execute(
                f"SELECT seq FROM {live}.checkpoint WHERE name = %s", [schema.CHECKPOINT]
            )
            row = await cur.fetchone()
    finally:
        await conn.close()
    assert row is not None
    return int(row[0])


async def _verify_chain(bus: Bus) -> chain.Report:
    v = chain.Verifier()
    async for seq, subject, data in bus.store.replay_raw():
        v.feed(seq, subject, data)
    return v.report


async def _run(stack: Stack, method: str, path: str, **kw: Any) -> dict[str, Any]:
    accepted = await stack.command(method, path, **kw)
    task = await stack.wait_task(accepted["task_id"])
    assert task["state"] == "succeeded", task
    return accepted


async def test_history_end_to_end(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    created = await _run(stack, "POST", "/api/v1/vms", json=VM)
    vm_id = created["vm_id"]
    await stack.get(f"/api/v1/vms/{vm_id}?min_seq={created['seq']}")
    snap_seq = await _snapshot(stack, "snap")

    stopped = await _run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/stop")
    await _run(stack, "POST", "/api/v1/vms", json={**VM, "name": "hist-2"})

    # every configuration change carries its before/after values
    events = (await stack.get(f"/api/v1/vms/{vm_id}/events?min_seq={stopped['seq']}"))["items"]
    by_type = {e["type"]: e for e in events}
    assert by_type["vm.created"]["changes"]["name"] == [None, "hist-1"]
    assert by_type["vm.stop_requested"]["changes"]["state"] == ["running", "stopping"]
    assert all(e["hash"] for e in events)

    # time travel over HTTP: the VM as it was at the snapshot
    past = await stack.get(f"/api/v1/vms/{vm_id}?as_of={snap_seq}")
    assert past["state"] == "running"
    diff = await stack.get(f"/api/v1/vms/{vm_id}/diff?from={snap_seq}")
    assert diff["changes"]["state"] == ["running", "stopped"]
    trace = await stack.get(f"/api/v1/tasks/{stopped['task_id']}/trace")
    actors = {n["role"] for r in trace["requests"] for n in _walk(r["children"])}
    assert {"user", "system"} <= actors and trace["state"]["state"] == "stopped"

    bus = await Bus.connect(stack.settings.nats_url, name="test-history")
    try:
        report = await _verify_chain(bus)
        assert report.ok, report.findings
        assert report.chained == report.events  # everything here was written chained

        # a forged event published straight to NATS, then a legitimate command
        forged = wrap(
            "vm",
            vm_id,
            [vm.VmStateObserved(vm_id=vm_id, host_id="nowhere", state="stopped")],
            Meta(actor="user:mallory", occurred_at=utcnow()),
        )
        nc = await nats.connect(stack.settings.nats_url)
        try:
            ack = await nc.jetstream().publish(event_subject("vm", vm_id), encode(forged))
        finally:
            await nc.close()
        await _run(stack, "POST", f"/api/v1/vms/{vm_id}/actions/start")
        report = await _verify_chain(bus)
        assert [(f.seq, f.problem) for f in report.findings] == [(ack.seq, "unchained")]

        # the whole inventory replayed to the snapshot's sequence equals the snapshot
        async with await psycopg.AsyncConnection.connect(stack.settings.database_url) as conn:
            done = await replay.replay_with(
                bus.store, conn, "past", history.Point(seq=snap_seq), 500
            )
            assert done.last_seq == snap_seq
            assert await rebuild.compare_on(conn, "snap", "past") == []
            # and the live read model equals a fresh rebuild (lq verify)
            _, differences = await replay.verify_with(bus.store, conn, "lq", 500)
            assert differences == []
    finally:
        await bus.close()


def _walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in nodes:
        out.append(n)
        out.extend(_walk(n["children"]))
    return out


async def _lq(stack: Stack, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "LQ_NATS_URL": stack.settings.nats_url,
        "LQ_DATABASE_URL": stack.settings.database_url,
        "LQ_DATA_DIR": str(stack.hosts_dir.parent / "cli"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lq.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_history_cli(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    created = await _run(stack, "POST", "/api/v1/vms", json=VM)
    vm_id = created["vm_id"]
    await stack.get(f"/api/v1/vms/{vm_id}?min_seq={created['seq']}")

    code, out = await _lq(stack, "audit", "vm", vm_id)
    assert code == 0, out
    assert "vm.created" in out and 'name: null → "hist-1"' in out and "(vm.create)" in out
    code, out = await _lq(stack, "audit", "export", "--since", "1", "--format", "jsonl")
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(e["aggregate_id"] == vm_id for e in lines)
    code, out = await _lq(stack, "audit", "verify")
    assert code == 0 and "OK" in out, out
    code, out = await _lq(stack, "verify")
    assert code == 0 and "OK" in out, out
    code, out = await _lq(stack, "replay", "--until", str(created["seq"]), "--into", "lq_then")
    assert code == 0, out
    then = await stack.get(f"/api/v1/vms/{vm_id}?schema=lq_then")
    assert then["id"] == vm_id
