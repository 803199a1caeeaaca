"""The console proxy: a browser's WebSocket to a VM's serial console or VNC display.

``GET /api/v1/vms/{id}/console/serial`` and ``.../console/vnc`` are WebSocket upgrades,
authenticated like ``/api/v1/changes`` (``access_token`` query parameter or a
``bearer.<token>`` subprotocol; the auth middleware reads both) and allowed with
``vm.console``. Everything that can be refused is refused before the upgrade, as a
problem: an unknown VM (404), one that is not running or has no host (409), a host that
does not answer or refuses (503 / 409). Then the proxy relays (``events.console``): binary
or text frames from the browser go to the session's ``in`` subject, whatever the agent
publishes on ``out`` goes to the browser as binary frames, and ``close`` from either side
ends both. A keepalive (an empty ``in`` message) tells the agent the session is still
wanted, so a session the controlplane abandoned (a crash) ends at the agent after its idle
timeout.

noVNC speaks raw RFB over binary frames and may offer the ``binary`` subprotocol, which is
answered; a browser that passes its token as a subprotocol also offers ``lq.v1`` (or
``binary``) so that the answer names one it asked for.

Who opened which console is logged (a structured line with the user, VM, host and
session); keystrokes are never recorded and nothing is appended to the event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from controlplane.api.common import actor_of
from controlplane.auth.middleware import WS_PROTOCOL
from controlplane.repository import Repository
from events import logctx, problems, subjects
from events.aio import cancel_and_wait
from events.base import new_id
from events.bus import Bus, Subscription
from events.codec import encode
from events.console import CHUNK_BYTES, CONSOLE_OPENED_DECODER, ConsoleKind, ConsoleOpen
from events.errors import LqError
from events.permissions import VM_CONSOLE, requires
from events.settings import Settings

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 15.0
OUTBOX_CHUNKS = 512
"""Messages from the agent not yet sent to the browser; a browser further behind is cut
off (a gap would corrupt the VNC stream) rather than let the server's memory grow."""
PROTOCOLS = ("binary", WS_PROTOCOL)
MAX_MESSAGE = 1024 * 1024
"""The largest frame a browser may send (a paste); it is relayed in ``CHUNK_BYTES`` pieces."""


@dataclass
class Consoles:
    """What the console routes need, owned by the controlplane's lifecycle."""

    bus: Bus
    repo: Repository
    settings: Settings
    sockets: set[web.WebSocketResponse] = field(default_factory=set)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            if ws.prepared:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=1001, message=b"server shutdown")


CONSOLES: web.AppKey[Consoles] = web.AppKey("lq_consoles", Consoles)

routes = web.RouteTableDef()


@routes.get("/api/v1/vms/{id}/console/{kind:serial|vnc}")
@requires(VM_CONSOLE)
async def console(request: web.Request) -> web.StreamResponse:
    consoles = request.app.get(CONSOLES)
    if consoles is None:
        raise problems.unavailable("the controlplane is starting")
    vm_id = request.match_info["id"]
    kind: ConsoleKind = "vnc" if request.match_info["kind"] == "vnc" else "serial"
    vm = consoles.repo.vm(vm_id)
    if vm is None or vm.state == "deleted":
        raise problems.not_found("vm", vm_id)
    if vm.state != "running" or not vm.host_id:
        raise problems.conflict(
            f"vm {vm_id} is {vm.state}; a console needs a running VM", slug="not-running"
        )
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=30.0, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request).ok:
        raise problems.Problem(
            426, "websocket-required", "WebSocket upgrade required", "open this as a WebSocket"
        )
    if len(consoles.sockets) >= consoles.settings.ws_max_clients:
        busy = problems.Problem(
            503, "too-many-connections", "Too many console connections", "retry later"
        )
        busy.headers["Retry-After"] = "5"
        raise busy
    session = _Relay(consoles, vm_id, vm.host_id, kind, actor_of(request))
    consoles.sockets.add(ws)  # the slot is taken before any wait: a burst cannot overshoot
    try:
        with logctx.bind(vm_id=vm_id, host_id=vm.host_id):
            await session.open()  # raises a problem when the host cannot open it
            try:
                await ws.prepare(request)
                await session.pump(ws)
            finally:
                await session.finish()
    finally:
        consoles.sockets.discard(ws)
    return ws


class _Relay:
    """One console session as the controlplane sees it: the subjects and the WebSocket."""

    def __init__(
        self, consoles: Consoles, vm_id: str, host_id: str, kind: ConsoleKind, actor: str
    ) -> None:
        self.session_id = new_id().replace(".", "-")
        self.vm_id, self.host_id, self.kind, self.actor = vm_id, host_id, kind, actor
        self._bus = consoles.bus
        self._idle = consoles.settings.console_idle_timeout_s
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue(OUTBOX_CHUNKS)
        self._subs: list[Subscription] = []
        self._why = ""
        self._peer_closed = False
        self._started = time.monotonic()
        self._bytes_out = self._bytes_in = 0

    def _subject(self, direction: str) -> str:
        return subjects.console_stream_subject(self.host_id, self.session_id, direction)

    async def open(self) -> None:
        """Listen on ``out`` and ``close``, then ask the host to open the session."""
        opened = False
        request = ConsoleOpen(
            session_id=self.session_id, vm_id=self.vm_id, kind=self.kind, idle_timeout_s=self._idle
        )
        try:
            try:
                self._subs.append(await self._bus.subscribe(self._subject("out"), self._on_out))
                self._subs.append(await self._bus.subscribe(self._subject("close"), self._on_close))
                raw = await self._bus.request(
                    subjects.console_subject(self.host_id),
                    encode(request),
                    timeout=OPEN_TIMEOUT_S,
                )
                reply = CONSOLE_OPENED_DECODER.decode(raw)
            except (LqError, ValueError) as exc:  # msgspec.DecodeError is a ValueError
                # the host may still open it after our timeout: tell it the session is off
                with contextlib.suppress(LqError):
                    await self._bus.publish(self._subject("close"), b"the controlplane gave up")
                raise problems.unavailable(
                    f"the VM's host did not open the console: {exc}"
                ) from exc
            if not reply.ok:
                raise problems.conflict(
                    reply.error or "the host refused", slug="console-unavailable"
                )
            opened = True
        finally:
            if not opened:
                await self._unsubscribe()
        log.info(
            "%s opened the %s console of vm_id=%s on host_id=%s (session %s)",
            self.actor, self.kind, self.vm_id, self.host_id, self.session_id,
        )  # fmt: skip

    async def pump(self, ws: web.WebSocketResponse) -> None:
        tasks = [
            asyncio.create_task(self._to_browser(ws)),
            asyncio.create_task(self._keepalive()),
        ]
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await self._send_in(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    await self._send_in(msg.data.encode())
                elif msg.type == WSMsgType.ERROR:
                    break
            self._why = self._why or "closed by the browser"
        finally:
            await cancel_and_wait(tasks)
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=1000, message=_reason(self._why))

    async def finish(self) -> None:
        if not self._peer_closed:
            with contextlib.suppress(LqError):
                await self._bus.publish(self._subject("close"), b"closed by the controlplane")
        await self._unsubscribe()
        log.info(
            "%s closed the %s console of vm_id=%s (session %s, %.1fs, %d bytes out, %d in: %s)",
            self.actor, self.kind, self.vm_id, self.session_id,
            time.monotonic() - self._started, self._bytes_out, self._bytes_in,
            self._why or "server stopping",
        )  # fmt: skip

    async def _unsubscribe(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()

    async def _send_in(self, data: bytes) -> None:
        self._bytes_in += len(data)
        for i in range(0, len(data), CHUNK_BYTES):
            await self._bus.publish(self._subject("in"), data[i : i + CHUNK_BYTES])

    async def _on_out(self, data: bytes) -> None:
        try:
            self._outbox.put_nowait(data)
        except asyncio.QueueFull:
            self._end("the browser fell too far behind", drop=True)

    async def _on_close(self, data: bytes) -> None:
        self._peer_closed = True
        self._end(data.decode(errors="replace")[:200] or "closed by the host")

    def _end(self, why: str, *, drop: bool = False) -> None:
        """Let the browser know the session is over, after what is queued (or instead)."""
        if self._why:
            return  # ending already
        self._why = why
        while self._outbox.full() or (drop and not self._outbox.empty()):
            self._outbox.get_nowait()
        self._outbox.put_nowait(None)

    async def _to_browser(self, ws: web.WebSocketResponse) -> None:
        while True:
            data = await self._outbox.get()
            if data is None:
                await ws.close(code=1000, message=_reason(self._why))
                return
            self._bytes_out += len(data)
            await ws.send_bytes(data)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(max(self._idle / 4, 0.25))
            with contextlib.suppress(LqError):
                await self._bus.publish(self._subject("in"), b"")


def _reason(why: str) -> bytes:
    """A WebSocket close reason: at most 123 bytes of valid UTF-8 (ASCII here)."""
    return why.encode("ascii", "replace")[:120]
