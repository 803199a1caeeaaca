"""Console sessions on a host: ``ConsoleOpen`` requests in, one byte relay per session.

The controlplane asks on ``lq.host.<id>.console`` (``events.console``). For ``serial`` the
agent opens libvirt's console stream (``agent.hv_console``), for ``vnc`` a connection to the
domain's VNC server on this host; it answers ``ConsoleOpened`` only once the connection is
open and it listens on the session's ``in`` and ``close`` subjects (under this host's
prefix, ``lq.host.<id>.console.<session>.*``, which no other host may reach), so nothing
the browser sends first is lost. Then it relays: what the VM sends goes out on ``out`` in
chunks of at most ``CHUNK_BYTES``; what arrives on ``in`` is written to the VM (an empty
message is the controlplane's keepalive). A session ends on ``close`` from the other side,
when the VM closes its end (the domain stopped), after ``idle_timeout_s`` without a
message on ``in`` (the controlplane went away), when the browser's input piles up beyond a
bound, and when the agent stops; the agent then publishes ``close`` itself.

Resources are bounded: at most ``max_sessions`` sessions at once per agent, a bounded
queue per direction, and every session closed by ``serve_consoles`` when it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Protocol

import msgspec

from agent import hv_console
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events import logctx, subjects
from events.aio import cancel_and_wait
from events.bus import Bus, Subscription
from events.codec import encode
from events.console import CHUNK_BYTES, CONSOLE_OPEN_DECODER, ConsoleOpen, ConsoleOpened
from events.errors import LqError

log = logging.getLogger(__name__)

INBOX_CHUNKS = 256
"""Messages from the browser not yet written to the VM; more ends the session."""
IDLE_MIN_S, IDLE_MAX_S = 1.0, 24 * 3600.0
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # one NATS subject token, nothing more


class Channel(Protocol):
    """The VM's end of a session: bytes from and to the serial port or the VNC server."""

    async def read(self) -> bytes:
        """The next bytes from the VM; ``b""`` when it closed its end."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class SocketChannel:
    """A connection to a VNC server on this host (TCP or UNIX socket)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, where: hv_console.VncEndpoint, timeout: float = 5.0) -> SocketChannel:
        async with asyncio.timeout(timeout):
            if where.socket_path:
                reader, writer = await asyncio.open_unix_connection(where.socket_path)
            else:
                reader, writer = await asyncio.open_connection(where.host, where.port)
        return cls(reader, writer)

    async def read(self) -> bytes:
        try:
            return await self._reader.read(CHUNK_BYTES)
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class ConsoleServer:
    """Answers this host's ``ConsoleOpen`` requests and runs their sessions."""

    def __init__(self, bus: Bus, hv: Hypervisor, host_id: str, *, max_sessions: int) -> None:
        self._bus = bus
        self._hv = hv
        self._host_id = host_id
        self._max = max_sessions
        self._sessions: dict[str, asyncio.Task[None]] = {}
        self._sub: Subscription | None = None

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        self._sub = await self._bus.serve(
            subjects.console_subject(self._host_id), self._open, queue=f"agent-{self._host_id}"
        )

    async def close(self) -> None:
        """Stop answering and end every session (each publishes its ``close``)."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        await cancel_and_wait(list(self._sessions.values()))
        self._sessions.clear()

    async def _open(self, raw: bytes) -> bytes:
        try:
            req = CONSOLE_OPEN_DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            return _refuse(f"unreadable console request: {exc}")
        if not _SESSION_ID.match(req.session_id):
            return _refuse("session_id must be 1 to 64 letters, digits, '-' or '_'")
        if req.session_id in self._sessions:
            return _refuse(f"session {req.session_id} exists already")
        if len(self._sessions) >= self._max:
            return _refuse(f"this host serves at most {self._max} console sessions at once")
        with logctx.bind(host_id=self._host_id, vm_id=req.vm_id):
            try:
                if not await self._hv.is_managed(req.vm_id):
                    return _refuse(f"vm {req.vm_id} is not on this host")
                channel = await self._connect(req)
            except (AgentError, OSError, TimeoutError) as exc:
                log.info("console %s of vm_id=%s refused: %s", req.kind, req.vm_id, exc)
                return _refuse(str(exc) or type(exc).__name__)
            session = _Session(self._bus, self._host_id, req, channel)
            try:
                await session.listen()
            except LqError as exc:
                await session.release()
                return _refuse(f"cannot relay: {exc}")
            task = asyncio.create_task(self._run(session), name=f"console-{req.session_id}")
            self._sessions[req.session_id] = task
            log.info(
                "console %s of vm_id=%s open as session %s", req.kind, req.vm_id, req.session_id
            )
        return encode(ConsoleOpened(ok=True))

    async def _connect(self, req: ConsoleOpen) -> Channel:
        if req.kind == "serial":
            return await hv_console.SerialStream.open(self._hv, req.vm_id)
        where = await hv_console.vnc_endpoint(self._hv, req.vm_id)
        return await SocketChannel.connect(where)

    async def _run(self, session: _Session) -> None:
        try:
            with logctx.bind(host_id=self._host_id, vm_id=session.req.vm_id):
                await session.run()
        except Exception:  # a bug must not take the agent down with it
            log.exception("console session %s failed", session.req.session_id)
        finally:
            self._sessions.pop(session.req.session_id, None)


class _Session:
    """One relay between a channel and the session's three subjects."""

    def __init__(self, bus: Bus, host_id: str, req: ConsoleOpen, channel: Channel) -> None:
        self.req = req
        self._host_id = host_id
        self._bus = bus
        self._channel = channel
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(INBOX_CHUNKS)
        self._ended = asyncio.Event()
        self._why = ""
        self._peer_closed = False
        self._last_in = time.monotonic()
        self._subs: list[Subscription] = []
        self._bytes_out = self._bytes_in = 0

    def _subject(self, direction: str) -> str:
        return subjects.console_stream_subject(self._host_id, self.req.session_id, direction)

    async def listen(self) -> None:
        self._subs.append(await self._bus.subscribe(self._subject("in"), self._on_in))
        self._subs.append(await self._bus.subscribe(self._subject("close"), self._on_close))

    async def run(self) -> None:
        idle = min(max(self.req.idle_timeout_s, IDLE_MIN_S), IDLE_MAX_S)
        started = time.monotonic()
        tasks = [
            asyncio.create_task(self._pump_out()),
            asyncio.create_task(self._pump_in()),
            asyncio.create_task(self._watch_idle(idle)),
        ]
        try:
            ender = asyncio.create_task(self._ended.wait())
            await asyncio.wait([*tasks, ender], return_when=asyncio.FIRST_COMPLETED)
            ender.cancel()
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    self._end(f"relay failed: {task.exception()!r}")
        finally:
            await cancel_and_wait(tasks)
            self._why = self._why or "the agent stopped"
            if not self._peer_closed:
                with contextlib.suppress(LqError):
                    await self._bus.publish(self._subject("close"), self._why.encode())
            await self.release()
            log.info(
                "console %s of vm_id=%s session %s ended after %.1fs (%s; %d bytes out, %d in)",
                self.req.kind, self.req.vm_id, self.req.session_id,
                time.monotonic() - started, self._why,
                self._bytes_out, self._bytes_in,
            )  # fmt: skip

    async def release(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
        await self._channel.close()

    def _end(self, why: str) -> None:
        if not self._ended.is_set():
            self._why = why
            self._ended.set()

    async def _on_in(self, data: bytes) -> None:
        self._last_in = time.monotonic()
        if not data:
            return  # keepalive
        try:
            self._inbox.put_nowait(data)
        except asyncio.QueueFull:
            self._end("input from the browser piled up")

    async def _on_close(self, data: bytes) -> None:
        self._peer_closed = True
        self._end("closed by the controlplane")

    async def _pump_out(self) -> None:
        while True:
            data = await self._channel.read()
            if not data:
                self._end("the VM closed the console")
                return
            self._bytes_out += len(data)
            for i in range(0, len(data), CHUNK_BYTES):
                await self._bus.publish(self._subject("out"), data[i : i + CHUNK_BYTES])

    async def _pump_in(self) -> None:
        while True:
            data = await self._inbox.get()
            self._bytes_in += len(data)
            await self._channel.write(data)

    async def _watch_idle(self, idle: float) -> None:
        while True:
            left = self._last_in + idle - time.monotonic()
            if left <= 0:
                self._end(f"nothing from the browser side for {idle:g}s")
                return
            await asyncio.sleep(min(left, 5.0))


def _refuse(error: str) -> bytes:
    return encode(ConsoleOpened(ok=False, error=error))


async def serve_consoles(bus: Bus, hv: Hypervisor, host_id: str, max_sessions: int) -> None:
    """Serve console sessions until cancelled; then end every one of them."""
    server = ConsoleServer(bus, hv, host_id, max_sessions=max_sessions)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
