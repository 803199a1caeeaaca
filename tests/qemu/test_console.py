"""The console proxy end to end on a real QEMU guest: browser WebSocket → controlplane →
NATS → agent → libvirt console stream (serial) or QEMU's VNC server, and back.

A whole stack runs in the test's loop with one agent on ``qemu:///system`` (domain type
``qemu``: TCG) and one simulated host. The guest is the tier's tiny one
(``tests.qemu.guest``): it prints a banner and heartbeats on its serial port and runs a
shell there, so typing a command proves both directions. Tests skip with the reason when
libvirtd is unreachable or the guest cannot be built.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from agent.service import Agent
from events import settings as settings_mod
from tests.integration.conftest import Stack, StackFactory, _plain, make_stack
from tests.qemu import guest

__all__ = ["make_stack"]  # the stack fixture, used here beside its home package

pytestmark = pytest.mark.qemu

QEMU_URI = "qemu:///system"
RFB_BANNER = b"RFB 003.008\n"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@dataclass
class QemuStack:
    stack: Stack
    qemu_host: str
    sim_host: str
    hv: Hypervisor
    vm_ids: list[str] = field(default_factory=list)

    def ws_url(self, vm_id: str, kind: str, query: str = "") -> str:
        base = self.stack.base.replace("http://", "ws://", 1)
        return f"{base}/api/v1/vms/{vm_id}/console/{kind}{query}"

    async def create_vm(self, host_id: str, *, start: bool, **spec: Any) -> str:
        body = {
            "name": f"console-{uuid.uuid4().hex[:8]}",
            "vcpus": 1,
            "memory_mib": 256,
            "start": start,
            "host_id": host_id,
            **spec,
        }
        accepted = await self.stack.command("POST", "/api/v1/vms", json=body)
        vm_id = str(accepted["vm_id"])
        self.vm_ids.append(vm_id)
        task = await self.stack.wait_task(accepted["task_id"], timeout=120)
        assert task["state"] == "succeeded", task
        return vm_id


@pytest.fixture
async def qemu(make_stack: StackFactory, tmp_path: Path) -> AsyncIterator[QemuStack]:
    if missing := guest.missing_parts():
        pytest.skip(f"the test guest cannot be built: {', '.join(missing)}")
    try:
        hv = await Hypervisor.open(
            QEMU_URI, images_dir=str(tmp_path / "images"), domain_type="qemu"
        )
    except AgentError as exc:
        pytest.skip(f"{QEMU_URI} is unreachable: {exc}")
    stack = await make_stack([(4, 4096)])
    name = f"qemu-console-{uuid.uuid4().hex[:6]}"
    agent = Agent(
        settings_mod.load({**_plain(stack.settings), "agent_name": name}, env={}),
        hypervisor=hv,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop), name=f"agent-{name}")
    q: QemuStack | None = None
    try:
        await asyncio.wait_for(agent.ready.wait(), 30)
        await stack.wait_hosts(2)
        assert agent.host_id is not None
        q = QemuStack(stack, agent.host_id, await stack.host_id("sim-1"), hv)
        yield q
    finally:
        for vm_id in q.vm_ids if q else []:
            with contextlib.suppress(AgentError):
                await hv.undefine(vm_id)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await hv.close()


async def _read_until(ws: aiohttp.ClientWebSocketResponse, needle: bytes, timeout: float) -> bytes:
    seen = b""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, (msg, seen[-500:])
            seen += msg.data
    return seen


async def test_serial_and_vnc_consoles_of_a_running_guest(qemu: QemuStack) -> None:
    g = guest.build()
    vm_id = await qemu.create_vm(
        qemu.qemu_host,
        start=True,
        kernel=str(g.kernel),
        initrd=str(g.initrd),
        cmdline=g.cmdline,
    )
    token = qemu.stack.token
    # a browser: no headers, the token as a subprotocol beside one the server answers
    async with aiohttp.ClientSession() as browser:
        async with browser.ws_connect(
            qemu.ws_url(vm_id, "serial"), protocols=("binary", f"bearer.{token}")
        ) as ws:
            assert ws.protocol == "binary"
            seen = await _read_until(ws, guest.HEARTBEAT.encode(), timeout=120)
            assert guest.HEARTBEAT.encode() in seen
            await ws.send_str("echo console-$((6*7))-ok\r")  # the shell computes it
            await _read_until(ws, b"console-42-ok", timeout=30)
            await ws.send_bytes(b"echo bin-$((2+3))-ary\r")
            await _read_until(ws, b"bin-5-ary", timeout=30)
        # VNC: QEMU's server greets with the RFB version over binary frames
        async with browser.ws_connect(
            qemu.ws_url(vm_id, "vnc", f"?access_token={token}"), protocols=("binary",)
        ) as ws:
            assert (await _read_until(ws, RFB_BANNER, timeout=30)).startswith(RFB_BANNER)
            await ws.send_bytes(RFB_BANNER)  # the client's version: the server offers security
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.BINARY and len(msg.data) >= 2
        # a console ended by its browser can be opened again (the agent let the old one go);
        # a second serial console takes the port over and the first one is closed
        url = qemu.ws_url(vm_id, "serial", f"?access_token={token}")
        async with browser.ws_connect(url) as first:
            await _read_until(first, guest.HEARTBEAT.encode(), timeout=30)
            async with browser.ws_connect(url) as second:
                await _read_until(second, guest.HEARTBEAT.encode(), timeout=30)
                async with asyncio.timeout(30):
                    while (msg := await first.receive()).type == aiohttp.WSMsgType.BINARY:
                        pass
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        # stopping the VM ends an open console from the host's side
        async with browser.ws_connect(qemu.ws_url(vm_id, "serial", f"?access_token={token}")) as ws:
            await _read_until(ws, guest.HEARTBEAT.encode(), timeout=30)
            await qemu.stack.command("POST", f"/api/v1/vms/{vm_id}/actions/stop", json={})
            async with asyncio.timeout(60):
                while (msg := await ws.receive()).type == aiohttp.WSMsgType.BINARY:
                    pass
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg


async def test_console_refusals(qemu: QemuStack) -> None:
    stopped = await qemu.create_vm(qemu.qemu_host, start=False)
    on_sim = await qemu.create_vm(qemu.sim_host, start=True)  # the test driver: no console
    # a viewer sees VMs but may not open their consoles
    viewer = {
        "username": "console-viewer",
        "password": "console-viewer-pw-1",
        "roles": [{"role": "viewer"}],
    }
    status, out, _ = await qemu.stack.request("POST", "/api/v1/users", json=viewer)
    assert status == 201, out
    seer = (await qemu.stack.login("console-viewer", "console-viewer-pw-1"))["access_token"]
    async with aiohttp.ClientSession() as anon:
        for vm_id, query, status, slug in [
            (stopped, f"?access_token={seer}", 403, "forbidden"),
            (stopped, "", 401, "unauthorized"),  # no credentials at all
            (stopped, "?access_token=not-a-token", 401, "unauthorized"),
            (str(uuid.uuid4()), f"?access_token={qemu.stack.token}", 404, "not-found"),
            (stopped, f"?access_token={qemu.stack.token}", 409, "not-running"),
            (on_sim, f"?access_token={qemu.stack.token}", 409, "console-unavailable"),
        ]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await anon.ws_connect(qemu.ws_url(vm_id, "serial", query))
            assert refused.value.status == status, (vm_id, query)
            async with anon.get(
                qemu.ws_url(vm_id, "serial", query).replace("ws://", "http://", 1),
                headers=UPGRADE,
            ) as resp:
                assert resp.status == status
                body = await resp.json(content_type=None)
                assert body["type"].endswith(":" + slug), body
        # a host whose agent is gone cannot open anything: 503 before the upgrade
        await qemu.stack.stop_host("sim-1")
        url = qemu.ws_url(on_sim, "serial", f"?access_token={qemu.stack.token}")
        status = 0
        for _ in range(100):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await anon.ws_connect(url)
            status = refused.value.status
            if status == 503:
                break
            await asyncio.sleep(0.1)
        assert status == 503
