"""Fixtures for the dashboard's end-to-end tests: a real stack and headless Chromium.

``stack`` runs ``lq up`` (NATS, PostgreSQL, controlplane, projector and two simulated
hosts) as a subprocess on a free port and waits for its "ready" URL line; the built
dashboard (``ui/dist``) is served by that stack at ``/``. ``page`` is a fresh Chromium tab
(Debian's ``/usr/bin/chromium``; no browser is downloaded).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI_DIST = ROOT / "ui" / "dist"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("LQ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    url: str  # "http://127.0.0.1:PORT" without the trailing slash
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the HTTP API like any outside client; returns the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                text = res.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            exc.close()
            raise AssertionError(f"{method} {path} -> {exc.code}: {detail}") from None
        return json.loads(text) if text else None

    def create_vm(self, name: str, *, start: bool = True) -> dict[str, Any]:
        res: dict[str, Any] = self.api(
            "POST", "/vms", {"name": name, "vcpus": 1, "memory_mib": 512, "start": start}
        )
        return res

    def wait_vm_state(
        self, vm_id: str, state: str, timeout: float = 20.0, min_seq: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        vm: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                vm = self.api("GET", f"/vms/{vm_id}?min_seq={min_seq}")
            except AssertionError:  # not projected yet
                time.sleep(0.2)
                continue
            if vm.get("state") == state:
                return vm
            time.sleep(0.2)
        raise AssertionError(f"VM {vm_id} stayed {vm.get('state')!r}, wanted {state!r}")


def _pump(
    proc: subprocess.Popen[str], sink: list[str], ready: threading.Event, needle: str
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))
        if needle in line:
            ready.set()
    ready.set()  # process ended: wake the waiter, which then sees the exit code


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # In CI (and through ./dev.sh test, which builds both) a missing piece is a failure,
    # not a silent skip.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not (UI_DIST / "index.html").exists():
        missing("the dashboard is not built: run `npm ci && npm run build` in ui/")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM}")
    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="lq-e2e-"))
    needle = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(
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
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    ready = threading.Event()
    pump = threading.Thread(target=_pump, args=(proc, output, ready, needle), daemon=True)
    pump.start()
    try:
        if not ready.wait(READY_TIMEOUT_S) or proc.poll() is not None:
            tail = "\n".join(output[-40:])
            pytest.fail(f"`lq up` did not print {needle} within {READY_TIMEOUT_S:.0f} s:\n{tail}")
        s = Stack(url=f"http://127.0.0.1:{port}", proc=proc, output=output)
        _wait_hosts(s, 2)
        yield s
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        pump.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_hosts(s: Stack, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hosts = s.api("GET", "/hosts?state=connected")
        if hosts["total"] >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"fewer than {n} hosts connected after {timeout:.0f} s")


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    # Module scope on purpose: Playwright's sync API keeps an event loop running in this
    # thread while it is active, which would break every asyncio test collected after it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh tab at 1440x900 with the base URL set; page errors fail the test."""
    ctx = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
