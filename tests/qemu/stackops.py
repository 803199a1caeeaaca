"""Steps the whole-stack tests of the tier share: commands run to the end of their task, the
VM as the read model has it, libvirt's own word on a domain, and the serial console proxy.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.conftest import Stack
from tests.qemu import guest
from tests.qemu.conftest import Janitor

TASK_TIMEOUT_S = 120.0
GUEST_TIMEOUT_S = 90.0


async def run(stack: Stack, method: str, path: str, **kw: Any) -> dict[str, Any]:
    """One command to the end of its task, which must succeed; the accepted answer is
    under ``accepted``."""
    task = await run_any(stack, method, path, **kw)
    assert task["state"] == "succeeded", (method, path, task)
    return task


async def run_any(stack: Stack, method: str, path: str, **kw: Any) -> dict[str, Any]:
    """One command to the end of its task, however it ended."""
    accepted = await stack.command(method, path, **kw)
    task = await stack.wait_task(accepted["task_id"], timeout=TASK_TIMEOUT_S)
    return {**task, "accepted": accepted}


async def create_vm(
    stack: Stack, janitor: Janitor, g: guest.Guest, *, cmdline: str = "", **spec: Any
) -> str:
    """A running VM booting the tiny guest directly, with a 1 GiB qcow2 boot disk; it is
    recorded with the janitor before its task ends, so a failure still cleans it up."""
    body = {
        "name": f"lqtest-{uuid.uuid4().hex[:8]}",
        "vcpus": 1,
        "memory_mib": 128,
        "disks": [{"size_gib": 1}],
        "kernel": str(g.kernel),
        "initrd": str(g.initrd),
        "cmdline": cmdline or g.cmdline,
        "start": True,
        **spec,
    }
    made = await stack.command("POST", "/api/v1/vms", json=body)
    janitor.vm_ids.append(made["vm_id"])
    task = await stack.wait_task(made["task_id"], timeout=TASK_TIMEOUT_S)
    assert task["state"] == "succeeded", task
    vm = await vm_view(stack, made["vm_id"], made["seq"])
    assert vm["state"] == "running", vm
    return str(made["vm_id"])


async def vm_view(stack: Stack, vm_id: str, seq: int) -> dict[str, Any]:
    return dict(await stack.get(f"/api/v1/vms/{vm_id}?min_seq={seq}"))


async def events_of(stack: Stack, vm_id: str, type_: str) -> list[dict[str, Any]]:
    items = (await stack.get(f"/api/v1/vms/{vm_id}/events?limit=500&type={type_}"))["items"]
    return [dict(e) for e in items]


async def libvirt_state(janitor: Janitor, vm_id: str) -> tuple[int, int]:
    """libvirt's (state, reason) of the VM's domain."""
    dom = janitor.domain(vm_id)
    assert dom is not None, f"no domain for {vm_id} on qemu:///system"
    state, reason = await asyncio.to_thread(dom.state)
    return int(state), int(reason)


def disk_target(domain: ET.Element, volume: str) -> str:
    """The target device (``vda``...) of the disk whose source file is ``volume``."""
    for disk in domain.iterfind("devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        found = source is not None and Path(source.get("file", "")).name == volume
        if found and target is not None:
            return target.get("dev", "")
    raise AssertionError(f"no disk {volume} in {ET.tostring(domain, encoding='unicode')}")


class SerialProxy:
    """A browser's view of the serial console: the controlplane's WebSocket proxy."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen = ""

    async def until(self, needle: str, timeout: float = GUEST_TIMEOUT_S) -> None:
        """Read until ``needle`` is among what was read since the last ``forget``."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not seen through the console proxy: {self.seen[-1500:]!r}"
            try:
                msg = await self.ws.receive(timeout=left)
            except TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.seen += msg.data.decode(errors="replace")
            elif msg.type == aiohttp.WSMsgType.TEXT:
                self.seen += msg.data
            else:
                raise AssertionError(f"console closed ({msg.type}, {msg.data!r}): {self.seen!r}")

    def forget(self) -> None:
        self.seen = ""

    async def answers(self) -> None:
        """The guest's shell answers a typed command (input and output both relayed)."""
        self.forget()
        await self.ws.send_bytes(b"\necho lq-$((6*7))\n")
        await self.until("lq-42", 30)


@asynccontextmanager
async def serial(stack: Stack, vm_id: str) -> AsyncIterator[SerialProxy]:
    url = stack.base.replace("http", "ws", 1) + f"/api/v1/vms/{vm_id}/console/serial"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, params={"access_token": stack.token}) as ws,
    ):
        yield SerialProxy(ws)


async def guest_alive(stack: Stack, vm_id: str) -> str:
    """Through the proxy: a heartbeat of the guest, then an answer from its shell."""
    async with serial(stack, vm_id) as console:
        await console.until(guest.HEARTBEAT)
        seen = console.seen
        await console.answers()
    return seen
