"""``lq up``: the whole LimiQuantix system on one machine, in one terminal.

Starts a private nats-server with JetStream and a private PostgreSQL (or uses
``LQ_DATABASE_URL``), writes their endpoints to ``<data dir>/endpoints.json`` so other
``lq`` commands find them, then runs the controlplane, the projector and N simulated hosts
(agents on libvirt's test driver, each with its own node file and capacity) as child
processes, restarting any that die. It prints the dashboard URL once the API is ready and
every host has enrolled. SIGINT/SIGTERM stop everything; running it again resumes from
the stored events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

from agent import simhost
from events import natsauth
from events.settings import Settings, endpoints_file
from lq.embedded import EmbeddedError, NatsServer, Postgres, free_port, start_nats, start_postgres

log = logging.getLogger(__name__)

# Distinct simulated hardware, cycled over the hosts: (vCPU threads, memory MiB).
SIM_SHAPES = [(32, 65536), (16, 32768), (24, 49152), (8, 16384)]


class Child:
    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, env=self.env)

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)


def _lq(*args: str) -> list[str]:
    return [sys.executable, "-m", "lq.cli", *args]


def _ready(http: str, hosts: int) -> bool:
    """The API is ready and ``hosts`` hosts are connected (``/ready`` needs no credentials)."""
    try:
        with urllib.request.urlopen(http + "/ready", timeout=2.0) as resp:
            if resp.status != 200:
                return False
            checks = json.loads(resp.read()).get("checks", {})
    except Exception:
        return False
    return int(checks.get("hosts_connected", 0)) >= hosts


def _start_nats(data: Path, sync_always: bool, authorization: bool = False) -> NatsServer:
    previous = data / "nats" / "port"
    port = 0
    if previous.is_file():
        with contextlib.suppress(ValueError):
            port = int(previous.read_text())
    try:
        srv = start_nats(data / "nats", port, sync_always=sync_always, authorization=authorization)
    except EmbeddedError:
        srv = start_nats(
            data / "nats", free_port(), sync_always=sync_always, authorization=authorization
        )
    previous.write_text(str(srv.port))
    return srv


def run(settings: Settings, hosts: int) -> int:
    data = settings.data_path
    data.mkdir(parents=True, exist_ok=True)
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    # authorization on unless turned off: service and join keys in the data dir, one
    # user per host added by the controlplane at enrolment (docs/security.md)
    auth = settings.nats_auth != natsauth.OFF
    if auth:
        natsauth.bootstrap(msgspec.structs.replace(settings, nats_auth=natsauth.EMBEDDED))
    nats = _start_nats(data, settings.events_sync_always, auth)
    pg: Postgres | None = None
    children: list[Child] = []
    try:
        external_db = os.environ.get("LQ_DATABASE_URL", "")
        pg = Postgres(url=external_db) if external_db else start_postgres(data / "pg")
        http = f"http://{settings.http_host}:{settings.http_port}"
        endpoints_file(data).write_text(
            json.dumps({"nats_url": nats.url, "database_url": pg.url, "http_url": http}, indent=2)
        )
        env = {
            **os.environ,
            "LQ_NATS_URL": nats.url,
            "LQ_DATABASE_URL": pg.url,
            "LQ_DATA_DIR": str(data),
            "LQ_NATS_AUTH": natsauth.EMBEDDED if auth else natsauth.OFF,
        }
        dd = ["--data-dir", str(data)]
        children.append(
            Child(
                "controlplane",
                _lq(
                    "controlplane",
                    *dd,
                    "--port",
                    str(settings.http_port),
                    "--bind",
                    settings.http_host,
                ),
                env,
            )
        )
        children.append(Child("projector", _lq("projector", *dd), env))
        for i in range(hosts):
            name = f"sim-{i + 1}"
            cpus, mem = SIM_SHAPES[i % len(SIM_SHAPES)]
            uri = simhost.write_node_file(data / "hosts", name, cpus=cpus, memory_mib=mem)
            children.append(Child(name, _lq("agent", *dd, "--name", name, "--connect", uri), env))
        for c in children:
            c.start()
        announced = False
        started = time.monotonic()
        while not stopping:
            now = time.monotonic()
            for c in children:
                code = c.poll()
                if code is None:
                    continue
                if c.next_start == 0.0:
                    c.restarts += 1
                    c.next_start = now + min(30.0, 0.5 * 2 ** min(c.restarts, 6))
                    log.warning("%s exited with code %s; restarting", c.name, code)
                elif now >= c.next_start:
                    c.next_start = 0.0
                    c.start()
            if not announced and _ready(http, hosts):
                announced = True
                print(f"LimiQuantix is ready: {http}/  (data in {data}; Ctrl-C stops)", flush=True)
                if (data / "admin-password").is_file():
                    print(
                        f"Sign in as admin with the password in {data / 'admin-password'}",
                        flush=True,
                    )
            elif not announced and now - started > 120:
                log.warning("still waiting for the API and %d hosts at %s", hosts, http)
                started = now
            time.sleep(0.25)
        return 0
    finally:
        for c in reversed(children):
            c.stop()
        deadline = time.monotonic() + 15
        for c in children:
            if c.proc is not None:
                try:
                    c.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    c.proc.kill()
                    c.proc.wait()
        nats.stop()
        if pg is not None:
            pg.stop()
        print("LimiQuantix stopped.", flush=True)
