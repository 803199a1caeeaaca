"""The claims, checked on a quiet system after every fault.

1. *Nothing accepted is lost*: every task the API answered ``202`` for exists in the
   stream (and so in the read model) and has ended, or is still open within its bound.
2. *Nothing takes effect twice*: one task per ``Idempotency-Key`` (in the client's answers
   and in the stream), at most one ending per task, one ``vm.created`` per VM, one
   ``vm.started`` per start task; no key applied while the client was told otherwise.
3. *The read model is the replay*: ``projections.replay.verify_with`` rebuilds the read
   model from the stream into a scratch schema with ``projections.rebuild.replay_into``
   and compares it row by row (``compare_on``), under the projector's apply lock.
4. *Invariants*: per host, allocation ≤ capacity and allocation = the reservations = the
   VMs placed there; every VM's domain lives in exactly its host's node file (none for
   deleted or unplaced VMs, never on two hosts), in the state the read model shows; no two
   live VMs share a name (any case).
5. *Visible failures*: a failed task carries its reason; a task open past the deadline
   watcher's bound is a hang.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import psycopg

from agent import simhost
from events.bus import Bus
from events.errors import LqError
from projections import replay
from tests.faults.harness import TERMINAL, Cluster
from tests.faults.workload import Ledger

RUNSTATE = {"running": 1, "paused": 3, "stopped": 5}


@dataclass
class Verdict:
    checkpoint: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    open_tasks: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.violations or self.differences)

    def summary(self) -> str:
        parts = [
            f"lost={self.lost[:5]}",
            f"duplicated={self.duplicated[:5]}",
            f"violations={self.violations[:8]}",
            f"read model vs replay={self.differences[:5]}",
        ]
        return "; ".join(parts)


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, *args: Any) -> list[Any]:
    cur = await conn.execute(sql, list(args) if args else None)
    return list(await cur.fetchall())


async def settle(cluster: Cluster, ledger: Ledger, bound_s: float, timeout: float = 90.0) -> None:
    """Wait until the projector has applied the whole stream and every accepted task
    has ended (or outlived its bound: that is reported, not waited for)."""
    assert cluster.nats is not None and cluster.pg is not None
    deadline = time.monotonic() + timeout
    bus = await Bus.connect(cluster.nats.url, name="faults-settle")
    try:
        while time.monotonic() < deadline:
            try:
                last = await bus.store.last_seq()
                async with await psycopg.AsyncConnection.connect(
                    cluster.pg.url, autocommit=True
                ) as conn:
                    cp = await _rows(conn, "SELECT seq FROM lq.checkpoint")
                    ids = list(ledger.accepted)
                    done = await _rows(
                        conn,
                        "SELECT id FROM lq.tasks WHERE id = ANY(%s) AND state = ANY(%s)",
                        ids,
                        list(TERMINAL),
                    )
            except (LqError, psycopg.Error):
                await asyncio.sleep(0.3)
                continue
            now = time.monotonic()
            ended = {r[0] for r in done}
            waiting = [
                t for t, a in ledger.accepted.items() if t not in ended and now - a.at < bound_s
            ]
            if cp and cp[0][0] >= last and not waiting:
                return
            await asyncio.sleep(0.3)
    finally:
        await bus.close()


async def check(cluster: Cluster, ledger: Ledger, bound_s: float) -> Verdict:
    assert cluster.nats is not None and cluster.pg is not None
    await settle(cluster, ledger, bound_s)
    v = Verdict()
    bus = await Bus.connect(cluster.nats.url, name="faults-check")
    try:
        async with await psycopg.AsyncConnection.connect(cluster.pg.url) as conn:
            v.checkpoint, v.differences = await replay.verify_with(bus.store, conn, "lq", 500)
            await conn.set_autocommit(True)
            await _accounting(conn, ledger, bound_s, v)
            await _duplicates(conn, ledger, v)
            for _ in range(4):  # orphaned reservations are released within a second or so
                found = Verdict()
                await _invariants(conn, cluster, found)
                if not found.violations:
                    break
                await asyncio.sleep(1.0)
            v.violations += found.violations
    finally:
        await bus.close()
    return v


async def _accounting(
    conn: psycopg.AsyncConnection[Any], ledger: Ledger, bound_s: float, v: Verdict
) -> None:
    ids = list(ledger.accepted)
    rows = await _rows(conn, "SELECT id, state, error FROM lq.tasks WHERE id = ANY(%s)", ids)
    found = {r[0]: (r[1], r[2]) for r in rows}
    now = time.monotonic()
    for task_id, acc in ledger.accepted.items():
        if task_id not in found:
            v.lost.append(f"{acc.op} task {task_id} (vm {acc.vm_id})")
            continue
        state, error = found[task_id]
        if state == "failed" and not error:
            v.violations.append(f"task {task_id} failed without a reason")
        if state not in TERMINAL:
            if now - acc.at > bound_s:
                v.violations.append(f"task {task_id} ({acc.op}) still {state} after {bound_s:.0f}s")
            else:
                v.open_tasks += 1
    for task_id in ledger.hung:
        if found.get(task_id, ("", ""))[0] not in TERMINAL:
            v.violations.append(f"a client waited past the bound for task {task_id}")


async def _duplicates(conn: psycopg.AsyncConnection[Any], ledger: Ledger, v: Verdict) -> None:
    for key, tasks in ledger.answers.items():
        if len(tasks) > 1:
            v.duplicated.append(f"key {key} answered with tasks {sorted(tasks)}")
    queries = {
        "idempotency key queued twice": (
            "SELECT data->>'idempotency_key', count(*) FROM lq.events"
            " WHERE type = 'task.queued' AND coalesce(data->>'idempotency_key', '') <> ''"
            " GROUP BY 1 HAVING count(*) > 1"
        ),
        "task ended twice": (
            "SELECT data->>'task_id', count(*) FROM lq.events"
            " WHERE type IN ('task.succeeded', 'task.failed', 'task.cancelled')"
            " GROUP BY 1 HAVING count(*) > 1"
        ),
        "vm created twice": (
            "SELECT aggregate_id, count(*) FROM lq.events WHERE type = 'vm.created'"
            " GROUP BY 1 HAVING count(*) > 1"
        ),
        "vm started twice by one task": (
            "SELECT correlation_id, count(*) FROM lq.events WHERE type = 'vm.started'"
            " AND correlation_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
        ),
        "capacity reserved twice without a release": (
            "SELECT aggregate_id || '/' || (data->>'vm_id'), count(*) FILTER"
            " (WHERE type = 'host.capacity_reserved') - count(*) FILTER"
            " (WHERE type = 'host.capacity_released') FROM lq.events"
            " WHERE type IN ('host.capacity_reserved', 'host.capacity_released')"
            " GROUP BY 1 HAVING count(*) FILTER (WHERE type = 'host.capacity_reserved')"
            " - count(*) FILTER (WHERE type = 'host.capacity_released') > 1"
        ),
    }
    for what, sql in queries.items():
        for ident, n in await _rows(conn, sql):
            v.duplicated.append(f"{what}: {ident} x{n}")
    # a key that took effect while its client was answered something else (or nothing)
    answered = set(ledger.answers)
    rows = await _rows(
        conn,
        "SELECT data->>'idempotency_key' FROM lq.events WHERE type = 'task.queued'"
        " AND coalesce(data->>'idempotency_key', '') <> ''",
    )
    for (full,) in rows:
        raw = str(full).rsplit("|", 1)[-1]
        if raw in ledger.keys_sent and raw not in answered:
            v.violations.append(f"idempotency: key {raw} ({ledger.keys_sent[raw]}) applied unseen")


def _domains(cluster: Cluster) -> dict[str, list[tuple[str, int]]]:
    """vm id → [(host name, libvirt run state)] from every host's node file."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name, host in cluster.hosts.items():
        for saved in simhost.saved_domains(host.node_file):
            uuid = ET.fromstring(saved.xml).findtext("uuid") or "?"
            out.setdefault(uuid, []).append((name, saved.state))
    return out


async def _invariants(conn: psycopg.AsyncConnection[Any], cluster: Cluster, v: Verdict) -> None:
    hosts = await _rows(
        conn,
        "SELECT id, name, cpus, memory_mib, cpu_overcommit, memory_overcommit,"
        " allocated_vcpus, allocated_memory_mib FROM lq.hosts",
    )
    reserved = {
        r[0]: (r[1], r[2])
        for r in await _rows(
            conn,
            "SELECT host_id, sum(vcpus)::int, sum(memory_mib)::int FROM lq.reservations"
            " GROUP BY host_id",
        )
    }
    vms = await _rows(
        conn, "SELECT id, name, state, host_id, host_name, vcpus, memory_mib FROM lq.vms"
    )
    placed: dict[str, tuple[int, int]] = {}
    for _, _, state, host_id, _, vcpus, mem in vms:
        if host_id and state != "deleted":
            c, m = placed.get(host_id, (0, 0))
            placed[host_id] = (c + vcpus, m + mem)
    names = {}
    for hid, name, cpus, mem, cpu_oc, mem_oc, a_cpu, a_mem in hosts:
        names[hid] = name
        if a_cpu > int(cpus * cpu_oc) or a_mem > int(mem * mem_oc):
            v.violations.append(f"host {name} over capacity: {a_cpu} vCPUs, {a_mem} MiB")
        if (a_cpu, a_mem) != reserved.get(hid, (0, 0)):
            v.violations.append(f"host {name}: allocation {a_cpu}/{a_mem} != reservations")
        if (a_cpu, a_mem) != placed.get(hid, (0, 0)):
            v.violations.append(
                f"host {name}: allocation {a_cpu}/{a_mem} != VMs placed {placed.get(hid)}"
            )
    domains = _domains(cluster)
    known = set()
    for vm_id, name, state, host_id, _, _, _ in vms:
        known.add(vm_id)
        where = domains.get(vm_id, [])
        if len(where) > 1:
            v.violations.append(f"vm {name} has a domain on {len(where)} hosts: {where}")
        if state == "deleted" or host_id is None:
            if where:
                v.violations.append(f"vm {name} ({state}) still has a domain on {where}")
            continue
        host_name = names.get(host_id)
        if state in RUNSTATE:
            if [h for h, _ in where] != [host_name]:
                v.violations.append(f"vm {name} {state} on {host_name}, domain on {where}")
            elif where[0][1] != RUNSTATE[state]:
                v.violations.append(
                    f"vm {name} is {state} but its domain's run state is {where[0][1]}"
                )
        elif where and where[0][0] != host_name:
            v.violations.append(f"vm {name} ({state}) on {host_name}, domain on {where}")
    for vm_id, where in domains.items():
        if vm_id not in known:
            v.violations.append(f"domain {vm_id} on {where} belongs to no VM")
    holders: dict[str, list[str]] = {}
    for vm_id, name, state, *_ in vms:
        if state != "deleted":
            holders.setdefault(name.lower(), []).append(vm_id)
    for name, ids in holders.items():
        if len(ids) > 1:  # unique names in scope: live VMs, fleet-wide, any case
            v.violations.append(f"{len(ids)} live VMs are named {name}: {ids}")
