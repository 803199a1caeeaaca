"""A continuous mixed workload through the HTTP API, and the ledger of what it was told.

Each worker owns a few VMs and loops: create (sometimes started), start, stop, delete,
with VM sizes that sometimes do not fit anywhere. Every command carries a fresh
``Idempotency-Key``; an ambiguous outcome (connection lost, timeout, 5xx, 504) is retried
with the same key until the API answers, as a careful client does, and some commands are
sent twice at once on purpose. The ledger records every ``202`` (the task id it named,
per key) and every key that was sent, so the checks can account for each of them.

``pause()`` stops new commands and waits until every worker is idle (its last task ended
or its wait gave up), so that the claims can be checked on a quiet system.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.faults.harness import TERMINAL, Api, ApiError

RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass
class Accepted:
    task_id: str
    vm_id: str
    op: str
    key: str
    at: float  # time.monotonic() of the 202


@dataclass
class Ledger:
    accepted: dict[str, Accepted] = field(default_factory=dict)  # task id → first 202
    answers: dict[str, set[str]] = field(default_factory=dict)  # key → task ids answered
    keys_sent: dict[str, str] = field(default_factory=dict)  # key → op
    rejected: dict[str, int] = field(default_factory=dict)  # problem slug → count
    retries: int = 0  # ambiguous outcomes retried with the same key
    duplicate_sends: int = 0  # commands sent twice at once on purpose
    given_up: int = 0  # keys whose retries ran out without an answer
    hung: list[str] = field(default_factory=list)  # tasks that a worker saw outlive the bound

    def record(self, acc: Accepted) -> None:
        self.answers.setdefault(acc.key, set()).add(acc.task_id)
        self.accepted.setdefault(acc.task_id, acc)


class Workload:
    def __init__(
        self,
        api: Api,
        *,
        workers: int = 4,
        vms_per_worker: int = 3,
        task_bound_s: float = 45.0,
        seed: int = 1,
    ) -> None:
        self.api = api
        self.ledger = Ledger()
        self.workers = workers
        self.vms_per_worker = vms_per_worker
        self.task_bound_s = task_bound_s
        self.rng = random.Random(seed)
        self._open = asyncio.Event()
        self._idle: list[asyncio.Event] = [asyncio.Event() for _ in range(workers)]
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.succeeded_at: list[tuple[float, float]] = []  # (accepted at, ended at)

    def start(self) -> None:
        self._open.set()
        self._tasks = [
            asyncio.create_task(self._worker(i), name=f"worker-{i}") for i in range(self.workers)
        ]

    async def pause(self) -> None:
        self._open.clear()
        for ev in self._idle:
            await ev.wait()

    def resume(self) -> None:
        self._open.set()

    async def stop(self) -> None:
        self._stopping = True
        self._open.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def first_success_after(self, t: float) -> float | None:
        """When the first task accepted after ``t`` succeeded (recovery), if one did."""
        ends = [end for acc, end in self.succeeded_at if acc >= t]
        return min(ends) if ends else None

    # -- one worker ---------------------------------------------------------------------

    async def _worker(self, index: int) -> None:
        rng = random.Random(self.rng.random())
        mine: dict[str, str] = {}  # vm id → last known state
        idle = self._idle[index]
        while not self._stopping:
            if not self._open.is_set():
                idle.set()
                await self._open.wait()
            idle.clear()
            try:
                await self._step(rng, mine)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ApiError):
                await asyncio.sleep(0.2)

    async def _step(self, rng: random.Random, mine: dict[str, str]) -> None:
        if len(mine) < self.vms_per_worker and (not mine or rng.random() < 0.4):
            body = {
                "name": f"w-{uuid.uuid4().hex[:10]}",
                "vcpus": rng.choice([1, 1, 2, 4]),
                "memory_mib": rng.choice([128, 256, 512, 1024]),
                "start": rng.random() < 0.5,
            }
            acc = await self.command("create", "POST", "/api/v1/vms", body, rng)
            if acc is not None:
                mine[acc.vm_id] = "pending"
                await self._maybe_follow(acc, mine, rng)
            return
        vm_id = rng.choice(list(mine))
        status, vm = await self.api.call("GET", f"/api/v1/vms/{vm_id}")
        if status != 200:
            await asyncio.sleep(0.1)
            return
        state = vm["state"]
        if state == "deleted":
            mine.pop(vm_id, None)
            return
        if state in ("stopped", "error", "pending") and rng.random() < 0.35:
            op, method, path = "delete", "DELETE", f"/api/v1/vms/{vm_id}"
        elif state in ("stopped", "error"):
            op, method, path = "start", "POST", f"/api/v1/vms/{vm_id}/actions/start"
        elif state == "running":
            op, method, path = "stop", "POST", f"/api/v1/vms/{vm_id}/actions/stop"
        else:  # an operation is in flight (someone else's retry, or a restart): wait
            await asyncio.sleep(0.2)
            return
        acc = await self.command(op, method, path, None, rng)
        if acc is not None:
            await self._maybe_follow(acc, mine, rng)

    async def _maybe_follow(self, acc: Accepted, mine: dict[str, str], rng: random.Random) -> None:
        """Half the time wait for the task; otherwise move on (the next command on that VM
        may then meet ``operation-in-progress``), so commands keep arriving during faults."""
        if rng.random() < 0.5:
            await self._follow(acc, mine)
        else:
            await asyncio.sleep(0.05)

    async def command(
        self, op: str, method: str, path: str, body: Any, rng: random.Random
    ) -> Accepted | None:
        """Send until answered, retrying ambiguous outcomes with the same key."""
        key = uuid.uuid4().hex
        self.ledger.keys_sent[key] = op
        twice = rng.random() < 0.2
        if twice:
            self.ledger.duplicate_sends += 1
        deadline = time.monotonic() + 90.0
        delay = 0.2
        while time.monotonic() < deadline:
            sends = [self._send(method, path, body, key) for _ in range(2 if twice else 1)]
            got = await asyncio.gather(*sends, return_exceptions=True)
            answers = [g for g in got if isinstance(g, tuple)]
            final = [a for a in answers if a[0] not in RETRYABLE]
            for status, answer in final:
                if status == 202:
                    acc = Accepted(answer["task_id"], answer["vm_id"], op, key, time.monotonic())
                    self.ledger.record(acc)
            done = [a for a in final if a[0] == 202]
            if done:
                return self.ledger.accepted[done[0][1]["task_id"]]
            if final:
                status, first = final[0]
                slug = (
                    str(first.get("type", "?")).rsplit(":", 1)[-1]
                    if isinstance(first, dict)
                    else str(status)
                )
                self.ledger.rejected[slug] = self.ledger.rejected.get(slug, 0) + 1
                await asyncio.sleep(0.2)  # the read model will have moved on by then
                return None
            self.ledger.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.ledger.given_up += 1
        return None

    async def burst(self, count: int) -> None:
        """``count`` creates at once (started at the moment of a fault, so that some are
        cut off mid-flight and retried with their key), two per name with different keys:
        one of each pair must be refused (``name-taken``), which the invariant scan checks."""
        rng = random.Random(self.rng.random())
        body = {"vcpus": 1, "memory_mib": 128, "start": True}
        names = [f"b-{uuid.uuid4().hex[:8]}" for _ in range((count + 1) // 2)]
        await asyncio.gather(
            *(
                self.command("create", "POST", "/api/v1/vms", {**body, "name": names[i // 2]}, rng)
                for i in range(count)
            )
        )

    async def _send(self, method: str, path: str, body: Any, key: str) -> tuple[int, Any]:
        return await self.api.call(method, path, json=body, headers={"Idempotency-Key": key})

    async def _follow(self, acc: Accepted, mine: dict[str, str]) -> None:
        """Wait until the task ends (polling, tolerant of a restarting stack)."""
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ApiError):
                status, task = await self.api.call("GET", f"/api/v1/tasks/{acc.task_id}")
                if status == 200 and task["state"] in TERMINAL:
                    if task["state"] == "succeeded":
                        self.succeeded_at.append((acc.at, time.monotonic()))
                    if acc.op == "delete" and task["state"] == "succeeded":
                        mine.pop(acc.vm_id, None)
                    return
            if time.monotonic() - acc.at > self.task_bound_s:
                self.ledger.hung.append(acc.task_id)
                return
            await asyncio.sleep(0.1)
