"""A real HTTP receiver of signed alert notifications, shared by the alerting tests: it
checks each delivery's signature with ``notify.verify`` and can refuse the first ones
(``503``) so that the sender's retries are exercised."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from controlplane.alerting import notify
from lq.embedded import free_port


class Receiver:
    def __init__(self, secret: str, failures: int = 0) -> None:
        self.secret = secret
        self.got: list[tuple[dict[str, Any], bool]] = []
        self.failures_left = failures

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = notify.verify(
            self.secret,
            request.headers["X-LQ-Timestamp"],
            body,
            request.headers["X-LQ-Signature"],
        )
        if self.failures_left:
            self.failures_left -= 1
            return web.Response(status=503)
        self.got.append((json.loads(body), ok))
        return web.Response(status=204)


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    """Serve ``receiver`` on a free loopback port; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()
