"""Two controlplane replicas on one NATS and one PostgreSQL: one leader, shared work.

Both replicas are real ``lq controlplane`` processes. Exactly one holds the lease
``controlplane-jobs`` and runs the liveness/deadline watcher; both accept commands; a
host that stops heartbeating is marked disconnected once, not once per replica; when the
leader is killed (SIGKILL: no release), the other replica takes the jobs over within the
lease TTL; a clean stop releases the lease at once.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from events.bus import Bus
from tests.operate.conftest import Client, Deployment, login, wait_ready_checks

TTL = 3.0


async def leader_flags(*bases: str) -> list[bool]:
    return [bool((await wait_ready_checks(b))["leader"]) for b in bases]


async def wait_leader(base: str, timeout: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            if (await wait_ready_checks(base))["leader"]:
                return time.monotonic() - started
            await asyncio.sleep(0.1)


@pytest.mark.timeout(240)
async def test_one_leader_shared_commands_and_takeover(deployment: Deployment) -> None:
    deployment.spawn("projector")
    a = deployment.controlplane()
    await wait_leader(a.base, 60)
    b = deployment.controlplane()
    await wait_ready_checks(b.base)
    for _ in range(int(TTL * 2 / 0.25)):  # over two TTLs, the lease never moves
        assert await leader_flags(a.base, b.base) == [True, False]
        await asyncio.sleep(0.25)

    token = await login(a.base)  # one signing key for every replica: valid on both
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        ca, cb = Client(session, a.base), Client(session, b.base)
        agent = await deployment.add_agent("sim-1")
        host_id = agent.host_id
        assert host_id is not None

        # commands on either replica, read on the other
        made = await ca.command(
            "POST",
            "/api/v1/vms",
            json={"name": "web-1", "vcpus": 1, "memory_mib": 256, "start": True},
        )
        assert (await cb.wait_task(made["task_id"]))["state"] == "succeeded"
        stopped = await cb.command("POST", f"/api/v1/vms/{made['vm_id']}/actions/stop")
        assert (await ca.wait_task(stopped["task_id"]))["state"] == "succeeded"

        # the leader-only watcher acts once: one host.disconnected, however many replicas
        _, stop, task = deployment.agents[0]
        stop.set()
        await asyncio.wait_for(task, 10)
        async with asyncio.timeout(30):
            while True:
                if (await cb.get(f"/api/v1/hosts/{host_id}"))["state"] == "disconnected":
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(3.0)  # several more sweeps of a (wrong) second watcher
        path = f"/api/v1/events?type=host.disconnected&aggregate_id={host_id}"
        assert len((await ca.get(path))["items"]) == 1

        # SIGKILL the leader: the lease ages out and the follower takes over
        a.kill()
        took = await wait_leader(b.base, TTL + 10)
        assert took <= TTL + TTL / 5 + 2.0, f"takeover took {took:.1f}s"
        started = await cb.command("POST", f"/api/v1/vms/{made['vm_id']}/actions/start")
        assert started["vm_id"] == made["vm_id"]

    # a clean stop releases the lease at once
    assert b.terminate() == 0
    bus = await Bus.connect(deployment.env["LQ_NATS_URL"], name="lq-test")
    try:
        assert await bus.lease_holder("controlplane-jobs") is None
    finally:
        await bus.close()


@pytest.mark.timeout(180)
async def test_clean_stop_hands_over_without_waiting_for_the_ttl(
    deployment: Deployment,
) -> None:
    deployment.env["LQ_LEADER_TTL_S"] = "20"  # a crash would need 20 s; a stop must not
    a = deployment.controlplane()
    await wait_leader(a.base, 60)
    b = deployment.controlplane()
    await wait_ready_checks(b.base)
    assert await leader_flags(b.base) == [False]
    assert a.terminate() == 0
    took = await wait_leader(b.base, 15)
    assert took < 20 / 5 + 2.0, f"takeover after a clean stop took {took:.1f}s"


@pytest.mark.timeout(180)
async def test_a_crashed_leader_that_comes_back_first_leads_again_at_once(
    deployment: Deployment,
) -> None:
    deployment.env["LQ_LEADER_TTL_S"] = "60"
    a = deployment.controlplane()
    await wait_leader(a.base, 60)
    a.kill()  # no release: the lease stays in the bucket for 60 s
    again = deployment.controlplane(port=a.port)  # same host and port: same holder
    took = await wait_leader(again.base, 40)
    assert took < 30, f"the restarted replica waited {took:.1f}s for its own lease"
