"""Load generator: a mix of lifecycle operations and reads through the public HTTP API.

Drives ``/api/v1`` as a client would (bearer token, JSON) with a weighted mix — create,
start, stop, migrate, delete, and list/detail reads — either open-loop at ``--rate``
operations per second or closed-loop as fast as ``--concurrency`` workers go, and
reports:

- lifecycle ops/s (tasks that ended ``succeeded``) and reads/s;
- latency from the request being sent to its task being ``succeeded`` in the read model,
  p50/p95/p99 (also the ``202`` answer alone);
- read-model visibility lag: from the ``202`` answer (the command's events are committed
  by then; its ``seq`` says where) to the first ``/api/v1/changes`` frame whose ``seq``
  reaches it — the time a dashboard needs to learn about the commit. It slightly
  underestimates commit → visible by the ``202``'s own trip back to the client.

Task ends are followed on the change feed (one WebSocket), not by polling: when a frame
names a task this client waits for, that task is read (``GET /tasks/{id}``) ``SETTLE``
seconds after the last frame naming it, so the frames of a task's quick steps (``running``,
then ``succeeded``) cost one read, not one each: the reads are the client's work, not the
operations', and they share the controlplane's CPU. The arrival time of the last frame
before the read counts as the moment the task became visible, so neither the wait nor the
read inflates the latency. A VM has one operation at a time: the client only picks VMs
with no task pending, so ``409 operation-in-progress`` should not happen (counted).

    .venv/bin/python bench/load.py --url http://127.0.0.1:8080 --data-dir .lq --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

MIX = {"create": 2, "start": 3, "stop": 3, "migrate": 1, "delete": 1, "read": 4}
SETTLE = 0.15
"""Seconds from the last change frame naming a task to reading it (its steps coalesce)."""


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def line(name: str, values_s: Sequence[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{name:<28} p50 {pct(ms, 50):8.1f}  p95 {pct(ms, 95):8.1f}  p99 {pct(ms, 99):8.1f}"
        f"  max {max(ms, default=float('nan')):8.1f} ms  (n={len(ms)})"
    )


@dataclass
class Pending:
    op: str
    vm_id: str
    sent: float
    seq: int


@dataclass
class Result:
    duration_s: float = 0.0
    issued: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # 4xx/5xx answers
    unfinished: int = 0
    reads: int = 0
    to_succeeded: list[float] = field(default_factory=list)
    by_op: dict[str, list[float]] = field(default_factory=dict)
    accepted: list[float] = field(default_factory=list)  # request → 202
    read_s: list[float] = field(default_factory=list)
    visibility: list[float] = field(default_factory=list)  # 202 → changes frame
    task_reads: int = 0
    done_tasks: list[str] = field(default_factory=list)  # succeeded task ids, in order

    def summary(self) -> dict[str, Any]:
        ok = sum(self.succeeded.values())

        def ms(values: Sequence[float], p: int) -> float:
            return round(pct(values, p) * 1000, 1)

        return {
            "duration_s": round(self.duration_s, 1),
            "lifecycle_ops_per_s": round(ok / self.duration_s, 1) if self.duration_s else 0,
            "reads_per_s": round(self.reads / self.duration_s, 1) if self.duration_s else 0,
            "issued": dict(self.issued),
            "succeeded": dict(self.succeeded),
            "failed": dict(self.failed),
            "rejected": dict(self.rejected),
            "unfinished": self.unfinished,
            "succeeded_ms": {p: ms(self.to_succeeded, p) for p in (50, 95, 99)},
            "accepted_ms": {p: ms(self.accepted, p) for p in (50, 95, 99)},
            "read_ms": {p: ms(self.read_s, p) for p in (50, 95, 99)},
            "visibility_ms": {p: ms(self.visibility, p) for p in (50, 95, 99)},
            "task_reads": self.task_reads,
        }


class Load:
    """One client: an HTTP session, the change feed, and the VMs it created."""

    def __init__(self, url: str, token: str, *, mix: dict[str, int] | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.mix = mix or MIX
        self.http: aiohttp.ClientSession | None = None
        self.res = Result()
        self.stopped: list[str] = []  # idle VMs by power state
        self.running: list[str] = []
        self.busy: set[str] = set()
        self.pending: dict[str, Pending] = {}  # task id → pending op
        self.awaiting_seq: list[tuple[int, float]] = []  # (seq, 202 time), visibility lag
        self.feed_seq = 0
        self._dirty: asyncio.Queue[str] = asyncio.Queue()  # tasks to read now
        self._seen: dict[str, float] = {}  # task id → arrival of the last frame naming it
        self._done = asyncio.Event()
        self._progress = asyncio.Event()  # a task ended
        self._n = 0
        self._tag = f"{random.randrange(16**4):04x}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def __aenter__(self) -> Load:
        conn = aiohttp.TCPConnector(limit=64)
        self.http = aiohttp.ClientSession(connector=conn, headers=self.headers)
        self._tasks = [
            asyncio.create_task(self._feed()),
            *(asyncio.create_task(self._checker()) for _ in range(4)),
        ]
        await asyncio.sleep(0.2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.close()

    # -- the change feed --

    async def _feed(self) -> None:
        assert self.http is not None
        ws_url = self.url.replace("http", "ws", 1) + "/api/v1/changes"
        while True:
            try:
                async with self.http.ws_connect(
                    ws_url, params={"access_token": self.token}, heartbeat=20
                ) as ws:
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            continue
                        self._frame(json.loads(msg.data), time.perf_counter())
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.2)

    def _frame(self, frame: dict[str, Any], now: float) -> None:
        seq = int(frame.get("seq", 0))
        self.feed_seq = max(self.feed_seq, seq)
        if self.awaiting_seq:
            keep = []
            for s, t in self.awaiting_seq:
                if seq >= s:
                    self.res.visibility.append(now - t)
                else:
                    keep.append((s, t))
            self.awaiting_seq = keep
        if frame.get("type") == "resync":
            for task_id in list(self.pending):
                self._named(task_id, now)
            return
        for change in frame.get("changes") or ():
            if change.get("kind") == "task" and change.get("id") in self.pending:
                p = self.pending[change["id"]]
                if int(change.get("seq", seq)) > p.seq:  # beyond the queued state
                    self._named(change["id"], now)

    def _named(self, task_id: str, now: float) -> None:
        """A frame named the task: read it ``SETTLE`` s later (one read for its steps)."""
        if task_id not in self._seen:
            asyncio.get_running_loop().call_later(SETTLE, self._dirty.put_nowait, task_id)
        self._seen[task_id] = now

    async def _checker(self) -> None:
        assert self.http is not None
        while True:
            task_id = await self._dirty.get()
            seen = self._seen.pop(task_id, 0.0)
            p = self.pending.get(task_id)
            if p is None:
                continue
            try:
                async with self.http.get(f"{self.url}/api/v1/tasks/{task_id}") as r:
                    self.res.task_reads += 1
                    if r.status != 200:
                        continue
                    state = (await r.json()).get("state")
            except (aiohttp.ClientError, OSError):
                continue
            if state in ("succeeded", "failed", "cancelled") and task_id in self.pending:
                del self.pending[task_id]
                if state == "succeeded":
                    self.res.done_tasks.append(task_id)
                self._finish(p, state == "succeeded", seen)

    async def _throttle(self, limit: int) -> None:
        """Wait while more than ``limit`` tasks are open (re-checked at least every 0.5 s)."""
        while len(self.pending) > limit:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), 0.5)

    def _finish(self, p: Pending, ok: bool, seen: float) -> None:
        self._progress.set()
        self.busy.discard(p.vm_id)
        if not ok:
            self.res.failed[p.op] += 1
            return
        self.res.succeeded[p.op] += 1
        self.res.to_succeeded.append(seen - p.sent)
        self.res.by_op.setdefault(p.op, []).append(seen - p.sent)
        if p.op in ("create", "stop"):
            self.stopped.append(p.vm_id)
        elif p.op in ("start", "migrate"):
            self.running.append(p.vm_id)
        if not self.pending:
            self._done.set()

    # -- operations --

    def _pick(self) -> tuple[str, str | None]:
        while True:
            op = random.choices(list(self.mix), weights=list(self.mix.values()))[0]
            if op in ("create", "read"):
                return op, None
            pool = self.running if op in ("stop", "migrate") else self.stopped
            if op == "delete":
                pool = self.stopped
            if pool:
                vm_id = pool.pop(random.randrange(len(pool)))
                return op, vm_id
            if not self.stopped and not self.running:
                return "create", None

    async def one(self, op: str | None = None, vm_id: str | None = None) -> None:
        if op is None:
            op, vm_id = self._pick()
        assert self.http is not None
        self.res.issued[op] += 1
        sent = time.perf_counter()
        if op == "read":
            await self._read(sent)
            return
        method, path, body = self._request(op, vm_id)
        if vm_id:
            self.busy.add(vm_id)
        try:
            async with self.http.request(method, self.url + path, json=body) as r:
                answer = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, OSError):
            status, answer = 599, {}
        now = time.perf_counter()
        if status != 202:
            self.res.rejected[f"{op} {status}"] += 1
            if vm_id:
                self.busy.discard(vm_id)
                (self.running if op in ("stop", "migrate") else self.stopped).append(vm_id)
            return
        self.res.accepted.append(now - sent)
        seq = int(answer.get("seq", 0))
        vm_id = vm_id or answer["vm_id"]
        self.pending[answer["task_id"]] = Pending(op, vm_id, sent, seq)
        self._done.clear()
        if seq > self.feed_seq:
            self.awaiting_seq.append((seq, now))
        else:
            self.res.visibility.append(0.0)

    def _request(self, op: str, vm_id: str | None) -> tuple[str, str, dict[str, Any] | None]:
        if op == "create":
            self._n += 1
            name = f"load-{self._tag}-{self._n:06d}"
            return "POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mib": 512}
        if op == "delete":
            return "DELETE", f"/api/v1/vms/{vm_id}", None
        return "POST", f"/api/v1/vms/{vm_id}/actions/{op}", {}

    async def _read(self, sent: float) -> None:
        assert self.http is not None
        known = self.running or self.stopped
        path = (
            f"/api/v1/vms/{random.choice(known)}"
            if known and random.random() < 0.5
            else "/api/v1/vms?limit=50"
        )
        try:
            async with self.http.get(self.url + path) as r:
                await r.read()
                if r.status == 200:
                    self.res.reads += 1
                    self.res.read_s.append(time.perf_counter() - sent)
                else:
                    self.res.rejected[f"read {r.status}"] += 1
        except (aiohttp.ClientError, OSError):
            self.res.rejected["read error"] += 1

    async def run(
        self, duration: float, rate: float, concurrency: int, drain_s: float = 30.0
    ) -> Result:
        """Issue the mix for ``duration`` s, then wait up to ``drain_s`` for open tasks."""
        t0 = time.perf_counter()
        end = t0 + duration
        inflight: set[asyncio.Task[None]] = set()
        if rate > 0:
            n = 0
            while (now := time.perf_counter()) < end:
                due = t0 + n / rate
                if due > now:
                    await asyncio.sleep(due - now)
                n += 1
                if len(inflight) >= concurrency:
                    self.res.rejected["client saturated"] += 1
                    continue
                t = asyncio.create_task(self.one())
                inflight.add(t)
                t.add_done_callback(inflight.discard)
        else:

            async def worker() -> None:
                while time.perf_counter() < end:
                    await self.one()
                    await self._throttle(4 * concurrency)  # let tasks finish

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.gather(*inflight, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            if self.pending:
                await asyncio.wait_for(self._done.wait(), drain_s)
        self.res.duration_s = time.perf_counter() - t0
        self.res.unfinished = len(self.pending)
        return self.res

    async def fill(self, vms: int, concurrency: int, start: bool = True) -> float:
        """Create ``vms`` VMs (started when ``start``) as fast as the API takes them;
        returns VMs/s until the last one is ``succeeded``."""
        t0 = time.perf_counter()
        todo = iter(range(vms))

        async def worker() -> None:
            for _ in todo:
                await self.one("create")
                await self._throttle(2 * concurrency)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), 120)
        rate = vms / (time.perf_counter() - t0)
        if start:
            idle, self.stopped = self.stopped, []
            it = iter(idle)

            async def starter() -> None:
                for vm_id in it:
                    await self.one("start", vm_id)
                    await self._throttle(2 * concurrency)

            await asyncio.gather(*(starter() for _ in range(concurrency)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), 120)
        return rate

    async def stages(self, sample: int) -> dict[str, list[float]]:
        """Where the time went, from the events of ``sample`` succeeded tasks (spread over
        the run): the command's first event → the controlplane's first reaction (placement,
        order dispatch) → the last event an agent's report caused."""
        assert self.http is not None
        out: dict[str, list[float]] = {"event → reaction": [], "reaction → agent done": []}
        ids = self.res.done_tasks
        step = max(1, len(ids) // max(1, sample))
        for task_id in ids[::step][:sample]:
            async with self.http.get(f"{self.url}/api/v1/tasks/{task_id}/events") as r:
                if r.status != 200:
                    continue
                events = (await r.json())["items"]
            at = [(e["actor"], _ts(e["occurred_at"])) for e in events]
            system = [t for actor, t in at if actor.startswith("system:")]
            agent = [t for actor, t in at if actor.startswith("agent:")]
            if at and system and agent:
                out["event → reaction"].append(system[0] - at[0][1])
                out["reaction → agent done"].append(max(agent) - system[0])
        return out


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def login(url: str, data_dir: Path) -> str:
    """An access token for admin (the password the controlplane wrote to the data dir)."""
    secret = (data_dir / "admin-password").read_text().strip()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url.rstrip("/") + "/api/v1/auth/login",
            json={"username": "admin", "password": secret},
        ) as r,
    ):
        r.raise_for_status()
        return str((await r.json())["access_token"])


def print_result(title: str, res: Result) -> None:
    s = res.summary()
    print(f"== {title}: {s['lifecycle_ops_per_s']} lifecycle ops/s, {s['reads_per_s']} reads/s")
    print(f"   issued {s['issued']}  failed {s['failed']}  rejected {s['rejected']}")
    print(f"   unfinished {s['unfinished']}, task reads {s['task_reads']}")
    print("   " + line("request → succeeded", res.to_succeeded))
    for op, values in sorted(res.by_op.items()):
        print("   " + line(f"  {op}", values))
    print("   " + line("request → 202", res.accepted))
    print("   " + line("read", res.read_s))
    print("   " + line("202 → change feed (lag)", res.visibility))


async def _main(args: argparse.Namespace) -> None:
    token = args.token or await login(args.url, Path(args.data_dir))
    mix = dict(MIX)
    if args.no_migrate:
        mix.pop("migrate")
    async with Load(args.url, token, mix=mix) as load:
        if args.fill:
            rate = await load.fill(args.fill, args.concurrency)
            print(f"filled {args.fill} VMs at {rate:.1f} creates/s")
            load.res = Result()
        res = await load.run(args.duration, args.rate, args.concurrency)
        stages = await load.stages(args.stages) if args.stages else {}
    print_result("mixed lifecycle load", res)
    for name, values in stages.items():
        print("   " + line(name, values))
    if args.json:
        print(json.dumps(res.summary()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--url", required=True)
    p.add_argument("--data-dir", default=".lq", help="for the admin password")
    p.add_argument("--token", default="")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=0.0, help="ops/s (0: as fast as possible)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--fill", type=int, default=0, help="create+start this many VMs first")
    p.add_argument("--no-migrate", action="store_true")
    p.add_argument("--stages", type=int, default=50, help="tasks sampled for the stage split")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
