"""A LimiQuantix deployment made of real processes, and the handles to hurt it.

``Cluster`` starts a private nats-server and PostgreSQL (``lq.embedded``), then the
controlplane, the projector and one agent per simulated host as separate ``python -m lq.cli``
processes configured only through ``LQ_*`` variables, exactly as an operator runs them.
Each agent reaches NATS through its own ``Proxy`` (a TCP relay in the test's event loop),
so an agent can be cut off from the network without touching the others.

The fault handles: ``Proc.kill`` (SIGKILL), ``Proc.pause``/``resume`` (SIGSTOP/SIGCONT),
``Cluster.kill_nats``/``kill_postgres`` (SIGKILL of the servers, every PostgreSQL process
included, as a machine crash would) and ``Proxy.cut``/``heal`` (a silent partition: bytes
are swallowed, nothing is refused, and on heal the dead connections are reset).

``Api`` is the HTTP client of the suite: the bearer token is added in one place
(``Api.call``), and a ``401`` signs in again once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from agent import simhost
from lq.embedded import NatsServer, Postgres, free_port, start_nats, start_postgres

ADMIN_PASSWORD = "faults-admin-password"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class Timing:
    """The timeouts of the deployment under test (short, so faults outlast them)."""

    heartbeat_interval_s: float = 0.5
    heartbeat_timeout_s: float = 3.0
    order_timeout_s: float = 10.0

    @property
    def task_bound_s(self) -> float:
        """How long any task may stay open before the deadline watcher must end it
        (placement gets twice the order timeout, the watcher waits one heartbeat timeout
        after a controlplane start), plus slack for a restart in between."""
        return 2 * self.order_timeout_s + self.heartbeat_timeout_s + 15.0


class Proc:
    """One ``lq`` process; its output goes to ``<root>/logs/<name>.log``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lq.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def pause(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused and self.alive():
            os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        self.resume()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Proxy:
    """A TCP relay from a local port to NATS that can silently swallow everything."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.is_cut = False
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.is_cut = True

    def heal(self) -> None:
        """End the partition; connections that lived through it are reset (their bytes
        were lost, as on a real network whose peers then notice)."""
        self.is_cut = False
        for t in list(self._transports):
            t.abort()  # type: ignore[attr-defined]
        self._transports.clear()

    async def close(self) -> None:
        self.heal()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._transports.add(writer.transport)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            self._transports.discard(writer.transport)
            return
        self._transports.add(up_w.transport)
        try:
            await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
        finally:
            for w in (writer, up_w):
                w.transport.abort()
                self._transports.discard(w.transport)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            while data := await src.read(65536):
                if self.is_cut:
                    continue  # the partition swallows it
                dst.write(data)
                await dst.drain()
        dst.transport.abort()


@dataclass
class Host:
    name: str
    node_file: Path
    proc: Proc
    proxy: Proxy


@dataclass
class Cluster:
    root: Path
    timing: Timing = field(default_factory=Timing)
    hosts: dict[str, Host] = field(default_factory=dict)
    nats: NatsServer | None = None
    pg: Postgres | None = None
    controlplane: Proc | None = None
    projector: Proc | None = None
    http_port: int = 0

    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self, nats_url: str | None = None) -> dict[str, str]:
        assert self.nats is not None and self.pg is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("LQ_")}
        env.update(
            LQ_NATS_URL=nats_url or self.nats.url,
            LQ_DATABASE_URL=self.pg.url,
            LQ_DATA_DIR=str(self.data_dir),
            LQ_ADMIN_PASSWORD=ADMIN_PASSWORD,
            LQ_HEARTBEAT_INTERVAL_S=str(self.timing.heartbeat_interval_s),
            LQ_HEARTBEAT_TIMEOUT_S=str(self.timing.heartbeat_timeout_s),
            LQ_ORDER_TIMEOUT_S=str(self.timing.order_timeout_s),
            LQ_METRICS_INTERVAL_S="30",
            LQ_PROJECTOR_BATCH="200",
            LQ_LOG_LEVEL="INFO",
        )
        return env

    async def start(self, hosts: list[tuple[int, int]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.nats = await asyncio.to_thread(start_nats, self.root / "nats")
        self.pg = await asyncio.to_thread(start_postgres, self.pgdata)
        self.http_port = free_port()
        logs = self.root / "logs"
        self.controlplane = Proc(
            "controlplane",
            ["controlplane", "--port", str(self.http_port), "--bind", "127.0.0.1"],
            self.env(),
            logs / "controlplane.log",
        )
        self.projector = Proc("projector", ["projector"], self.env(), logs / "projector.log")
        self.controlplane.start()
        self.projector.start()
        for i, (cpus, mem) in enumerate(hosts):
            name = f"sim-{i + 1}"
            uri = simhost.write_node_file(self.root / "hosts", name, cpus=cpus, memory_mib=mem)
            node = simhost.node_file_of(uri)
            assert node is not None
            proxy = Proxy(self.nats.port)
            await proxy.start()
            proc = Proc(
                name,
                ["agent", "--name", name, "--connect", uri],
                self.env(proxy.url),
                logs / f"{name}.log",
            )
            proc.start()
            self.hosts[name] = Host(name, node, proc, proxy)

    def procs(self) -> list[Proc]:
        out = [p for p in (self.controlplane, self.projector) if p is not None]
        return out + [h.proc for h in self.hosts.values()]

    async def close(self) -> None:
        for p in reversed(self.procs()):
            p.resume()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.procs()))
        for h in self.hosts.values():
            await h.proxy.close()
        if self.nats is not None:
            await asyncio.to_thread(self.nats.stop)
        if self.pg is not None:
            await asyncio.to_thread(self.pg.stop)

    # -- server faults --------------------------------------------------------------------

    async def kill_nats(self) -> None:
        assert self.nats is not None
        await asyncio.to_thread(self.nats.kill)

    async def restart_nats(self) -> None:
        assert self.nats is not None
        await asyncio.to_thread(self.nats.restart)

    def postmaster_pid(self) -> int:
        """The postmaster's pid, from the first line of ``postmaster.pid``."""
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    async def kill_postgres(self) -> None:
        """SIGKILL the postmaster and every backend: PostgreSQL's view of a crash."""
        assert self.pg is not None
        master = self.postmaster_pid()
        pids = [master, *_children(master)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(200):  # they are gone within milliseconds
            if not any(_exists(p) for p in pids):
                break
            await asyncio.sleep(0.05)

    async def restart_postgres(self) -> None:
        assert self.pg is not None
        await asyncio.to_thread(self.pg.restart)


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out: list[int] = []
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


def _exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ApiError(Exception):
    pass


class Api:
    """The suite's HTTP client. Every request goes through ``call`` (bearer token here)."""

    def __init__(self, base: str, password: str = ADMIN_PASSWORD, timeout: float = 10.0) -> None:
        self.base = base
        self.password = password
        self.token = ""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self._session.close()

    async def login(self) -> None:
        async with self._session.post(
            self.base + "/api/v1/auth/login", json={"username": "admin", "password": self.password}
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise ApiError(f"login answered {resp.status}: {body}")
            self.token = str(body["access_token"])

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request: ``(status, decoded body)``; transport errors propagate."""
        for attempt in range(2):
            if not self.token:
                await self.login()
            hdrs = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            async with self._session.request(
                method, self.base + path, json=json, data=data, headers=hdrs
            ) as resp:
                text = await resp.text()
                body: Any = text
                if "json" in resp.headers.get("Content-Type", "") and text:
                    body = await resp.json(content_type=None)
                if resp.status == 401 and attempt == 0:
                    self.token = ""  # expired or the signing key changed: sign in again
                    continue
                return resp.status, body
        raise AssertionError("unreachable")

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        if status != 200:
            raise ApiError(f"GET {path} answered {status}: {body}")
        return body

    async def eventually(self, path: str, timeout: float = 60.0) -> Any:
        """GET ``path`` until it answers 200 (the stack may be restarting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.get(path)
            except (aiohttp.ClientError, TimeoutError, ApiError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def wait_ready(cluster: Cluster, api: Api, timeout: float = 90.0) -> None:
    """Until the API is ready and every host is connected."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            status, body = await api.call("GET", "/ready")
            last = body
            if status == 200 and body["checks"].get("hosts_connected", 0) >= len(cluster.hosts):
                return
        except (aiohttp.ClientError, TimeoutError, ApiError) as exc:
            last = repr(exc)
        await asyncio.sleep(0.2)
    raise AssertionError(f"stack not ready in {timeout}s: {last}")
