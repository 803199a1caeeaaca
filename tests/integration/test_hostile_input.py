"""Hostile input through the HTTP API: rejected, or stored and echoed verbatim as JSON
data — never interpreted as libvirt XML, SQL or HTML; bodies and WebSocket floods bounded.
(Decoders and the XML builder are fuzzed in tests/faults/test_hostile_decoding.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from typing import Any

import aiohttp

from tests.integration.conftest import StackFactory

NASTY = [
    "'; DROP TABLE lq.vms; --",
    '"><script>alert(1)</script>',
    "</title><devices><disk type='file'/></devices><title>",
    "Robert'); DELETE FROM lq.hosts WHERE ('1'='1",
    "漢字 ✓ emoji 🚀 RTL \u202e gnp.exe",
    "\\x00 %s %n {0} ${jndi:ldap://x}",
]


async def test_hostile_names_are_refused(make_stack: StackFactory) -> None:
    stack = await make_stack()
    for name in NASTY:
        status, problem, ctype = await stack.request(
            "POST", "/api/v1/vms", json={"name": name, "vcpus": 1, "memory_mib": 128}
        )
        assert (status, problem["type"]) == (422, "urn:limiquantix:problem:invalid-body"), name
        assert ctype.startswith("application/problem+json")


async def test_hostile_descriptions_are_data(make_stack: StackFactory) -> None:
    stack = await make_stack(hosts=[(8, 8192)])
    for i, text in enumerate(NASTY):
        body = {"name": f"vm{i}", "vcpus": 1, "memory_mib": 128, "description": text}
        acc = await stack.command("POST", "/api/v1/vms", json=body)
        assert (await stack.wait_task(acc["task_id"]))["state"] == "succeeded"
        status, vm, ctype = await stack.request(
            "GET", f"/api/v1/vms/{acc['vm_id']}?min_seq={acc['seq']}"
        )
        assert status == 200 and ctype.startswith("application/json")
        assert vm["description"] == text  # stored and served verbatim, as JSON data
    # the SQL-looking ones did nothing; searching with them is just a search
    hosts = await stack.get("/api/v1/hosts")
    assert len(hosts["items"]) == 1
    for text in NASTY:
        status, found, _ = await stack.request("GET", "/api/v1/vms", params={"q": text})
        assert status == 200 and found["items"] == [], text
    # the hypervisor got the name only: the description never reaches the domain XML
    saved = await stack.agents["sim-1"].hypervisor.managed_definitions()
    assert len(saved) == len(NASTY)
    for d in saved:
        assert "script" not in d.xml and "DROP" not in d.xml and "<disk" not in d.xml


async def test_body_size_is_bounded(make_stack: StackFactory) -> None:
    stack = await make_stack()
    before = (await stack.get("/ready"))["checks"]["stream_seq"]
    huge = {"name": "big", "vcpus": 1, "memory_mib": 128, "description": "x" * (10 * 1024**2)}
    status, problem, _ = await stack.request(
        "POST",
        "/api/v1/vms",
        data=io.BytesIO(json.dumps(huge).encode()),
        headers={"Content-Type": "application/json"},
    )
    assert status == 413 and problem["type"] == "urn:limiquantix:problem:body-too-large"
    long = {"name": "long", "vcpus": 1, "memory_mib": 128, "description": "x" * 5000}
    status, problem, _ = await stack.request("POST", "/api/v1/vms", json=long)
    assert status == 422
    assert (await stack.get("/ready"))["checks"]["stream_seq"] == before


async def test_websocket_flood_is_bounded(make_stack: StackFactory) -> None:
    limit = 20
    stack = await make_stack(ws_max_clients=limit)
    url = stack.base + "/api/v1/changes"
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        refused: list[int] = []

        async def connect() -> None:
            try:
                sockets.append(await session.ws_connect(url))
            except aiohttp.WSServerHandshakeError as exc:
                refused.append(exc.status)

        try:
            await asyncio.gather(*(connect() for _ in range(limit + 15)))
            assert len(sockets) == limit and refused == [503] * 15
            # the API still answers while the flood holds its sockets
            assert (await stack.get("/api/v1/vms"))["items"] == []
            first: Any = await sockets[0].receive_json(timeout=5)
            assert first["type"] == "hello"
        finally:
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()
        # once they are gone, new clients are served again
        for _ in range(100):
            try:
                async with session.ws_connect(url) as ws:
                    assert (await ws.receive_json(timeout=5))["type"] == "hello"
                    break
            except aiohttp.WSServerHandshakeError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the WebSocket bound never freed up")
