"""The fault catalogue and the run: inject, recover, check the claims, print the figures.

``run_faults`` keeps the workload going, injects each fault in turn (then, for a soak,
faults drawn at random), lets the system recover, pauses the workload, checks every claim
(``tests.faults.checks``) and resumes. Recovery is measured from the moment of the fault
to (a) the first task accepted after it that succeeded and (b) the stack being ready
again with every host connected. Faults that outlast a timeout must also leave a visible
trace (a host marked disconnected with a reason); the time until it shows is noted.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.faults.checks import Verdict, check
from tests.faults.harness import Api, Cluster, Proc, wait_ready
from tests.faults.workload import Workload

FaultFn = Callable[[Cluster, Api, random.Random], Awaitable[str]]


@dataclass
class Result:
    fault: str
    note: str
    accepted: int  # commands accepted during this round
    verdict: Verdict
    first_ok_s: float | None
    ready_s: float | None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    accepted: int = 0
    retries: int = 0
    duplicate_sends: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    final: Verdict | None = None

    @property
    def ok(self) -> bool:
        return all(r.verdict.ok for r in self.results) and (self.final is None or self.final.ok)

    def table(self) -> str:
        head = (
            f"{'fault':<22} {'accepted':>8} {'lost':>4} {'dup':>4} {'inv':>4} {'diff':>4}"
            f" {'first ok s':>10} {'ready s':>8}  note"
        )
        lines = [head, "-" * len(head)]
        for r in self.results:
            v = r.verdict
            lines.append(
                f"{r.fault:<22} {r.accepted:>8} {len(v.lost):>4} {len(v.duplicated):>4}"
                f" {len(v.violations):>4} {len(v.differences):>4}"
                f" {_fmt(r.first_ok_s):>10} {_fmt(r.ready_s):>8}  {r.note}"
            )
        f = self.final or Verdict()
        lines.append("-" * len(head))
        lines.append(
            f"{'total: ' + str(len(self.results)) + ' faults':<22} {self.accepted:>8}"
            f" {len(f.lost):>4} {len(f.duplicated):>4} {len(f.violations):>4}"
            f" {len(f.differences):>4}"
        )
        lines.append(
            f"client retries with the same key: {self.retries}; sent twice on purpose:"
            f" {self.duplicate_sends}; rejected: {dict(sorted(self.rejected.items()))}"
        )
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


# -- the faults ----------------------------------------------------------------------------


def _restart(proc: Proc) -> None:
    proc.kill()
    proc.start()


async def kill_controlplane(c: Cluster, api: Api, rng: random.Random) -> str:
    assert c.controlplane is not None
    _restart(c.controlplane)
    return "SIGKILL, restarted"


async def kill_projector(c: Cluster, api: Api, rng: random.Random) -> str:
    assert c.projector is not None
    _restart(c.projector)
    return "SIGKILL, restarted"


async def kill_agent(c: Cluster, api: Api, rng: random.Random) -> str:
    host = rng.choice(list(c.hosts.values()))
    _restart(host.proc)
    return f"SIGKILL {host.name}, restarted"


async def kill_nats(c: Cluster, api: Api, rng: random.Random) -> str:
    await c.kill_nats()
    await asyncio.sleep(1.0)
    await c.restart_nats()
    return "SIGKILL, down 1 s, restarted"


async def kill_postgres(c: Cluster, api: Api, rng: random.Random) -> str:
    await c.kill_postgres()
    await asyncio.sleep(1.0)
    await c.restart_postgres()
    return "SIGKILL all postgres processes, down 1 s"


async def _disconnected_within(api: Api, name: str, timeout: float) -> float | None:
    """Seconds until host ``name`` shows ``disconnected`` with a reason, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            hosts = (await api.get("/api/v1/hosts"))["items"]
            h = next(h for h in hosts if h["name"] == name)
            if h["state"] == "disconnected" and h["reason"]:
                return time.monotonic() - start
        except Exception:
            pass
        await asyncio.sleep(0.2)
    return None


async def pause_agent(c: Cluster, api: Api, rng: random.Random) -> str:
    host = rng.choice(list(c.hosts.values()))
    host.proc.pause()
    try:
        seen = await _disconnected_within(api, host.name, c.timing.heartbeat_timeout_s + 6)
        await asyncio.sleep(1.0)
    finally:
        host.proc.resume()
    if seen is None:
        raise AssertionError(f"{host.name} stopped but never shown disconnected")
    return f"SIGSTOP {host.name}; shown disconnected after {seen:.1f} s"


async def cut_agent(c: Cluster, api: Api, rng: random.Random) -> str:
    host = rng.choice(list(c.hosts.values()))
    host.proxy.cut()
    try:
        seen = await _disconnected_within(api, host.name, c.timing.heartbeat_timeout_s + 6)
        await asyncio.sleep(1.0)
    finally:
        host.proxy.heal()
    if seen is None:
        raise AssertionError(f"{host.name} cut off but never shown disconnected")
    return f"{host.name} partitioned; shown disconnected after {seen:.1f} s"


async def pause_controlplane(c: Cluster, api: Api, rng: random.Random) -> str:
    assert c.controlplane is not None
    c.controlplane.pause()
    await asyncio.sleep(c.timing.heartbeat_timeout_s + 2)
    c.controlplane.resume()
    return f"SIGSTOP {c.timing.heartbeat_timeout_s + 2:.0f} s"


async def pause_projector(c: Cluster, api: Api, rng: random.Random) -> str:
    assert c.projector is not None
    c.projector.pause()
    await asyncio.sleep(6.0)  # past the API's read wait: readers get 504, not a hang
    c.projector.resume()
    return "SIGSTOP 6 s"


async def pause_nats(c: Cluster, api: Api, rng: random.Random) -> str:
    assert c.nats is not None
    c.nats.proc.send_signal(signal.SIGSTOP)
    await asyncio.sleep(c.timing.heartbeat_timeout_s + 1)
    c.nats.proc.send_signal(signal.SIGCONT)
    return f"SIGSTOP {c.timing.heartbeat_timeout_s + 1:.0f} s"


EACH: dict[str, FaultFn] = {
    "kill controlplane": kill_controlplane,
    "kill projector": kill_projector,
    "kill agent": kill_agent,
    "kill nats-server": kill_nats,
    "kill postgres": kill_postgres,
    "stop agent > timeout": pause_agent,
    "cut agent off": cut_agent,
}
EXTRA: dict[str, FaultFn] = {
    "stop controlplane": pause_controlplane,
    "stop projector": pause_projector,
    "stop nats-server": pause_nats,
}
ALL: dict[str, FaultFn] = {**EACH, **EXTRA}


# -- the run -------------------------------------------------------------------------------


async def run_faults(
    cluster: Cluster,
    api: Api,
    workload: Workload,
    faults: list[str],
    *,
    random_rounds: int = 0,
    load_s: float = 2.0,
    after_s: float = 3.0,
    seed: int = 7,
    log: Callable[[str], None] = print,
) -> Report:
    rng = random.Random(seed)
    report = Report()
    plan = list(faults) + [rng.choice(list(ALL)) for _ in range(random_rounds)]
    bound = cluster.timing.task_bound_s
    for name in plan:
        before = len(workload.ledger.accepted)
        await asyncio.sleep(load_s)
        t0 = time.monotonic()
        burst = asyncio.create_task(workload.burst(4))
        await asyncio.sleep(0.01)
        note = await ALL[name](cluster, api, rng)
        await asyncio.sleep(after_s)
        ready_s: float | None = None
        try:
            await wait_ready(cluster, api, timeout=60)
            ready_s = time.monotonic() - t0
        except AssertionError as exc:
            note += f"; NOT READY: {exc}"
        # give the workload a moment to show a success after the fault
        for _ in range(50):
            if workload.first_success_after(t0) is not None:
                break
            await asyncio.sleep(0.2)
        first = workload.first_success_after(t0)
        await burst
        await workload.pause()
        verdict = await check(cluster, workload.ledger, bound)
        result = Result(
            fault=name,
            note=note,
            accepted=len(workload.ledger.accepted) - before,
            verdict=verdict,
            first_ok_s=None if first is None else first - t0,
            ready_s=ready_s,
        )
        report.results.append(result)
        log(
            f"[faults] {name}: {note}; accepted {result.accepted}; "
            + ("claims hold" if verdict.ok else "CLAIMS BROKEN: " + verdict.summary())
        )
        workload.resume()
    await workload.pause()
    report.final = await check(cluster, workload.ledger, bound)
    led = workload.ledger
    report.accepted = len(led.accepted)
    report.retries = led.retries
    report.duplicate_sends = led.duplicate_sends
    report.rejected = dict(led.rejected)
    return report
