"""Failed sign-ins count on every controlplane replica, not only on the one that saw them.

Two complete HTTP apps (``lq.web.build_app``, as two ``lq controlplane`` processes behind a
balancer) share one nats-server, one database and one data dir (the signing key, as a
mounted secret). Failures sent to replica 1 and replica 2 add up to one lockout that both
enforce, for the user name and then for the address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from events import settings as settings_mod
from lq.embedded import free_port
from lq.web import build_app
from tests.integration.conftest import ADMIN_PASSWORD


@pytest.fixture
async def replicas(nats_url: str, pg_url: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    runners: list[web.AppRunner] = []
    bases = []
    for _ in range(2):
        port = free_port()
        settings = settings_mod.load(
            {
                "data_dir": str(tmp_path / "data"),
                "nats_url": nats_url,
                "database_url": pg_url,
                "http_port": port,
                "admin_password": ADMIN_PASSWORD,
                "auth_user_max_failures": 3,
                "auth_address_max_failures": 6,
                "auth_lockout_s": 60.0,
            },
            env={},
        )
        runner = web.AppRunner(build_app(settings), handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.http_host, port).start()
        runners.append(runner)
        bases.append(f"http://{settings.http_host}:{port}")
    yield bases
    for runner in runners:
        await runner.cleanup()


async def login(base: str, user: str, password: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{base}/api/v1/auth/login", json={"username": user, "password": password}) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_failures_on_one_replica_count_on_the_other(replicas: list[str]) -> None:
    one, two = replicas
    assert (await login(two, "admin", ADMIN_PASSWORD))[0] == 200  # both serve the same users
    assert (await login(one, "admin", "guess-1"))[0] == 401
    assert (await login(one, "admin", "guess-2"))[0] == 401
    assert (await login(two, "admin", "guess-3"))[0] == 401  # the third, on the other one
    for base in (one, two):
        status, body = await login(base, "admin", ADMIN_PASSWORD)
        assert status == 429, body
        assert body["type"] == "urn:limiquantix:problem:too-many-attempts"
        assert 50 <= body["retry_after"] <= 60

    # the address: 3 failures above + 3 more on either replica, under other names
    assert (await login(two, "nobody-1", "x-guess"))[0] == 401
    assert (await login(one, "nobody-2", "x-guess"))[0] == 401
    assert (await login(two, "nobody-3", "x-guess"))[0] == 401
    for base in (one, two):
        status, body = await login(base, "someone-else", "x-guess")
        assert status == 429, body
