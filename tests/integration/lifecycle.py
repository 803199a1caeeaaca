"""Helpers of the lifecycle tests: make a VM and wait for it, run one operation to its end."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

from agent.service import Agent
from tests.integration.conftest import Stack

SPEC: dict[str, Any] = {
    "name": "life-1",
    "vcpus": 1,
    "memory_mib": 256,
    "disks": [{"size_gib": 2}],
    "nics": [{}],
    "max_vcpus": 4,
    "max_memory_mib": 1024,
}


_SERIAL = itertools.count(1)


async def make_vm(stack: Stack, **overrides: Any) -> str:
    """Create a VM from ``SPEC`` (a fresh name each time: names are unique) and wait for
    its task to succeed."""
    spec = {**SPEC, "name": f"life-{next(_SERIAL)}", **overrides}
    made = await stack.command("POST", "/api/v1/vms", json=spec)
    task = await stack.wait_task(made["task_id"])
    assert task["state"] == "succeeded", task
    return str(made["vm_id"])


async def run(stack: Stack, method: str, path: str, **kw: Any) -> dict[str, Any]:
    """Send one command and wait for its task to end; the task (with ``seq``) is returned."""
    accepted = await stack.command(method, path, **kw)
    task = await stack.wait_task(accepted["task_id"])
    return {**task, "accepted": accepted}


async def vm_view(stack: Stack, vm_id: str, seq: int = 0) -> dict[str, Any]:
    return dict(await stack.get(f"/api/v1/vms/{vm_id}?min_seq={seq}"))


async def event_types(stack: Stack, vm_id: str) -> list[str]:
    items = (await stack.get(f"/api/v1/vms/{vm_id}/events?limit=500"))["items"]
    return [e["type"] for e in items]


async def events_of(stack: Stack, vm_id: str, type_: str) -> list[dict[str, Any]]:
    items = (await stack.get(f"/api/v1/vms/{vm_id}/events?limit=500&type={type_}"))["items"]
    return [dict(e) for e in items]


def agent_of(stack: Stack, host_id: str) -> Agent:
    return next(a for a in stack.agents.values() if a.host_id == host_id)


async def domain_xml(stack: Stack, vm_id: str, host_id: str) -> ET.Element:
    return ET.fromstring(await agent_of(stack, host_id).hypervisor.definition(vm_id))


async def stream_seq(stack: Stack) -> int:
    return int((await stack.get("/ready"))["checks"]["stream_seq"])
