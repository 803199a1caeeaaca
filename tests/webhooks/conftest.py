"""A stack with the webhook dispatcher running, and in-process HTTP receivers.

``Receivers`` is a real aiohttp server on a free port whose paths behave as a test asks:
answer 2xx, fail the first N requests, hang, or answer a chosen status. Every request is
recorded with its headers and raw body, so tests check signatures and ids exactly as a
real receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from aiohttp import web

from lq.embedded import free_port
from projections import webhook_dispatch
from tests.integration.conftest import Stack, StackFactory, make_stack

__all__ = ["make_stack"]


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def envelope(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.json.decode(self.body)
        return out

    @property
    def type(self) -> str:
        return str(self.envelope["event"]["type"])


@dataclass
class Receivers:
    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def at(self, path: str, *, accepted: bool | None = None) -> list[Hit]:
        return [
            h
            for h in self.hits
            if h.path == path and (accepted is None or (200 <= h.status < 300) == accepted)
        ]

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        if path in self.hang:
            await asyncio.sleep(60)
        seen = len(self.at(path))
        status = 500 if seen < self.fail_first.get(path, 0) else 204
        self.hits.append(Hit(path, dict(request.headers), body, status))
        return web.Response(status=status)


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    rec = Receivers()
    app = web.Application()
    app.router.add_post("/{path}", rec.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rec.base = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


FAST = {
    "webhook_backoff_s": 0.05,
    "webhook_backoff_max_s": 0.2,
    "webhook_timeout_s": 1.0,
}


HookStack = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def hook_stack(make_stack: StackFactory) -> AsyncIterator[HookStack]:
    """``await hook_stack(**settings)``: a signed-in stack plus a running dispatcher."""
    running: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    async def make(**overrides: Any) -> Stack:
        stack = await make_stack(**{**FAST, **overrides})
        stop = asyncio.Event()
        task = asyncio.create_task(webhook_dispatch.run(stack.settings, stop), name="dispatcher")
        running.append((task, stop))
        return stack

    yield make
    for task, stop in running:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s (last: {last!r})")


async def subscribe(stack: Stack, name: str, url: str, **body: Any) -> dict[str, Any]:
    status, answer, _ = await stack.request(
        "POST", "/api/v1/webhooks", json={"name": name, "url": url, **body}
    )
    assert status == 201, answer
    assert isinstance(answer, dict)
    return answer


async def deliveries(stack: Stack, sub: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscription's delivery log, newest first (read after its creation landed)."""
    page = await stack.get(f"/api/v1/webhooks/{sub['webhook_id']}/deliveries?min_seq={sub['seq']}")
    return list(page["items"])


async def make_role(stack: Stack, name: str) -> int:
    status, body, _ = await stack.request(
        "POST", "/api/v1/roles", json={"name": name, "permissions": ["vm.read"]}
    )
    assert status == 201, body
    return int(body["seq"])
