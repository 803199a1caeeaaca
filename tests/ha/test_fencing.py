"""Self-fencing: an agent cut off from NATS destroys its HA VMs, and only those.

The agent runs in the test's loop with its NATS connection through a TCP relay that can
swallow everything (``tests.faults.harness.Proxy``): a network partition of one host.
After ``ha_fence_after_s`` without a lease renewal its HA-protected VM is powered off on
the hypervisor while its other VM runs on. When the partition heals, the agent reports
the fencing in its lease; the controlplane records ``host.fenced`` and, the host being
back, restarts the fenced VM.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

import pytest

from agent import simhost
from agent.service import Agent
from events import settings as settings_mod
from tests.faults.harness import Proxy
from tests.ha.test_ha_restart import wait_protected
from tests.integration.conftest import Stack, StackFactory, _plain

FENCE_AFTER = 3.0


async def agent_behind(stack: Stack, proxy: Proxy, name: str) -> Agent:
    uri = simhost.write_node_file(stack.hosts_dir, name, cpus=8, memory_mib=8192)
    s = settings_mod.load(
        {**_plain(stack.settings), "agent_name": name, "nats_url": proxy.url}, env={}
    )
    agent = Agent(s, hypervisor_uri=uri)
    stop = asyncio.Event()
    stack.agents[name] = agent
    stack.agent_stops[name] = stop
    stack.tasks.append(asyncio.create_task(agent.run(stop), name=f"agent-{name}"))
    await asyncio.wait_for(agent.ready.wait(), 20)
    return agent


async def running_vm(stack: Stack, name: str, host_id: str, ha: bool) -> str:
    body = {"name": name, "vcpus": 1, "memory_mib": 256, "start": True, "host_id": host_id}
    made = await stack.command("POST", "/api/v1/vms", json={**body, "ha_enabled": ha})
    assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    return str(made["vm_id"])


@pytest.mark.timeout(120)
async def test_an_agent_that_loses_nats_destroys_its_ha_vms(
    make_stack: StackFactory, nats_url: str
) -> None:
    stack = await make_stack(
        heartbeat_timeout_s=4.0,
        ha_fence_after_s=FENCE_AFTER,
        ha_fence_margin_s=1.0,
        ha_down_grace_s=120.0,  # the host must not be declared down during the cut
    )
    port = urlparse(nats_url).port
    assert port is not None
    proxy = Proxy(port)
    await proxy.start()
    try:
        agent = await agent_behind(stack, proxy, "cut-1")
        assert agent.host_id is not None
        protected = await running_vm(stack, "protected", agent.host_id, ha=True)
        plain = await running_vm(stack, "plain", agent.host_id, ha=False)
        await wait_protected(nats_url, agent.host_id, {protected})

        proxy.cut()
        cut_at = time.monotonic()
        async with asyncio.timeout(FENCE_AFTER + 10):
            while True:
                if await agent.hypervisor.state(protected) != "running":
                    break
                await asyncio.sleep(0.1)
        fenced_after = time.monotonic() - cut_at
        print(f"\nfenced {fenced_after:.1f} s after the partition began")
        assert fenced_after >= FENCE_AFTER - 0.5
        assert await agent.hypervisor.state(plain) == "running", "only HA VMs are fenced"

        proxy.heal()
        async with asyncio.timeout(60):
            while True:
                path = f"/api/v1/events?type=host.fenced&aggregate_id={agent.host_id}"
                if (await stack.get(path))["items"]:
                    break
                await asyncio.sleep(0.2)
        # the host is back and the VM is still assigned to it: HA starts it again
        async with asyncio.timeout(60):
            while True:
                vm = await stack.get(f"/api/v1/vms/{protected}")
                if vm["state"] == "running" and await agent.hypervisor.state(protected) == (
                    "running"
                ):
                    break
                await asyncio.sleep(0.2)
        assert (await stack.get(f"/api/v1/vms/{plain}"))["state"] == "running"
    finally:
        await proxy.close()
