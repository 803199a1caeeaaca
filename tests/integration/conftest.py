"""A whole LimiQuantix stack in the test's event loop, on real servers.

The controlplane serves real HTTP on a free port; the projector and one agent per
simulated host run as tasks. Each host has its own libvirt test-driver node file (its own
private hypervisor with its own capacity), so a test can check libvirt's truth through
that host's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from agent import simhost
from agent.service import Agent
from events import settings as settings_mod
from events.settings import Settings
from lq.embedded import free_port
from lq.web import build_app
from projections import metrics_runner, runner

TERMINAL = {"succeeded", "failed", "cancelled"}
ADMIN_PASSWORD = "integration-admin-pw"


@dataclass
class Stack:
    settings: Settings
    http: aiohttp.ClientSession
    base: str
    agents: dict[str, Agent] = field(default_factory=dict)
    agent_stops: dict[str, asyncio.Event] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    hosts_dir: Path = Path()
    token: str = ""

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Sign in (tests of authentication use this; ``make_stack`` signs in as admin)."""
        async with (
            aiohttp.ClientSession() as anon,
            anon.post(
                self.base + "/api/v1/auth/login", json={"username": username, "password": password}
            ) as resp,
        ):
            body = await resp.json(content_type=None)
            assert resp.status == 200, (resp.status, body)
            return dict(body)

    async def settle_login(self) -> None:
        """Wait until the sign-in's session event is in the read model and the controlplane's
        stream position, so tests that compare ``/ready`` positions start from rest."""
        sid = jwt.decode(self.token, options={"verify_signature": False})["sid"]
        for _ in range(200):
            found = await self.get(f"/api/v1/events?kind=session&aggregate_id={sid}")
            if found["items"]:
                seq = found["items"][-1]["seq"]
                if (await self.get("/ready"))["checks"]["stream_seq"] >= seq:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the admin's sign-in never reached the read model")

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any, str]:
        async with self.http.request(method, self.base + path, **kw) as resp:
            text = await resp.text()
            ctype = resp.headers.get("Content-Type", "")
            body = await resp.json(content_type=None) if "json" in ctype and text else text
            return resp.status, body, ctype

    async def get(self, path: str) -> Any:
        status, body, _ = await self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    async def command(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        status, body, _ = await self.request(method, path, **kw)
        assert status == 202, (path, status, body)
        assert isinstance(body, dict)
        return body

    async def wait_task(self, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Follow a task until it ends (the read model is polled; tests only)."""
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while asyncio.get_running_loop().time() < deadline:
            status, body, _ = await self.request("GET", f"/api/v1/tasks/{task_id}")
            if status == 200:
                last = body
                if body["state"] in TERMINAL:
                    return dict(body)
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {task_id} did not end in {timeout}s: {last}")

    async def add_host(self, name: str, cpus: int = 8, memory_mib: int = 8192) -> Agent:
        uri = simhost.write_node_file(self.hosts_dir, name, cpus=cpus, memory_mib=memory_mib)
        agent_settings = settings_mod.load({**_plain(self.settings), "agent_name": name})
        agent = Agent(agent_settings, hypervisor_uri=uri)
        stop = asyncio.Event()
        self.agents[name] = agent
        self.agent_stops[name] = stop
        self.tasks.append(asyncio.create_task(agent.run(stop), name=f"agent-{name}"))
        await asyncio.wait_for(agent.ready.wait(), 20)
        return agent

    async def stop_host(self, name: str) -> None:
        self.agent_stops[name].set()

    async def host_id(self, name: str) -> str:
        agent = self.agents[name]
        assert agent.host_id is not None
        return agent.host_id

    async def wait_hosts(self, count: int, state: str = "connected") -> list[dict[str, Any]]:
        for _ in range(400):
            items = (await self.get("/api/v1/hosts"))["items"]
            if sum(1 for h in items if h["state"] == state) >= count:
                return list(items)
            await asyncio.sleep(0.05)
        raise AssertionError(f"fewer than {count} hosts {state}")


def _plain(s: Settings) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.structs.asdict(s)
    return out


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(nats_url: str, pg_url: str, tmp_path: Path) -> AsyncIterator[StackFactory]:
    stacks: list[tuple[Stack, web.AppRunner, asyncio.Event]] = []

    async def make(
        hosts: list[tuple[int, int]] | None = None, *, sign_in: bool = True, **overrides: Any
    ) -> Stack:
        """Start a stack; ``sign_in=False`` leaves its HTTP client anonymous (tests of short
        token lifetimes sign in themselves, an admin token of theirs could expire mid-setup)."""
        port = free_port()
        settings = settings_mod.load(
            {
                "data_dir": str(tmp_path / "data"),
                "nats_url": nats_url,
                "database_url": pg_url,
                "http_port": port,
                "heartbeat_interval_s": 0.5,
                "heartbeat_timeout_s": 4.0,
                "order_timeout_s": 15.0,
                "admin_password": ADMIN_PASSWORD,
                **overrides,
            },
            env={},
        )
        runner_ = web.AppRunner(build_app(settings), handle_signals=False, access_log=None)
        await runner_.setup()
        await web.TCPSite(runner_, settings.http_host, port).start()
        stop = asyncio.Event()
        stack = Stack(
            settings=settings,
            http=aiohttp.ClientSession(),
            base=f"http://{settings.http_host}:{port}",
            hosts_dir=tmp_path / "hosts",
        )
        stack.tasks.append(asyncio.create_task(runner.run(settings, stop), name="projector"))
        stack.tasks.append(
            asyncio.create_task(metrics_runner.run(settings, stop), name="metrics-projector")
        )
        stacks.append((stack, runner_, stop))
        if sign_in:
            # every request of the stack carries the admin's bearer token
            stack.token = (await stack.login("admin", settings.admin_password))["access_token"]
            await stack.http.close()
            stack.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {stack.token}"})
            await stack.settle_login()
        for i, (cpus, mem) in enumerate(hosts or []):
            await stack.add_host(f"sim-{i + 1}", cpus, mem)
        if hosts:
            await stack.wait_hosts(len(hosts))
        return stack

    yield make

    for stack, runner_, stop in stacks:
        stop.set()
        for ev in stack.agent_stops.values():
            ev.set()
        for t in stack.tasks:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(t, 10)
        await stack.http.close()
        await runner_.cleanup()
