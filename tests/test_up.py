"""``lq up`` as a user runs it: a real process tree, driven over HTTP, stopped by signal.

It must print the dashboard URL once ready, serve the API, run simulated hosts, stop
cleanly on SIGINT, and resume with the earlier state when run again: the events, the
hosts, and the domains on those simulated hosts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lq.embedded import free_port

pytestmark = pytest.mark.timeout(240)


TOKEN: dict[str, str] = {}
"""The bearer token of the signed-in admin (set by ``_login``)."""


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if TOKEN.get("access"):
        headers["Authorization"] = f"Bearer {TOKEN['access']}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


class Up:
    def __init__(self, data_dir: Path, port: int, hosts: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LQ_")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lq.cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--hosts",
                str(hosts),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self.base = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 120) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"lq up exited with {self.proc.returncode}")
            if "ready" in line and self.base in line:
                return line
        raise AssertionError("lq up did not become ready")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if self.proc.stdout:
                self.proc.stdout.close()


def _wait_state(base: str, vm_id: str, state: str, min_seq: int = 0) -> dict[str, Any]:
    for _ in range(200):
        status, vm = _call("GET", f"{base}/api/v1/vms/{vm_id}?min_seq={min_seq}")
        if status == 200 and vm["state"] == state:
            return dict(vm)
        time.sleep(0.1)
    raise AssertionError(f"vm {vm_id} never became {state}: {vm}")


def _login(base: str, data_dir: Path) -> None:
    """Sign in as admin with the password ``lq up`` generated on first start (mode 0600)."""
    path = data_dir / "admin-password"
    assert path.stat().st_mode & 0o777 == 0o600
    TOKEN.clear()
    status, body = _call(
        "POST",
        f"{base}/api/v1/auth/login",
        {"username": "admin", "password": path.read_text().strip()},
    )
    assert status == 200, body
    TOKEN["access"] = body["access_token"]


def test_up_runs_resumes_and_stops(tmp_path: Path) -> None:
    port = free_port()
    up = Up(tmp_path / "lq", port, hosts=3)
    try:
        line = up.wait_ready()
        assert f"http://127.0.0.1:{port}/" in line
        TOKEN.clear()
        assert _call("GET", f"{up.base}/api/v1/hosts")[0] == 401
        _login(up.base, tmp_path / "lq")
        status, hosts = _call("GET", f"{up.base}/api/v1/hosts")
        assert status == 200 and len(hosts["items"]) == 3
        assert len({(h["cpus"], h["memory_mib"]) for h in hosts["items"]}) == 3
        status, accepted = _call(
            "POST",
            f"{up.base}/api/v1/vms",
            {"name": "web-1", "vcpus": 2, "memory_mib": 1024, "start": True},
        )
        assert status == 202
        vm = _wait_state(up.base, accepted["vm_id"], "running", accepted["seq"])
    except BaseException:
        up.stop()
        raise
    assert up.stop() == 0
    assert (tmp_path / "lq" / "endpoints.json").is_file()

    again = Up(tmp_path / "lq", port, hosts=3)
    try:
        again.wait_ready()
        _login(again.base, tmp_path / "lq")  # the same admin password after a restart
        status, hosts = _call("GET", f"{again.base}/api/v1/hosts")
        assert len(hosts["items"]) == 3, "hosts re-enrol under their old identity"
        status, same = _call("GET", f"{again.base}/api/v1/vms/{vm['id']}")
        assert status == 200 and same["name"] == "web-1" and same["host_id"] == vm["host_id"]
        status, history = _call("GET", f"{again.base}/api/v1/vms/{vm['id']}/events")
        assert "vm.started" in [e["type"] for e in history["items"]]

        # the simulated host kept its domain: still running there, and it obeys orders
        # (a host that came back empty would fail them, and the VM would be in error)
        running = _wait_state(again.base, vm["id"], "running")
        assert running["host_id"] == vm["host_id"]
        for action, state in (("stop", "stopped"), ("start", "running")):
            status, accepted = _call("POST", f"{again.base}/api/v1/vms/{vm['id']}/actions/{action}")
            assert status == 202, accepted
            _wait_state(again.base, vm["id"], state, accepted["seq"])
        status, history = _call("GET", f"{again.base}/api/v1/vms/{vm['id']}/events?limit=500")
        assert "missing on its host" not in json.dumps(history)
    finally:
        assert again.stop() == 0
