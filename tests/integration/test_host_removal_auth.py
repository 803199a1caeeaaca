"""Removing a host revokes its NATS user (nats-server with authorization, docs/security.md):
the removed host's key is refused afterwards, and the machine comes back only by enrolling
again with the join credential and a new key, as a new host."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest

from events import natsauth
from events import settings as settings_mod
from events.bus import Bus
from lq.embedded import NatsServer, start_nats
from tests.integration.conftest import StackFactory
from tests.integration.test_nats_auth import AUTH, Client, _host_auth


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[NatsServer]:
    settings = settings_mod.load({"data_dir": str(tmp_path / "data"), **AUTH}, env={})
    natsauth.bootstrap(settings)
    srv = start_nats(natsauth.nats_dir(settings), authorization=True)
    yield srv
    srv.stop()


@pytest.fixture
def nats_url(auth_server: NatsServer) -> str:
    """Overrides the plain server of tests/conftest.py for ``make_stack``."""
    return auth_server.url


async def test_a_removed_host_is_refused_by_nats(
    make_stack: StackFactory, auth_server: NatsServer
) -> None:
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], **AUTH)
    h1 = await stack.host_id("sim-1")
    old_auth = _host_auth(stack, "sim-1")
    old_key = natsauth.public_key(old_auth.seed_file)
    # the key works while the host is enrolled
    c = await Client().connect(auth_server.url, old_auth)
    await c.close()
    await stack.stop_host("sim-1")
    left = await stack.command("POST", f"/api/v1/hosts/{h1}/actions/enter-maintenance")
    assert (await stack.wait_task(left["task_id"]))["state"] == "succeeded"
    status, removed, _ = await stack.request("DELETE", f"/api/v1/hosts/{h1}")
    assert status == 200 and removed["credentials_revoked"] is True, removed
    svc = await Bus.connect(
        auth_server.url, name="test-svc", auth=natsauth.service_auth(stack.settings)
    )
    try:
        assert await svc.credential(natsauth.HOST_KEY_PREFIX + h1) is None
        for _ in range(40):
            try:
                c = await Client().connect(auth_server.url, old_auth)
            except (nats.errors.Error, OSError):
                break
            await c.close()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the removed host's key still connects")
        # the agent starts again: refused, it makes a new key and enrols as a new host
        again = await stack.add_host("sim-1")
        assert again.host_id is not None
        new_key = natsauth.public_key(again.state_dir / natsauth.HOST_SEED)
        assert new_key != old_key
        assert await svc.credential(natsauth.HOST_KEY_PREFIX + again.host_id) == new_key.encode()
        hosts = await stack.wait_hosts(2)
        [back] = [h for h in hosts if h["id"] == again.host_id]
        assert back["state"] == "connected" and back["labels"] == {}
    finally:
        await svc.close()
