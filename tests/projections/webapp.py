"""A minimal app around ``projections.api`` for tests, rendering problems as the lead's does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from events.problems import Problem
from events.settings import Settings
from projections import api


@web.middleware
async def render_problems(request: web.Request, handler: api.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as p:
        return web.json_response(
            p.body(request.path), status=p.status, content_type="application/problem+json"
        )


def make_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[render_problems])
    api.setup(app, settings)
    return app


@asynccontextmanager
async def client(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    c = TestClient(TestServer(make_app(settings)))
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()
