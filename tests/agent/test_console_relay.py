"""The agent's console relay on a simulated host, over a real NATS server.

libvirt's test driver has no console streams, so these tests use the VNC path: the domain's
XML names a VNC port on loopback where a small stand-in server listens (it greets like an
RFB server and echoes upper-cased). What is proven here is the agent's side of the
contract (``events.console``): refusals, the relay in both directions, and every way a
session ends. The serial path on a real QEMU guest is in tests/qemu/test_console.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.console import ConsoleServer
from agent.hv_console import parse_vnc
from agent.hypervisor import Hypervisor
from events import subjects
from events.bus import Bus, Subscription
from events.codec import encode
from events.console import CHUNK_BYTES, CONSOLE_OPENED_DECODER, ConsoleOpen, ConsoleOpened

HOST_ID = "host-console-test"
BANNER = b"RFB 003.008\n"


@dataclass
class FakeVnc:
    """A stand-in VNC server: greets, then answers every read with it upper-cased."""

    port: int = 0
    connections: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(BANNER)
        await writer.drain()
        try:
            while data := await reader.read(65536):
                writer.write(data.upper())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            writer.close()


@pytest.fixture
async def vnc() -> AsyncIterator[FakeVnc]:
    fake = FakeVnc()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    yield fake
    for w in fake.writers:
        w.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_url, name="console-test")
    yield b
    await b.close()


def _domain_xml(vm_id: str, vnc_port: int | None) -> str:
    graphics = (
        f"<graphics type='vnc' port='{vnc_port}' autoport='no' listen='127.0.0.1'/>"
        if vnc_port
        else ""
    )
    return (
        f"<domain type='test'><name>lq-console-{vm_id[:8]}</name><uuid>{vm_id}</uuid>"
        f"<metadata><lq:vm xmlns:lq='urn:limiquantix:vm:1' id='{vm_id}' name='console'/>"
        f"</metadata><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        f"<devices>{graphics}</devices></domain>"
    )


async def _running_vm(hv: Hypervisor, vnc_port: int | None, start: bool = True) -> str:
    vm_id = str(uuid.uuid4())

    def define(conn: Any) -> None:
        dom = conn.defineXML(_domain_xml(vm_id, vnc_port))
        if start:
            dom.create()

    await hv.run(define)
    return vm_id


@dataclass
class Client:
    """The controlplane's side of one session, spoken directly on the bus."""

    bus: Bus
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    out: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    closed: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    subs: list[Subscription] = field(default_factory=list)

    def subject(self, direction: str) -> str:
        return subjects.console_stream_subject(HOST_ID, self.session_id, direction)

    async def open(self, vm_id: str, kind: str = "vnc", idle: float = 60.0) -> ConsoleOpened:
        async def on_out(data: bytes) -> None:
            await self.out.put(data)

        async def on_close(data: bytes) -> None:
            await self.closed.put(data)

        self.subs.append(await self.bus.subscribe(self.subject("out"), on_out))
        self.subs.append(await self.bus.subscribe(self.subject("close"), on_close))
        request = ConsoleOpen(
            session_id=self.session_id,
            vm_id=vm_id,
            kind=kind,  # type: ignore[arg-type]
            idle_timeout_s=idle,
        )
        raw = await self.bus.request(
            subjects.console_subject(HOST_ID), encode(request), timeout=10.0
        )
        return CONSOLE_OPENED_DECODER.decode(raw)

    async def read_until(self, needle: bytes, timeout: float = 5.0) -> bytes:
        seen = b""
        async with asyncio.timeout(timeout):
            while needle not in seen:
                seen += await self.out.get()
        return seen

    async def send(self, data: bytes) -> None:
        await self.bus.publish(self.subject("in"), data)

    async def close_reason(self, timeout: float = 5.0) -> str:
        return (await asyncio.wait_for(self.closed.get(), timeout)).decode()

    async def release(self) -> None:
        for sub in self.subs:
            await sub.unsubscribe()


@pytest.fixture
async def server(bus: Bus, hypervisor: Hypervisor) -> AsyncIterator[ConsoleServer]:
    srv = ConsoleServer(bus, hypervisor, HOST_ID, max_sessions=2)
    await srv.start()
    yield srv
    await srv.close()


async def test_vnc_relays_both_ways_and_closes_on_request(
    bus: Bus, hypervisor: Hypervisor, server: ConsoleServer, vnc: FakeVnc
) -> None:
    vm_id = await _running_vm(hypervisor, vnc.port)
    client = Client(bus)
    assert await client.open(vm_id) == ConsoleOpened(ok=True)
    assert (await client.read_until(BANNER)).startswith(BANNER)
    await client.send(b"hello vnc")
    assert b"HELLO VNC" in await client.read_until(b"HELLO VNC")
    big = b"x" * (CHUNK_BYTES * 2 + 10)  # relayed back in chunks of at most CHUNK_BYTES
    await client.send(big[:CHUNK_BYTES])
    await client.send(big[CHUNK_BYTES:])
    got = b""
    async with asyncio.timeout(5):
        while len(got) < len(big):
            chunk = await client.out.get()
            assert len(chunk) <= CHUNK_BYTES
            got += chunk
    assert got == big.upper()
    assert server.sessions == 1
    await bus.publish(client.subject("close"), b"bye")
    await asyncio.wait_for(vnc.closed.wait(), 5)
    for _ in range(100):
        if server.sessions == 0:
            break
        await asyncio.sleep(0.05)
    assert server.sessions == 0
    await client.release()


async def test_refusals(
    bus: Bus, hypervisor: Hypervisor, server: ConsoleServer, vnc: FakeVnc
) -> None:
    unknown = await Client(bus).open(str(uuid.uuid4()))
    assert not unknown.ok and "not on this host" in unknown.error
    no_vnc = await Client(bus).open(await _running_vm(hypervisor, None))
    assert not no_vnc.ok and "no VNC display" in no_vnc.error
    stopped = await Client(bus).open(await _running_vm(hypervisor, vnc.port, start=False))
    assert not stopped.ok and "not running" in stopped.error
    serial = await Client(bus).open(await _running_vm(hypervisor, None), kind="serial")
    assert not serial.ok and serial.error
    bad = Client(bus, session_id="a.b")
    refused = await bad.open(await _running_vm(hypervisor, vnc.port))
    assert not refused.ok and "session_id" in refused.error
    raw = await bus.request(subjects.console_subject(HOST_ID), b"{nonsense", timeout=5)
    assert not CONSOLE_OPENED_DECODER.decode(raw).ok
    assert vnc.connections == 0 and server.sessions == 0


async def test_session_limit(
    bus: Bus, hypervisor: Hypervisor, server: ConsoleServer, vnc: FakeVnc
) -> None:
    vm_id = await _running_vm(hypervisor, vnc.port)
    clients = [Client(bus) for _ in range(3)]
    answers = [await c.open(vm_id) for c in clients]
    assert [a.ok for a in answers] == [True, True, False]
    assert "at most 2" in answers[2].error
    for c in clients[:2]:
        await bus.publish(c.subject("close"), b"")
    for _ in range(100):
        if server.sessions == 0:
            break
        await asyncio.sleep(0.05)
    assert server.sessions == 0
    for c in clients:
        await c.release()


async def test_session_ends_when_the_vm_side_closes(
    bus: Bus, hypervisor: Hypervisor, server: ConsoleServer, vnc: FakeVnc
) -> None:
    client = Client(bus)
    assert (await client.open(await _running_vm(hypervisor, vnc.port))).ok
    await client.read_until(BANNER)
    for w in vnc.writers:
        w.close()
    assert "VM closed" in await client.close_reason()
    await client.release()


async def test_idle_session_ends_and_keepalive_holds_it(
    bus: Bus, hypervisor: Hypervisor, server: ConsoleServer, vnc: FakeVnc
) -> None:
    vm_id = await _running_vm(hypervisor, vnc.port)
    kept, idle = Client(bus), Client(bus)
    assert (await kept.open(vm_id, idle=1.0)).ok
    assert (await idle.open(vm_id, idle=1.0)).ok
    loop = asyncio.get_running_loop()
    until = loop.time() + 2.5
    while loop.time() < until:
        await kept.send(b"")  # the controlplane's keepalive
        await asyncio.sleep(0.2)
    assert "nothing from the browser side" in await idle.close_reason(timeout=1.0)
    assert kept.closed.empty()
    assert server.sessions == 1
    await kept.release()
    await idle.release()


async def test_agent_stop_closes_every_session(
    bus: Bus, hypervisor: Hypervisor, vnc: FakeVnc
) -> None:
    srv = ConsoleServer(bus, hypervisor, HOST_ID, max_sessions=4)
    await srv.start()
    vm_id = await _running_vm(hypervisor, vnc.port)
    clients = [Client(bus) for _ in range(2)]
    try:
        for c in clients:
            assert (await c.open(vm_id)).ok
    finally:
        await srv.close()
    for c in clients:
        assert "agent stopped" in await c.close_reason()
        await c.release()
    assert srv.sessions == 0
    with contextlib.suppress(Exception):
        await asyncio.wait_for(vnc.closed.wait(), 5)
    assert vnc.closed.is_set()


@pytest.mark.parametrize(
    ("graphics", "expected"),
    [
        (
            "<graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'/>",
            ("127.0.0.1", 5901, ""),
        ),
        ("<graphics type='vnc' port='5902' listen='0.0.0.0'/>", ("127.0.0.1", 5902, "")),
        ("<graphics type='vnc' port='5903' listen='::1'/>", ("::1", 5903, "")),
        ("<graphics type='vnc' socket='/run/vnc.sock'/>", ("", 0, "/run/vnc.sock")),
        (
            "<graphics type='vnc'><listen type='socket' socket='/run/v.sock'/></graphics>",
            ("", 0, "/run/v.sock"),
        ),
        ("<graphics type='vnc' port='-1' autoport='yes'/>", None),  # not running: no port yet
        ("<graphics type='spice' port='5904'/>", None),
        ("", None),
    ],
)
def test_vnc_endpoint_from_live_xml(graphics: str, expected: tuple[str, int, str] | None) -> None:
    xml = f"<domain><devices>{graphics}</devices></domain>"
    found = parse_vnc(xml)
    assert (tuple(found) if found else None) == expected
