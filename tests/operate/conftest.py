"""Real ``lq`` processes for the operations tests: controlplane replicas and projectors.

The replicas are the CLI the operators run (``lq controlplane``, ``lq projector``), as
subprocesses against one nats-server and one PostgreSQL database, so that a test can
SIGKILL one of them. Agents on libvirt's test driver run in the test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent import simhost
from agent.service import Agent
from events import settings as settings_mod
from events.settings import Settings
from lq.embedded import free_port
from tests.integration.conftest import make_stack  # the in-process stack, for client tests

__all__ = ["make_stack"]

LQ = str(Path(sys.executable).parent / "lq")
ADMIN_PASSWORD = "operate-admin-pw"
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Proc:
    """One ``lq`` subprocess; ``port`` is its HTTP port (controlplanes only)."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return int(self.proc.returncode)


@dataclass
class Deployment:
    """Shared environment of the processes of one test (one NATS, one database)."""

    env: dict[str, str]
    root: Path
    procs: list[Proc] = field(default_factory=list)
    agents: list[tuple[Agent, asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    def spawn(self, *args: str, port: int = 0, **extra_env: str) -> Proc:
        env = {**os.environ, **self.env, **extra_env}
        log = self.root / f"{args[0]}-{len(self.procs)}.log"
        with open(log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([LQ, *args], env=env, stdout=out, stderr=out)
        p = Proc(proc=proc, log=log, port=port)
        self.procs.append(p)
        return p

    def controlplane(self, port: int = 0) -> Proc:
        port = port or free_port()
        return self.spawn("controlplane", "--port", str(port), port=port)

    @property
    def settings(self) -> Settings:
        values: dict[str, Any] = {
            k[3:].lower(): v for k, v in self.env.items() if k.startswith("LQ_")
        }
        return settings_mod.load(values, env={})

    async def add_agent(self, name: str) -> Agent:
        uri = simhost.write_node_file(self.root / "hosts", name, cpus=8, memory_mib=8192)
        s = settings_mod.load({**_plain(self.settings), "agent_name": name}, env={})
        agent = Agent(s, hypervisor_uri=uri)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop), name=f"agent-{name}")
        self.agents.append((agent, stop, task))
        await asyncio.wait_for(agent.ready.wait(), 30)
        return agent


def _plain(s: Settings) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.structs.asdict(s)
    return out


@pytest.fixture
async def deployment(nats_url: str, pg_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    env = {
        "LQ_NATS_URL": nats_url,
        "LQ_DATABASE_URL": pg_url,
        "LQ_DATA_DIR": str(tmp_path / "data"),
        "LQ_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "LQ_LEADER_TTL_S": "3",
        "LQ_HEARTBEAT_INTERVAL_S": "0.5",
        "LQ_HEARTBEAT_TIMEOUT_S": "3",
        "LQ_ORDER_TIMEOUT_S": "15",
        "LQ_METRICS_INTERVAL_S": "0",
    }
    d = Deployment(env=env, root=tmp_path)
    try:
        yield d
    finally:
        for _, stop, _ in d.agents:
            stop.set()
        for _, _, task in d.agents:
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        for p in d.procs:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in d.procs:
            try:
                p.proc.wait(15)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


class Client:
    """A small async HTTP client for one replica, signed in as admin."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, **kw) as resp:
            text = await resp.text()
            body = await resp.json(content_type=None) if text else None
            return resp.status, body

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    async def command(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        status, body = await self.call(method, path, **kw)
        assert status == 202, (path, status, body)
        return dict(body)

    async def wait_task(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                status, body = await self.call("GET", f"/api/v1/tasks/{task_id}")
                if status == 200 and body["state"] in TERMINAL:
                    return dict(body)
                await asyncio.sleep(0.1)


async def wait_ready_checks(base: str, timeout: float = 60.0) -> dict[str, Any]:
    """``/ready``'s checks once the replica answers (ready or not: the checks are there)."""
    async with asyncio.timeout(timeout), aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(base + "/ready") as resp:
                    body = await resp.json(content_type=None)
                    if body.get("checks", {}).get("stream_seq") is not None:
                        return dict(body["checks"])
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.2)


async def login(base: str) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            base + "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ) as resp,
    ):
        body = await resp.json(content_type=None)
        assert resp.status == 200, body
        return str(body["access_token"])
