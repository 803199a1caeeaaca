"""A flood of VNC console WebSockets on a real guest stays within ``ws_max_clients``.

Opening a console asks the VM's agent first (a round trip over NATS). The bound used to
be checked before that wait and the socket counted only after it, so a burst of
simultaneous upgrades all passed the check; the slot is now taken before any wait. The
refused ones get ``503 too-many-connections`` with ``Retry-After``; the ones let in work.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from tests.qemu import guest
from tests.qemu.conftest import Janitor, QemuStackFactory
from tests.qemu.stackops import create_vm

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(300)]
LIMIT = 3
BURST = 24


async def test_console_flood_is_bounded(
    qemu_stack: QemuStackFactory, janitor: Janitor, tiny_guest: guest.Guest
) -> None:
    stack = await qemu_stack(ws_max_clients=LIMIT)
    vm_id = await create_vm(stack, janitor, tiny_guest)
    url = stack.base.replace("http", "ws", 1) + f"/api/v1/vms/{vm_id}/console/vnc"
    opened: list[aiohttp.ClientWebSocketResponse] = []
    refused: list[tuple[int, str | None]] = []
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            try:
                opened.append(await http.ws_connect(url, params={"access_token": stack.token}))
            except aiohttp.WSServerHandshakeError as exc:
                retry = exc.headers.get("Retry-After") if exc.headers else None
                refused.append((exc.status, retry))

        try:
            await asyncio.gather(*(one() for _ in range(BURST)))
            assert len(opened) <= LIMIT, f"{len(opened)} consoles open, bound {LIMIT}"
            assert len(opened) >= 1, refused
            assert refused and all(r == (503, "5") for r in refused), refused
            # the ones let in relay the display: QEMU's VNC server greets with its version
            first = await opened[0].receive(timeout=30)
            assert first.type == aiohttp.WSMsgType.BINARY and first.data.startswith(b"RFB ")
        finally:
            for ws in opened:
                with contextlib.suppress(Exception):
                    await ws.close()
        # once they are closed the slots are free again
        for _ in range(50):
            try:
                async with http.ws_connect(url, params={"access_token": stack.token}) as ws:
                    first = await ws.receive(timeout=30)
                    assert first.data.startswith(b"RFB ")
                    break
            except aiohttp.WSServerHandshakeError:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("the console bound never freed up")
        await asyncio.sleep(1.0)  # the host ends the relays it was told to close
