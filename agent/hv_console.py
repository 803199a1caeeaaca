"""libvirt's half of a console session: a domain's serial stream and its VNC endpoint.

``agent.console`` relays bytes and knows nothing of libvirt; what it needs from the
hypervisor lives here, beside ``agent.hypervisor`` (the import-linter contract "Only
agent.hypervisor touches libvirt" lets this module import libvirt too).

The serial console is libvirt's console stream (``virDomainOpenConsole`` with
``VIR_DOMAIN_CONSOLE_FORCE``, which takes the console over from any other client such as
``virsh console``), opened non-blocking on the hypervisor's worker thread. It is read
where libvirt says it is readable: in libvirt's event loop thread (``agent.hypervisor``
runs it for every open connection), whose callback hands the bytes to asyncio with
``call_soon_threadsafe``. Writes run on the worker thread. A closed stream, a stopped
domain or libvirtd going away all end as end-of-file.

VNC needs no libvirt stream: QEMU listens on the host, and the domain's live XML says
where (``<graphics type='vnc' port=... listen=...>`` or a UNIX ``socket``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import xml.etree.ElementTree as ET
from typing import Any, NamedTuple

import libvirt

from agent.errors import PermanentError
from agent.hypervisor import Hypervisor

log = logging.getLogger(__name__)

READ_BYTES = 16 * 1024
BUFFER_CHUNKS = 256
"""Chunks read from the guest and not yet relayed; a relay that falls further behind ends
the session rather than let the agent's memory grow."""

_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE
    | libvirt.VIR_STREAM_EVENT_ERROR
    | libvirt.VIR_STREAM_EVENT_HANGUP
)
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


class VncEndpoint(NamedTuple):
    """Where a domain's VNC server listens on this host: TCP ``host:port`` or a UNIX path."""

    host: str
    port: int
    socket_path: str = ""


class SerialStream:
    """A running domain's serial console; ``await read()`` returns ``b""`` at the end.

    Open with ``await SerialStream.open(hv, vm_id)``; always ``await close()``.
    """

    def __init__(self, hv: Hypervisor, vm_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.vm_id = vm_id
        self._hv = hv
        self._loop = loop
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue(BUFFER_CHUNKS)
        self._stream: Any = None
        self._lock = threading.Lock()  # the stream between the event thread and close()
        self._ended = False

    @classmethod
    async def open(cls, hv: Hypervisor, vm_id: str) -> SerialStream:
        """Open the console of running domain ``vm_id``; ``DomainNotFound``,
        ``PermanentError`` (not running, no serial device) or ``TemporaryError``."""
        serial = cls(hv, vm_id, asyncio.get_running_loop())
        await hv.run_dom(serial._open, vm_id)
        return serial

    async def read(self) -> bytes:
        """The next bytes the guest wrote; ``b""`` once the console has ended."""
        if self._ended and self._chunks.empty():
            return b""
        return await self._chunks.get()

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the guest's serial port (waits while the stream is full)."""
        view = memoryview(data)
        while view and not self._ended:
            sent = await self._hv.run(self._send, bytes(view))
            if sent < 0:  # would block: the guest is not reading yet
                await asyncio.sleep(0.02)
                continue
            view = view[sent:]

    async def close(self) -> None:
        """Drop the stream (idempotent; safe after the hypervisor connection closed)."""
        self._finish(drop=True)
        with contextlib.suppress(Exception):  # a closed hypervisor: nothing left to free
            await self._hv.run(self._close)
        self._close(None)  # in case the worker thread was gone

    # -- worker thread --

    def _open(self, conn: Any, dom: Any) -> None:
        if not dom.isActive():
            raise PermanentError(f"vm {self.vm_id} is not running")
        if not _has_serial(dom.XMLDesc(0)):
            raise PermanentError(f"vm {self.vm_id} has no serial console")
        stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        with self._lock:  # set first: the callback may fire before eventAddCallback returns
            self._stream = stream
        try:
            dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
            stream.eventAddCallback(_EVENTS, self._on_event, None)
        except libvirt.libvirtError:
            with self._lock:
                self._stream = None
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
        log.info("opened the serial console of vm_id=%s", self.vm_id)

    def _send(self, _conn: Any, data: bytes) -> int:
        with self._lock:
            if self._stream is None:
                return len(data)  # closed meanwhile: drop what was typed
            sent: int = self._stream.send(data)
            return sent  # -2 when it would block

    def _close(self, _conn: Any) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        log.info("closed the serial console of vm_id=%s", self.vm_id)

    # -- libvirt event thread --

    def _on_event(self, stream: Any, events: int, _opaque: object) -> None:
        end = bool(events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP))
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            with self._lock:
                if self._stream is not stream:
                    return  # closed meanwhile
                try:
                    while True:
                        data = stream.recv(READ_BYTES)
                        if isinstance(data, int):  # -2: nothing more for now
                            break
                        if not data:
                            end = True
                            break
                        self._deliver(data)
                except libvirt.libvirtError as exc:
                    log.info("serial console of vm_id=%s failed: %s", self.vm_id, exc)
                    end = True
        if end:
            with self._lock, contextlib.suppress(libvirt.libvirtError):
                if self._stream is stream:
                    stream.eventRemoveCallback()
            self._deliver(b"")

    def _deliver(self, data: bytes) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._put, data)

    def _put(self, data: bytes) -> None:
        if self._ended:
            return
        if not data:
            self._finish(drop=False)
            return
        try:
            self._chunks.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("serial console of vm_id=%s fell behind; ending it", self.vm_id)
            self._finish(drop=True)

    def _finish(self, *, drop: bool) -> None:
        """End the console for its reader: ``b""`` follows what is queued (or replaces it)."""
        if self._ended:
            return
        self._ended = True
        while self._chunks.full() or (drop and not self._chunks.empty()):
            self._chunks.get_nowait()
        self._chunks.put_nowait(b"")


async def vnc_endpoint(hv: Hypervisor, vm_id: str) -> VncEndpoint:
    """Where running domain ``vm_id`` serves VNC; ``PermanentError`` when it does not."""
    return await hv.run_dom(_vnc_endpoint, vm_id)


def _vnc_endpoint(_conn: Any, dom: Any) -> VncEndpoint:
    if not dom.isActive():
        raise PermanentError(f"vm {dom.UUIDString()} is not running")
    found = parse_vnc(dom.XMLDesc(0))
    if found is None:
        raise PermanentError(f"vm {dom.UUIDString()} has no VNC display")
    return found


def parse_vnc(live_xml: str) -> VncEndpoint | None:
    """The VNC endpoint of a running domain's XML, or None (no VNC graphics, or no port
    assigned yet). A wildcard listen address is reached on loopback."""
    root = ET.fromstring(live_xml)
    for graphics in root.iterfind("./devices/graphics[@type='vnc']"):
        path = graphics.get("socket", "")
        listen = graphics.find("listen[@type='socket']")
        if not path and listen is not None:
            path = listen.get("socket", "")
        if path:
            return VncEndpoint(host="", port=0, socket_path=path)
        try:
            port = int(graphics.get("port", "-1"))
        except ValueError:
            continue
        if port <= 0:
            continue
        host = graphics.get("listen", "")
        if host in _WILDCARDS:
            host = "127.0.0.1"
        return VncEndpoint(host=host.strip("[]"), port=port)
    return None


def _has_serial(live_xml: str) -> bool:
    root = ET.fromstring(live_xml)
    return root.find("./devices/console") is not None or root.find("./devices/serial") is not None
